package llama2c

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLlama2C feeds arbitrary bytes to the reader. Whatever parses has
// weight slices of the sizes its header implies, and re-encodes to the same
// bytes (all of them for version 1; all but the unused freq_cis arrays for
// legacy files).
func FuzzLlama2C(f *testing.F) {
	for _, s := range llama2cSeeds() {
		f.Add(s.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// Any valid header, given weights of exactly the size it implies
		// (when small), must parse.
		if h, hsize, err := readHeader(b); err == nil {
			if n, ok := expectedFloats(h); ok && n <= 1<<14 {
				sized := append(bytes.Clone(b[:hsize]), make([]byte, 4*n)...)
				c, err := Parse(sized)
				if err != nil {
					t.Fatalf("header %+v with %d floats: %v", h, n, err)
				}
				if err := c.Validate(); err != nil {
					t.Fatal(err)
				}
			}
		}
		c, err := Parse(b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "llama2c (bytes): ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		out, err := c.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != len(b) {
			t.Fatalf("re-encoded %d bytes, parsed %d", len(out), len(b))
		}
		h := c.Header
		if h.Version == 1 {
			// Header padding after byte 37 is not kept.
			if !bytes.Equal(out[:37], b[:37]) || !bytes.Equal(out[256:], b[256:]) {
				t.Fatal("version 1 re-encoding differs")
			}
			return
		}
		nFreq := 2 * h.SeqLen * (h.HeadSize() / 2)
		freqEnd := 28 + 4*(len(c.TokenEmbedding)+h.Dim+len(c.Layers)*(2*h.Dim+len(c.Layers[0].Wq)*2+2*len(c.Layers[0].Wk)+3*len(c.Layers[0].W1))+nFreq)
		if !bytes.Equal(out[:freqEnd-4*nFreq], b[:freqEnd-4*nFreq]) || !bytes.Equal(out[freqEnd:], b[freqEnd:]) {
			t.Fatal("legacy re-encoding differs outside freq_cis")
		}
	})
}

func llama2cSeeds() []seed {
	tiny := Header{Dim: 4, HiddenDim: 3, NLayers: 1, NHeads: 2, NKVHeads: 1, VocabSize: 3, SeqLen: 2}
	var out []seed
	for _, v := range []int{0, 1} {
		for _, shared := range []bool{true, false} {
			h := tiny
			h.Version, h.SharedClassifier = v, shared
			b, err := randomCheckpoint(h, 1).Encode()
			if err != nil {
				panic(err)
			}
			out = append(out, seed{fmt.Sprintf("v%d-shared-%v", v, shared), b})
			if v == 1 && shared {
				out = append(out, seed{"v1-truncated", b[:len(b)-8]})
			}
		}
	}
	out = append(out,
		seed{"header-only", []byte("\x40\x00\x00\x00\xac\x00\x00\x00\x05\x00\x00\x00\x08\x00\x00\x00\x04\x00\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00")},
		seed{"v1-magic-only", []byte("24ka\x01\x00\x00\x00")},
	)
	return out
}

type seed struct {
	name string
	b    []byte
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzLlama2C/seed-* when
// HONE_WRITE_FUZZ_SEEDS=1, and otherwise checks they are current.
func TestWriteFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzLlama2C")
	for _, s := range llama2cSeeds() {
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
			t.Errorf("%s is stale: regenerate with HONE_WRITE_FUZZ_SEEDS=1 go test -run TestWriteFuzzSeeds ./model/llama2c", path)
		}
	}
}
