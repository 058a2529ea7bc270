package model

import (
	"context"
	"github.com/hone-ai/hone/model/fixtures"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hone-ai/hone/model/ggml"
	"github.com/hone-ai/hone/model/gguf"
)

func TestConvertStories260K(t *testing.T) {
	src := stories(t, LoadOptions{})
	dir := t.TempDir()
	cases := greedyCases(t)
	text := "Tom and his mom went to the park. Zürich 한국"
	toks := prompt(src, "One day, a little boy named Tim went to the park with his mom.")
	want, err := src.Logits(context.Background(), toks)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		typ     ggml.Type
		maxRMS  float64
		minCorr float64
	}{
		{ggml.F32, 0, 1},
		{ggml.F16, 0.05, 0.9999},
		{ggml.Q8_0, 0.1, 0.999},
	} {
		t.Run(tc.typ.String(), func(t *testing.T) {
			out := filepath.Join(dir, "s-"+tc.typ.String()+".gguf")
			if err := src.SaveGGUF(out, SaveOptions{Type: tc.typ}); err != nil {
				t.Fatal(err)
			}
			m, err := Load(out, LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.Config != src.Config {
				t.Fatalf("config %+v, want %+v", m.Config, src.Config)
			}
			if !slices.Equal(m.Tok.Encode(text), src.Tok.Encode(text)) || m.Tok.Decode(src.Tok.Encode(text)) != text {
				t.Fatal("vocabulary does not round-trip")
			}
			// Types as promised: rows of 172 (ffn_down) fall back to F16.
			f, err := gguf.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for _, ti := range f.Tensors {
				want := tc.typ
				switch {
				case len(ti.Dims) == 1:
					want = ggml.F32
				case ti.Dims[0]%uint64(tc.typ.BlockSize()) != 0:
					want = ggml.F16
				}
				if ti.Type != want {
					t.Errorf("tensor %s is %s, want %s", ti.Name, ti.Type, want)
				}
			}
			if _, ok := f.Tensor("output.weight"); ok {
				t.Error("tied classifier written as output.weight")
			}
			if tc.typ == ggml.F32 {
				for _, c := range cases {
					if got := runC(t, m, c.Prompt, c.Steps); got != c.Output {
						t.Errorf("prompt %q: converted F32 model gives %q", c.Prompt, got)
					}
				}
				return
			}
			got, err := m.Logits(context.Background(), toks)
			if err != nil {
				t.Fatal(err)
			}
			rms, corr := agreement(slices.Concat(got...), slices.Concat(want...))
			t.Logf("%s vs original: logits RMS %.4f, correlation %.6f", tc.typ, rms, corr)
			if rms > tc.maxRMS || corr < tc.minCorr {
				t.Errorf("%s: RMS %.4f (max %g), correlation %.6f (min %g)", tc.typ, rms, tc.maxRMS, corr, tc.minCorr)
			}
		})
	}
}

func TestSaveLlama2CRoundTrip(t *testing.T) {
	for _, tied := range []bool{true, false} {
		m := stories(t, LoadOptions{})
		if !tied {
			// A separate classifier (equal values, different storage).
			out := *m.Weights.Output
			out.F32 = slices.Clone(out.F32)
			m.Weights.Output = &out
		}
		path := filepath.Join(t.TempDir(), "m.bin")
		if err := m.SaveLlama2C(path); err != nil {
			t.Fatal(err)
		}
		back, err := Load(path, LoadOptions{Tokenizer: fixtures.Path(t, "stories260k", "tok512.bin")})
		if err != nil {
			t.Fatal(err)
		}
		if back.TiedOutput() != tied {
			t.Errorf("tied = %v after round trip, want %v", back.TiedOutput(), tied)
		}
		toks := prompt(m, "The sun was")
		a, _ := m.Logits(context.Background(), toks)
		b, _ := back.Logits(context.Background(), toks)
		if d := maxAbsDiff(slices.Concat(a...), slices.Concat(b...)); d != 0 {
			t.Errorf("logits differ by %g after a llama2.c round trip", d)
		}
		back.Close()
	}
}

func TestNewRandomQ8(t *testing.T) {
	f, err := NewRandom(tinyCfg, ggml.F32, 9)
	if err != nil {
		t.Fatal(err)
	}
	q, err := NewRandom(tinyCfg, ggml.Q8_0, 9)
	if err != nil {
		t.Fatal(err)
	}
	if q.Weights.Layers[0].Wq.Type != ggml.Q8_0 || q.Weights.Layers[0].WDown.Type != ggml.F32 {
		t.Fatalf("types: wq %s, w_down (172 columns) %s", q.Weights.Layers[0].Wq.Type, q.Weights.Layers[0].WDown.Type)
	}
	toks := []int{1, 5, 9, 33, 2}
	a, _ := f.Logits(context.Background(), toks)
	b, _ := q.Logits(context.Background(), toks)
	rms, corr := agreement(slices.Concat(a...), slices.Concat(b...))
	if corr < 0.999 {
		t.Fatalf("Q8_0 random model vs F32: RMS %.4f correlation %.5f", rms, corr)
	}
}
