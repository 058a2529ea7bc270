package tokenizer

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hone-ai/hone/model/fixtures"
	"github.com/hone-ai/hone/model/gguf"
)

// readVocabCases reads llama.cpp's test-tokenizer-0 inputs and expected ids:
// the .inp file holds the cases separated by "\n__ggml_vocab_test__\n" (the
// file ends with one), the .out file one line of ids per case.
func readVocabCases(t *testing.T, inp, out string) (texts []string, want [][]int) {
	t.Helper()
	bi, err := os.ReadFile(inp)
	if err != nil {
		t.Fatal(err)
	}
	bo, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	const sep = "\n__ggml_vocab_test__\n"
	s := string(bi)
	for len(s) > 0 {
		i := strings.Index(s, sep)
		if i < 0 {
			texts = append(texts, s)
			break
		}
		texts = append(texts, s[:i])
		s = s[i+len(sep):]
	}
	lines := strings.Split(strings.TrimSuffix(string(bo), "\n"), "\n")
	for _, l := range lines {
		var ids []int
		for _, f := range strings.Fields(l) {
			id, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("%s: bad id %q", out, f)
			}
			ids = append(ids, id)
		}
		want = append(want, ids)
	}
	if len(texts) != len(want) {
		t.Fatalf("%s has %d cases, %s %d lines", inp, len(texts), out, len(want))
	}
	return texts, want
}

// ggufCache keeps the fixture tokenizers loaded once per test binary.
var ggufCache sync.Map

func loadGGUFTokenizer(t testing.TB, name string) *Tokenizer {
	t.Helper()
	p := fixtures.Path(t, "vocab", "ggml-vocab-"+name+".gguf")
	if tok, ok := ggufCache.Load(p); ok {
		return tok.(*Tokenizer)
	}
	f, err := gguf.Open(p)
	if err != nil {
		t.Fatalf("open %s: %v", p, err)
	}
	defer f.Close()
	v, err := FromGGUF(f)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	tok, err := New(v)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	ggufCache.Store(p, tok)
	return tok
}

func equalIDs(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestVocabFixtures is acceptance point 2: Encode of every .inp case must
// equal llama.cpp's .out line. Vocabularies marked required fail hard; the
// others report how many cases pass.
func TestVocabFixtures(t *testing.T) {
	for _, tc := range []struct {
		name     string
		required bool
	}{
		{"llama-spm", true}, {"phi-3", true}, {"gpt-2", true},
		{"falcon", true}, {"mpt", true}, {"starcoder", true}, {"refact", true},
		{"deepseek-llm", true}, {"deepseek-coder", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := loadGGUFTokenizer(t, tc.name)
			base := fixtures.Path(t, "vocab", "ggml-vocab-"+tc.name+".gguf")
			texts, want := readVocabCases(t, base+".inp", base+".out")
			pass := 0
			for i, text := range texts {
				got := tok.Encode(text)
				if equalIDs(got, want[i]) {
					pass++
					continue
				}
				msg := "case %d %q:\n got  %v\n want %v"
				if tc.required {
					t.Errorf(msg, i, text, got, want[i])
				} else {
					t.Logf(msg, i, text, got, want[i])
				}
			}
			t.Logf("%s: %d/%d cases pass", tc.name, pass, len(texts))
		})
	}
}

func TestBertRefused(t *testing.T) {
	p := fixtures.Path(t, "vocab", "ggml-vocab-bert-bge.gguf")
	f, err := gguf.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = FromGGUF(f)
	if err == nil || !strings.Contains(err.Error(), `"bert"`) {
		t.Fatalf("FromGGUF(bert-bge) error = %v, want one naming model \"bert\"", err)
	}
}
