package corpus

import (
	"reflect"
	"strings"
	"testing"
	"unicode"

	"github.com/hone-ai/hone/model/fixtures"
)

func TestDeterministic(t *testing.T) {
	gen := func() []Example {
		g, err := New(Options{Seed: 7, N: 200})
		if err != nil {
			t.Fatal(err)
		}
		return g.Generate()
	}
	a, b := gen(), gen()
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed gave different corpora")
	}
	g, _ := New(Options{Seed: 8, N: 200})
	if reflect.DeepEqual(a, g.Generate()) {
		t.Fatal("different seeds gave the same corpus")
	}
}

func hangul(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Hangul, r) {
			return true
		}
	}
	return false
}

func TestLanguageAndAnswers(t *testing.T) {
	g, err := New(Options{Seed: 1, N: 2000})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, ex := range g.Generate() {
		kinds[ex.Kind]++
		user, reply := ex.Messages[len(ex.Messages)-2], ex.Messages[len(ex.Messages)-1]
		if user.Role != "user" || reply.Role != "assistant" {
			t.Fatalf("roles: %+v", ex.Messages)
		}
		if ex.Kind != "instruct" && hangul(reply.Content) != (ex.Lang == "ko") {
			t.Errorf("%s example in %s has a reply in the other language: %q", ex.Kind, ex.Lang, reply.Content)
		}
		if ex.Kind == "add" && !strings.Contains(reply.Content, ex.Check) {
			t.Errorf("sum %s missing from %q", ex.Check, reply.Content)
		}
		if strings.Contains(user.Content, "/") {
			t.Errorf("unresolved particle in %q", user.Content)
		}
	}
	for _, k := range []string{"greeting", "define", "add", "instruct", "hone", "unknown"} {
		if kinds[k] == 0 {
			t.Errorf("no %s examples", k)
		}
	}
}

func TestSplitDisjoint(t *testing.T) {
	tr, _ := New(Options{Seed: 1, N: 3000})
	ev, _ := New(Options{Seed: 2, N: 300, Split: "eval"})
	seen := map[string]bool{}
	for _, ex := range tr.Generate() {
		if ex.Kind == "add" || ex.Kind == "define" {
			seen[ex.Messages[len(ex.Messages)-2].Content] = true
		}
	}
	for _, ex := range ev.Generate() {
		if ex.Kind == "add" || ex.Kind == "define" {
			if q := ex.Messages[len(ex.Messages)-2].Content; seen[q] {
				t.Errorf("held-out prompt %q also in training data", q)
			}
		}
	}
}

func TestChatbotData(t *testing.T) {
	p := fixtures.Path(t, "corpus", "ChatbotData.csv")
	g, err := New(Options{Seed: 3, N: 500, ChatbotData: p})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ex := range g.Generate() {
		if ex.Kind == "daily" {
			n++
		}
	}
	if n == 0 {
		t.Fatal("ChatbotData given but no daily examples")
	}
}

func TestKoParticles(t *testing.T) {
	for in, want := range map[string]string{
		"토큰화이/가 뭐예요?":      "토큰화가 뭐예요?",
		"임베딩이/가 뭐예요?":      "임베딩이 뭐예요?",
		"LoRA을/를 알려 주세요.":  "LoRA를 알려 주세요.",
		"RLHF은/는 무슨 뜻이에요?": "RLHF는 무슨 뜻이에요?",
	} {
		if got := koParticles(in); got != want {
			t.Errorf("koParticles(%q) = %q, want %q", in, got, want)
		}
	}
}
