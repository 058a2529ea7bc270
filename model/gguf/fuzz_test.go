package gguf

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hone-ai/hone/model/ggml"
)

// FuzzGGUF feeds arbitrary bytes to the reader. Whatever parses must be
// self-consistent: the io.ReaderAt path agrees with the in-memory one, every
// tensor's data is in bounds, and writing the file back and reading it
// again gives the same bytes.
func FuzzGGUF(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := OpenBytes(b)
		h, err2 := Parse(bytes.NewReader(b), int64(len(b)))
		if (err == nil) != (err2 == nil) {
			t.Fatalf("OpenBytes: %v; Parse: %v", err, err2)
		}
		if err != nil {
			if err.Error()[:len("gguf (bytes): ")] != "gguf (bytes): " {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if len(g.KV) != len(h.KV) || len(g.Tensors) != len(h.Tensors) {
			t.Fatal("OpenBytes and Parse disagree")
		}
		for _, kv := range g.KV {
			g.Get(kv.Key)
			g.String(kv.Key)
			g.Uint(kv.Key)
			g.Float(kv.Key)
			g.Int32s(kv.Key)
		}
		if err := g.Dump(io.Discard); err != nil {
			t.Fatal(err)
		}
		w := NewWriter()
		for _, kv := range g.KV {
			w.Set(kv.Key, kv.Value)
		}
		for i := range g.Tensors {
			ti := &g.Tensors[i]
			d1, err := g.Data(ti)
			if err != nil {
				t.Fatalf("tensor %s: %v", ti.Name, err)
			}
			d2, err := h.Data(&h.Tensors[i])
			if err != nil || !bytes.Equal(d1, d2) {
				t.Fatalf("tensor %s: ReaderAt data differs (%v)", ti.Name, err)
			}
			if n, err := ti.Size(); err != nil || uint64(len(d1)) != n {
				t.Fatalf("tensor %s: %d bytes, Size %d %v", ti.Name, len(d1), n, err)
			}
			if ti.Type.Supported() && ti.NumElements() <= 1<<16 {
				out := make([]float32, ti.NumElements())
				if err := ggml.Dequantize(ti.Type, d1, out); err != nil {
					t.Fatalf("tensor %s: %v", ti.Name, err)
				}
			}
			_ = w.AddTensor(ti.Name, ti.Type, ti.Dims, d1) // names/dims the writer refuses are skipped
		}
		var out1 bytes.Buffer
		if _, err := w.WriteTo(&out1); err != nil {
			// Only the alignment key can make a parsed file unwritable.
			if _, ok := g.Get(KeyAlignment); !ok {
				t.Fatalf("write back: %v", err)
			}
			return
		}
		g2, err := OpenBytes(out1.Bytes())
		if err != nil {
			t.Fatalf("reading back what was written: %v", err)
		}
		w2 := NewWriter()
		for _, kv := range g2.KV {
			w2.Set(kv.Key, kv.Value)
		}
		for i := range g2.Tensors {
			d, _ := g2.Data(&g2.Tensors[i])
			if err := w2.AddTensor(g2.Tensors[i].Name, g2.Tensors[i].Type, g2.Tensors[i].Dims, d); err != nil {
				t.Fatal(err)
			}
		}
		var out2 bytes.Buffer
		if _, err := w2.WriteTo(&out2); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out1.Bytes(), out2.Bytes()) {
			t.Fatal("write, read, write is not stable")
		}
	})
}

type seed struct {
	name string
	b    []byte
}

// fuzzSeeds returns small valid and broken files.
func fuzzSeeds(tb testing.TB) []seed {
	valid, _ := buildTestFile(tb)
	w := NewWriter()
	w.Set("general.architecture", "llama")
	w.Set("tokenizer.ggml.model", "llama")
	w.Set("tokenizer.ggml.tokens", []string{"<unk>", "<s>", "</s>", "▁a", "b"})
	w.Set("tokenizer.ggml.scores", []float32{0, 0, 0, -1, -2})
	w.Set("tokenizer.ggml.token_type", []int32{2, 3, 3, 1, 1})
	w.Set("tokenizer.ggml.bos_token_id", uint32(1))
	var vocab bytes.Buffer
	if _, err := w.WriteTo(&vocab); err != nil {
		tb.Fatal(err)
	}
	w = NewWriter()
	w.Set(KeyAlignment, uint32(64))
	q, _ := ggml.Quantize(ggml.Q4_0, make([]float32, 64))
	if err := w.AddTensor("q", ggml.Q4_0, []uint64{32, 2}, q); err != nil {
		tb.Fatal(err)
	}
	q6 := make([]byte, 210)
	q6[208] = 0x3c // d = 1
	if err := w.AddTensor("k", ggml.Q6_K, []uint64{256}, q6); err != nil {
		tb.Fatal(err)
	}
	var aligned bytes.Buffer
	if _, err := w.WriteTo(&aligned); err != nil {
		tb.Fatal(err)
	}
	seeds := []seed{
		{"valid-all-types", valid},
		{"vocab-only", vocab.Bytes()},
		{"align64-q4_0-q6_k", aligned.Bytes()},
		{"truncated", valid[:len(valid)/2]},
		{"v2-empty", new(raw).head(2, 0, 0).Bytes()},
		{"huge-array", new(raw).head(3, 0, 1).str("k").u32(uint32(TypeArray)).u32(uint32(TypeString)).u64(1 << 40).zeros(16).Bytes()},
		{"nested", new(raw).head(3, 0, 1).str("k").u32(uint32(TypeArray)).u32(uint32(TypeArray)).u64(1).u32(uint32(TypeArray)).u64(1).u32(uint32(TypeUint8)).u64(2).zeros(2).Bytes()},
		{"dims-overflow", new(raw).head(3, 1, 0).tensor("t", 0, 0, 1<<32, 1<<32).padTo(32).Bytes()},
		{"offset-past-end", new(raw).head(3, 1, 0).tensor("t", 0, 32, 4).padTo(32).zeros(16).Bytes()},
	}
	return seeds
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzGGUF/seed-* when
// HONE_WRITE_FUZZ_SEEDS=1. The committed files are checked to still parse
// the same way (valid stays valid) in normal runs.
func TestWriteFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzGGUF")
	for _, s := range fuzzSeeds(t) {
		path := filepath.Join(dir, "seed-"+s.name)
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s.b)
		if os.Getenv("HONE_WRITE_FUZZ_SEEDS") == "1" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Skipf("seed corpus absent: %v", err)
		}
		if string(got) != content {
			t.Errorf("%s is stale: regenerate with HONE_WRITE_FUZZ_SEEDS=1 go test -run TestWriteFuzzSeeds ./model/gguf", path)
		}
	}
}
