package lm

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/hone-ai/hone/model"
	"github.com/hone-ai/hone/model/fixtures"
)

func randomModel(t *testing.T, cfg Config, tied bool, seed uint64) *Model {
	t.Helper()
	p := newParams(cfg, tied)
	rng := rand.New(rand.NewPCG(seed, 7))
	fill := func(s []float32, scale float64) {
		for i := range s {
			s[i] = float32(rng.NormFloat64() * scale)
		}
	}
	fill(p.Embed, 0.5)
	if !tied {
		fill(p.Cls, 0.5)
	}
	for i := range p.FinalNorm {
		p.FinalNorm[i] = 1 + float32(rng.NormFloat64()*0.1)
	}
	for _, l := range p.Layers {
		for i := range l.AttnNorm {
			l.AttnNorm[i] = 1 + float32(rng.NormFloat64()*0.1)
			l.FFNNorm[i] = 1 + float32(rng.NormFloat64()*0.1)
		}
		for _, w := range l.W {
			fill(w, 0.3)
		}
	}
	m, err := New(cfg, p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// loss is the objective whose gradient the test checks: 0.7·logp plus a
// fixed projection of the last hidden state.
func checkLoss(t *testing.T, m *Model, e Example, dh []float32) float64 {
	lp, _, h, err := m.LogProb(e)
	if err != nil {
		t.Fatal(err)
	}
	s := 0.7 * lp
	for i := range h {
		s += float64(dh[i]) * float64(h[i])
	}
	return s
}

func TestGradientsMatchFiniteDifferences(t *testing.T) {
	cfg := Config{Dim: 8, Hidden: 12, Layers: 2, Heads: 4, KVHeads: 2, Vocab: 11, SeqLen: 16}
	for _, tc := range []struct {
		name string
		tied bool
		lora bool
	}{{"full-tied", true, false}, {"full-untied", false, false}, {"lora", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			m := randomModel(t, cfg, tc.tied, 3)
			if tc.lora {
				var err error
				if m, err = m.WithLoRA(LoRAConfig{Rank: 2, Alpha: 4}, 5); err != nil {
					t.Fatal(err)
				}
				// Non-zero B so that gradients of A are not trivially zero.
				rng := rand.New(rand.NewPCG(9, 9))
				for _, ad := range m.lora {
					for _, a := range ad {
						if a != nil {
							for i := range a.B {
								a.B[i] = float32(rng.NormFloat64() * 0.3)
							}
						}
					}
				}
				m.Merge()
			}
			e := Example{Tokens: []int{1, 4, 7, 2, 9, 3, 5}, Start: 3}
			dh := make([]float32, cfg.Dim)
			for i := range dh {
				dh[i] = float32(i%3) - 0.8
			}
			g := m.NewGrads()
			if _, err := m.Backward(e, 0.7, dh, g); err != nil {
				t.Fatal(err)
			}
			ts := m.Trainable(g)
			rng := rand.New(rand.NewPCG(11, 11))
			checked := 0
			for _, ts := range ts {
				for k := 0; k < 3; k++ {
					i := rng.IntN(len(ts.W))
					old := ts.W[i]
					const h = 1e-2
					ts.W[i] = old + h
					m.Merge()
					fp := checkLoss(t, m, e, dh)
					ts.W[i] = old - h
					m.Merge()
					fm := checkLoss(t, m, e, dh)
					ts.W[i] = old
					m.Merge()
					num := (fp - fm) / (2 * h)
					got := float64(ts.G[i])
					if math.Abs(num-got) > 2e-2*math.Max(1, math.Abs(num)) {
						t.Errorf("%s[%d]: analytic %v, numeric %v", ts.Name, i, got, num)
					}
					checked++
				}
			}
			if checked == 0 {
				t.Fatal("nothing checked")
			}
		})
	}
}

func TestSessionMatchesFullForward(t *testing.T) {
	cfg := Config{Dim: 8, Hidden: 12, Layers: 2, Heads: 4, KVHeads: 2, Vocab: 11, SeqLen: 16}
	m := randomModel(t, cfg, false, 4)
	toks := []int{1, 3, 5, 7, 9}
	d, err := m.Dists(Example{Tokens: toks, Start: 1})
	if err != nil {
		t.Fatal(err)
	}
	s := m.NewSession()
	for i, tok := range toks[:len(toks)-1] {
		lg, err := s.Step(tok)
		if err != nil {
			t.Fatal(err)
		}
		logSoftmax(lg)
		for j := range lg {
			if math.Abs(float64(lg[j]-d[i*cfg.Vocab+j])) > 1e-4 {
				t.Fatalf("pos %d tok %d: session %v, full %v", i, j, lg[j], d[i*cfg.Vocab+j])
			}
		}
	}
}

// TestGreedyMatchesRunC checks loader, tokenizer and decoder against
// llama2.c's own greedy outputs for stories260K.
func TestGreedyMatchesRunC(t *testing.T) {
	mp := fixtures.Path(t, "stories260k", "stories260K.bin")
	tp := fixtures.Path(t, "stories260k", "tok512.bin")
	gp := fixtures.Path(t, "stories260k", "greedy.json")
	m, err := LoadLlama2C(mp)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := LoadTokenizer(tp, m.Cfg.Vocab)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(gp)
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Prompt string
		Steps  int
		Output string
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases[:2] {
		prompt := append([]int{BOS}, tok.Encode(c.Prompt)...)
		out, err := m.Generate(context.Background(), prompt, Sampling{MaxTokens: c.Steps - len(prompt) + 1, Stop: []int{BOS}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := tok.Decode(append(prompt[1:], out...))
		if want := strings.TrimSuffix(c.Output, "\n"); got != want {
			t.Errorf("prompt %q:\n got %q\nwant %q", c.Prompt, got, want)
		}
	}
}

func TestExp32(t *testing.T) {
	for x := float32(-86); x < 88; x += 0.0371 {
		want := math.Exp(float64(x))
		if got := float64(exp32(x)); math.Abs(got-want) > 1e-6*want {
			t.Fatalf("exp32(%v) = %v, want %v", x, got, want)
		}
	}
	if exp32(-100) != 0 {
		t.Error("exp32(-100) != 0")
	}
}

// The engine's loader (GGUF and llama2.c, used by the commands) and this
// package's llama2.c reader give the same float32 model.
func TestFromEngineMatchesLlama2C(t *testing.T) {
	mp := fixtures.Path(t, "stories260k", "stories260K.bin")
	tp := fixtures.Path(t, "stories260k", "tok512.bin")
	own, err := LoadLlama2C(mp)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{mp, fixtures.Path(t, "stories260k", "stories260K-f32.gguf")} {
		e, err := model.Load(path, model.LoadOptions{Tokenizer: tp})
		if err != nil {
			t.Fatal(err)
		}
		m, err := FromEngine(e)
		e.Close()
		if err != nil {
			t.Fatal(err)
		}
		ex := Example{Tokens: []int{1, 403, 407, 261, 378, 1073 % 512, 300}, Start: 3}
		a, _, _, err := own.LogProb(ex)
		if err != nil {
			t.Fatal(err)
		}
		b, _, _, err := m.LogProb(ex)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(a-b) > 1e-3 {
			t.Errorf("%s: log-prob %v, llama2.c reader %v", path, b, a)
		}
	}
}
