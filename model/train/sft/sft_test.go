package sft

import (
	"strings"
	"testing"

	"github.com/hone-ai/hone/model"
	"github.com/hone-ai/hone/model/fixtures"
	"github.com/hone-ai/hone/model/template"
)

func TestReadJSONL(t *testing.T) {
	in := strings.Join([]string{
		`{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}`,
		``,
		`{"prompt":[{"role":"user","content":"q"}],"completion":[{"role":"assistant","content":"a"}]}`,
		`{"prompt":[{"role":"user","content":"q"}],"completion":[{"role":"assistant","content":"bad"}],"label":false}`,
		`{"prompt":"Once","completion":" upon a time"}`,
		`{"prompt":[{"role":"user","content":"q"}],"chosen":[{"role":"assistant","content":"good"}],"rejected":[{"role":"assistant","content":"bad"}]}`,
		`{"text":"just text"}`,
	}, "\n")
	exs, err := ReadJSONL(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Example{
		{Messages: []template.Message{{Role: "user", Content: "hi"}, {Role: "assistant", Content: "hello"}}},
		{Messages: []template.Message{{Role: "user", Content: "q"}, {Role: "assistant", Content: "a"}}},
		{Prompt: "Once", Completion: " upon a time"},
		{Messages: []template.Message{{Role: "user", Content: "q"}, {Role: "assistant", Content: "good"}}},
		{Completion: "just text"},
	}
	if len(exs) != len(want) {
		t.Fatalf("%d examples, want %d: %+v", len(exs), len(want), exs)
	}
	for i := range want {
		if len(exs[i].Messages) != len(want[i].Messages) || exs[i].Prompt != want[i].Prompt || exs[i].Completion != want[i].Completion {
			t.Errorf("example %d: %+v, want %+v", i, exs[i], want[i])
		}
		for j := range want[i].Messages {
			if exs[i].Messages[j] != want[i].Messages[j] {
				t.Errorf("example %d message %d: %+v, want %+v", i, j, exs[i].Messages[j], want[i].Messages[j])
			}
		}
	}
	for _, bad := range []string{`{"messages":[{"role":"robot","content":"x"}]}`, `{"foo":1}`, `not json`} {
		if _, err := ReadJSONL(strings.NewReader("\n" + bad)); err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("ReadJSONL(%s): error %v, want one naming line 2", bad, err)
		}
	}
}

func TestEncodeMasksAssistantTokens(t *testing.T) {
	bin := fixtures.Path(t, "stories260k", "stories260K.bin")
	m, err := model.Load(bin, model.LoadOptions{Tokenizer: fixtures.Path(t, "stories260k", "tok512.bin")})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ex := Example{Messages: []template.Message{
		{Role: "user", Content: "Tell me a story."},
		{Role: "assistant", Content: "Once upon a time there was a cat."},
		{Role: "user", Content: "More."},
		{Role: "assistant", Content: "The cat was happy."},
	}}
	ids, mask := Encode(ex, m.Tok, template.Plain())
	if len(ids) != len(mask) || len(ids) == 0 {
		t.Fatalf("%d ids, %d mask values", len(ids), len(mask))
	}
	var learned []int
	for i, id := range ids {
		if mask[i] && id != m.Tok.EOS() {
			learned = append(learned, id)
		}
	}
	got := m.Tok.Decode(learned)
	for _, want := range []string{"Once upon a time there was a cat.", "The cat was happy."} {
		if !strings.Contains(got, want) {
			t.Errorf("learned text %q lacks the assistant's %q", got, want)
		}
	}
	for _, not := range []string{"Tell me", "More", "User"} {
		if strings.Contains(got, not) {
			t.Errorf("learned text %q contains the prompt's %q", got, not)
		}
	}
	if ids[len(ids)-1] != m.Tok.EOS() || !mask[len(mask)-1] {
		t.Error("sequence does not end with a learned EOS")
	}
	raw := Example{Prompt: "Once", Completion: " upon a time"}
	ids, mask = Encode(raw, m.Tok, nil)
	if len(ids) != len(mask) {
		t.Fatalf("raw example: %d ids, %d mask entries", len(ids), len(mask))
	}
	if mask[0] || mask[1] || !mask[len(mask)-1] {
		t.Errorf("raw prompt/completion mask %v", mask)
	}
}
