package model

import (
	"fmt"
	"github.com/hone-ai/hone/model/fixtures"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hone-ai/hone/model/ggml"
	"github.com/hone-ai/hone/model/gguf"
	"github.com/hone-ai/hone/model/tokenizer"
)

// tinyVocab is a SentencePiece-style vocabulary of n tokens.
func tinyVocab(n int) *tokenizer.Vocab {
	v := &tokenizer.Vocab{Model: "llama", BOS: 1, EOS: 2, UNK: 0, PAD: -1, AddBOS: true, AddSpacePrefix: true}
	for i := 0; i < n; i++ {
		tok, typ := fmt.Sprintf("▁w%d", i), int32(1)
		switch i {
		case 0:
			tok, typ = "<unk>", 2
		case 1:
			tok, typ = "<s>", 3
		case 2:
			tok, typ = "</s>", 3
		}
		v.Tokens = append(v.Tokens, tok)
		v.Scores = append(v.Scores, float32(-i))
		v.Types = append(v.Types, typ)
	}
	return v
}

// tinyGGUF writes a valid random tiny model and returns its path.
func tinyGGUF(t *testing.T) string {
	t.Helper()
	m, err := NewRandom(tinyCfg, ggml.F32, 11)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetVocab(tinyVocab(tinyCfg.VocabSize)); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := m.SaveGGUF(p, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return p
}

// rewrite copies the GGUF at src to a new file, letting kv and tensor
// hooks change, drop (return false) or keep each entry.
func rewrite(t *testing.T, src string, kv func(k *gguf.KV) bool, tensor func(ti *gguf.TensorInfo, data *[]byte) bool) string {
	t.Helper()
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := gguf.NewWriter()
	for _, e := range f.KV {
		if kv == nil || kv(&e) {
			w.Set(e.Key, e.Value)
		}
	}
	for _, ti := range f.Tensors {
		data, err := f.Data(&ti)
		if err != nil {
			t.Fatal(err)
		}
		data = append([]byte(nil), data...)
		if tensor == nil || tensor(&ti, &data) {
			if err := w.AddTensor(ti.Name, ti.Type, ti.Dims, data); err != nil {
				t.Fatal(err)
			}
		}
	}
	out := filepath.Join(t.TempDir(), "bad.gguf")
	if err := w.WriteFile(out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLoadRefuses(t *testing.T) {
	good := tinyGGUF(t)
	if m, err := Load(good, LoadOptions{}); err != nil {
		t.Fatalf("valid file: %v", err)
	} else {
		m.Close()
	}
	for _, tc := range []struct {
		name   string
		kv     func(*gguf.KV) bool
		tensor func(*gguf.TensorInfo, *[]byte) bool
		want   []string // substrings of the error
	}{
		{"other architecture", func(k *gguf.KV) bool {
			if k.Key == "general.architecture" {
				k.Value = "gemma"
			}
			return true
		}, nil, []string{"gemma"}},
		{"missing tensor", nil, func(ti *gguf.TensorInfo, _ *[]byte) bool { return ti.Name != "blk.1.ffn_up.weight" }, []string{"blk.1.ffn_up.weight", "missing"}},
		{"wrong shape", nil, func(ti *gguf.TensorInfo, _ *[]byte) bool {
			if ti.Name == "blk.0.attn_k.weight" {
				ti.Dims = []uint64{ti.Dims[1], ti.Dims[0]}
			}
			return true
		}, []string{"blk.0.attn_k.weight", "dims"}},
		{"unsupported type", nil, func(ti *gguf.TensorInfo, data *[]byte) bool {
			if ti.Name == "blk.0.attn_q.weight" {
				ti.Type = ggml.Q5_0 // 22 bytes per 32 values
				*data = make([]byte, int(ti.Dims[1])*int(ti.Dims[0])/32*22)
			}
			return true
		}, []string{"blk.0.attn_q.weight", "Q5_0"}},
		{"missing hyperparameter", func(k *gguf.KV) bool { return k.Key != "llama.block_count" }, nil, []string{"llama.block_count"}},
		{"absurd heads", func(k *gguf.KV) bool {
			if k.Key == "llama.attention.head_count" {
				k.Value = uint32(7)
			}
			return true
		}, nil, []string{"n_heads"}},
		{"no vocabulary", func(k *gguf.KV) bool { return !strings.HasPrefix(k.Key, "tokenizer.") }, nil, []string{"tokenizer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := rewrite(t, good, tc.kv, tc.tensor)
			m, err := Load(p, LoadOptions{})
			if err == nil {
				m.Close()
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestLoadBadFiles(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string][]byte{
		"empty":     {},
		"short":     []byte("GG"),
		"gguf-junk": []byte("GGUF\x03\x00\x00\x00junkjunkjunkjunkjunk"),
		"l2c-junk":  make([]byte, 40),
		"v1-junk":   []byte("24ka\x01\x00\x00\x00"),
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		if m, err := Load(p, LoadOptions{Tokenizer: p}); err == nil {
			m.Close()
			t.Errorf("%s: loaded", name)
		}
	}
	if _, err := Load(filepath.Join(dir, "nope"), LoadOptions{}); err == nil {
		t.Error("missing file: no error")
	}
}

func TestLoadTemplateAndVocabOnly(t *testing.T) {
	good := tinyGGUF(t)
	f, err := gguf.Open(good)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// The same model with a ChatML chat template, and its vocabulary alone.
	full, vocab := gguf.NewWriter(), gguf.NewWriter()
	for _, e := range f.KV {
		full.Set(e.Key, e.Value)
		vocab.Set(e.Key, e.Value)
	}
	ct := "{% for m in messages %}<|im_start|>{{m.role}}\n{{m.content}}<|im_end|>\n{% endfor %}"
	full.Set("tokenizer.chat_template", ct)
	for _, ti := range f.Tensors {
		data, err := f.Data(&ti)
		if err != nil {
			t.Fatal(err)
		}
		if err := full.AddTensor(ti.Name, ti.Type, ti.Dims, data); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	withTmpl, vocabOnly := filepath.Join(dir, "chatml.gguf"), filepath.Join(dir, "vocab.gguf")
	if err := full.WriteFile(withTmpl); err != nil {
		t.Fatal(err)
	}
	if err := vocab.WriteFile(vocabOnly); err != nil {
		t.Fatal(err)
	}

	tok, v, err := LoadTokenizer(vocabOnly, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != tinyCfg.VocabSize || len(v.Tokens) != tinyCfg.VocabSize {
		t.Fatalf("vocab size %d", tok.VocabSize())
	}
	if _, err := Load(vocabOnly, LoadOptions{}); err == nil || !strings.Contains(err.Error(), "token_embd") {
		t.Fatalf("Load of a vocabulary-only file: %v", err)
	}
	for _, tc := range []struct{ file, override, want string }{
		{good, "", "plain"},
		{withTmpl, "", "chatml"},
		{withTmpl, "zephyr", "zephyr"},
	} {
		m, err := Load(tc.file, LoadOptions{Template: tc.override})
		if err != nil {
			t.Fatal(err)
		}
		if m.Template.Name() != tc.want {
			t.Errorf("%s (override %q): template %q, want %q", filepath.Base(tc.file), tc.override, m.Template.Name(), tc.want)
		}
		m.Close()
	}
	if _, err := Load(good, LoadOptions{Template: "nope"}); err == nil {
		t.Fatal("unknown template accepted")
	}
}

// Truncated copies of real files are refused with an error, never a panic.
func TestLoadTruncated(t *testing.T) {
	tok := fixtures.Path(t, "stories260k", "tok512.bin")
	dir := t.TempDir()
	for _, src := range [][]string{
		{"gguf", "stories260K-f32.gguf"},
		{"quant", "r256-q4_k.gguf"},
		{"stories260k", "stories260K.bin"},
		{"stories260k", "stories260K.v1.bin"},
	} {
		b, err := os.ReadFile(fixtures.Path(t, src...))
		if err != nil {
			t.Fatal(err)
		}
		for _, frac := range []float64{0.001, 0.01, 0.1, 0.5, 0.9, 0.9999} {
			p := filepath.Join(dir, fmt.Sprintf("%s-%g", src[1], frac))
			if err := os.WriteFile(p, b[:int(float64(len(b))*frac)], 0o600); err != nil {
				t.Fatal(err)
			}
			if m, err := Load(p, LoadOptions{Tokenizer: tok}); err == nil {
				m.Close()
				t.Errorf("%s cut to %g of its size: loaded", src[1], frac)
			}
		}
	}
}
