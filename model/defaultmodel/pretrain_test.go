package defaultmodel

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/hone-ai/hone/model"
	"github.com/hone-ai/hone/model/defaultmodel/corpus"
	"github.com/hone-ai/hone/model/tokenizer"
)

func tinySettings() Settings {
	s, _ := DefaultSettings()
	s.Examples, s.VocabSize = 400, 400
	s.Dim, s.HiddenDim, s.Layers, s.Heads, s.KVHeads = 32, 64, 1, 4, 2
	s.Steps, s.Batch, s.Warmup = 30, 8, 3
	return s
}

func TestDefaultSettingsParse(t *testing.T) {
	s, err := DefaultSettings()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Config(s.VocabSize).Validate(); err != nil {
		t.Fatalf("committed settings give an invalid model: %v", err)
	}
	if _, err := s.WeightType(); err != nil {
		t.Fatal(err)
	}
}

func TestVocabRoundTrip(t *testing.T) {
	s := tinySettings()
	g, _ := corpus.New(corpus.Options{Seed: 1, N: s.Examples})
	v, err := BuildVocab(context.Background(), s, g.Generate())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.New(v)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"안녕하세요! 무엇을 도와드릴까요?", "What is 23 + 45?", "emoji 🙂 and tabs\t"} {
		if got := tok.Decode(tok.Encode(text)); got != text {
			t.Errorf("round trip %q -> %q", text, got)
		}
	}
	ids := tok.EncodeSpecial("<|im_start|>user\nhi<|im_end|>")
	if ids[0] != 257 || ids[len(ids)-1] != 258 {
		t.Errorf("specials not parsed: %v", ids)
	}
	if d := tok.Encode("12345"); len(d) != 5 {
		t.Errorf("digits should be single tokens (pre %s): %v", s.Pre, d)
	}
}

func TestPretrainTinyLoadsAndChats(t *testing.T) {
	s := tinySettings()
	out := filepath.Join(t.TempDir(), "tiny.gguf")
	var losses []float32
	err := Pretrain(context.Background(), s, Options{Out: out, Progress: func(p Progress) {
		if p.Stage == "train" {
			losses = append(losses, p.Loss)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(losses) != s.Steps || !(losses[len(losses)-1] < losses[0]) {
		t.Fatalf("loss did not fall: first %v last %v", losses[0], losses[len(losses)-1])
	}
	m, err := model.Load(out, model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Template.Name() != "chatml" {
		t.Errorf("template %q, want chatml", m.Template.Name())
	}
	r, err := Reply(context.Background(), m, "안녕하세요", 16)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("reply after %d steps: %q", s.Steps, r)
}
