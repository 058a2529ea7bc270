package model

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/hone-ai/hone/model/ggml"
	"github.com/hone-ai/hone/model/kernels"
)

// refForward is a plain transliteration of llama2.c's run.c forward() for
// one token, over dequantized weights: the yardstick for the engine.
type refModel struct {
	cfg    Config
	kc, vc [][]float32
}

func deq(t *testing.T, m *kernels.Matrix) []float32 {
	t.Helper()
	if m.Type == ggml.F32 {
		return m.F32
	}
	out := make([]float32, m.Rows*m.Cols)
	rb, _ := m.Type.RowBytes(m.Cols)
	for r := 0; r < m.Rows; r++ {
		if err := ggml.Dequantize(m.Type, m.Data[r*rb:(r+1)*rb], out[r*m.Cols:(r+1)*m.Cols]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func refMatVec(w []float32, x []float32, rows int) []float32 {
	cols := len(x)
	out := make([]float32, rows)
	for r := range out {
		var s float32
		for c := 0; c < cols; c++ {
			s += w[r*cols+c] * x[c]
		}
		out[r] = s
	}
	return out
}

func refRMS(x, w []float32, eps float32) []float32 {
	var ss float32
	for _, v := range x {
		ss += v * v
	}
	ss = ss/float32(len(x)) + eps
	inv := 1 / float32(math.Sqrt(float64(ss)))
	o := make([]float32, len(x))
	for i := range x {
		o[i] = w[i] * (inv * x[i])
	}
	return o
}

func (r *refModel) forward(t *testing.T, m *Model, token, pos int) []float32 {
	c := r.cfg
	w := &m.Weights
	hd := c.HeadDim
	kvDim := c.KVDim()
	emb := deq(t, w.Embed)
	x := append([]float32(nil), emb[token*c.Dim:(token+1)*c.Dim]...)
	for l := range w.Layers {
		ly := &w.Layers[l]
		xb := refRMS(x, ly.AttnNorm, c.NormEps)
		q := refMatVec(deq(t, ly.Wq), xb, c.QDim())
		k := refMatVec(deq(t, ly.Wk), xb, kvDim)
		v := refMatVec(deq(t, ly.Wv), xb, kvDim)
		for i := 0; i < c.QDim(); i += 2 {
			hdim := i % hd
			freq := 1 / math.Pow(float64(c.RopeBase), float64(hdim)/float64(hd))
			val := float64(pos) * freq
			fcr, fci := float32(math.Cos(val)), float32(math.Sin(val))
			vecs := [][]float32{q}
			if i < kvDim {
				vecs = append(vecs, k)
			}
			for _, vec := range vecs {
				v0, v1 := vec[i], vec[i+1]
				vec[i] = v0*fcr - v1*fci
				vec[i+1] = v0*fci + v1*fcr
			}
		}
		r.kc[l] = append(r.kc[l][:pos*kvDim], k...)
		r.vc[l] = append(r.vc[l][:pos*kvDim], v...)
		xb2 := make([]float32, c.QDim())
		for h := 0; h < c.NHeads; h++ {
			kh := h / (c.NHeads / c.NKVHeads)
			att := make([]float32, pos+1)
			for tt := 0; tt <= pos; tt++ {
				var s float32
				for i := 0; i < hd; i++ {
					s += q[h*hd+i] * r.kc[l][tt*kvDim+kh*hd+i]
				}
				att[tt] = s / float32(math.Sqrt(float64(hd)))
			}
			kernels.Softmax(att)
			for tt := 0; tt <= pos; tt++ {
				for i := 0; i < hd; i++ {
					xb2[h*hd+i] += att[tt] * r.vc[l][tt*kvDim+kh*hd+i]
				}
			}
		}
		o := refMatVec(deq(t, ly.Wo), xb2, c.Dim)
		for i := range x {
			x[i] += o[i]
		}
		xb = refRMS(x, ly.FFNNorm, c.NormEps)
		h1 := refMatVec(deq(t, ly.WGate), xb, c.HiddenDim)
		h3 := refMatVec(deq(t, ly.WUp), xb, c.HiddenDim)
		for i := range h1 {
			v := h1[i]
			h1[i] = v * (1 / (1 + float32(math.Exp(float64(-v))))) * h3[i]
		}
		o = refMatVec(deq(t, ly.WDown), h1, c.Dim)
		for i := range x {
			x[i] += o[i]
		}
	}
	x = refRMS(x, w.OutNorm, c.NormEps)
	return refMatVec(deq(t, w.Output), x, c.VocabSize)
}

func maxAbsDiff(a, b []float32) float64 {
	var m float64
	for i := range a {
		m = max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

var tinyCfg = Config{Dim: 64, HiddenDim: 172, NLayers: 2, NHeads: 8, NKVHeads: 4, VocabSize: 97, ContextLen: 160}

func TestForwardMatchesReference(t *testing.T) {
	m, err := NewRandom(tinyCfg, ggml.F32, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tokens := make([]int, 150) // > prefillBatch: exercises chunked prefill
	for i := range tokens {
		tokens[i] = (i*37 + 11) % tinyCfg.VocabSize
	}
	ref := &refModel{cfg: m.Config, kc: make([][]float32, m.Config.NLayers), vc: make([][]float32, m.Config.NLayers)}
	want := make([][]float32, len(tokens))
	for i, tok := range tokens {
		want[i] = ref.forward(t, m, tok, i)
	}
	t.Run("Logits", func(t *testing.T) {
		got, err := m.Logits(ctx, tokens)
		if err != nil {
			t.Fatal(err)
		}
		for i := range tokens {
			if d := maxAbsDiff(got[i], want[i]); d > 1e-4 {
				t.Fatalf("position %d: max |diff| %g", i, d)
			}
		}
	})
	t.Run("prefill+decode", func(t *testing.T) {
		s := m.NewSession()
		got, err := s.Eval(ctx, tokens[:140])
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(got, want[139]); d > 1e-4 {
			t.Fatalf("prefill last logits: max |diff| %g", d)
		}
		for i := 140; i < len(tokens); i++ {
			got, err := s.Eval(ctx, tokens[i:i+1])
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(got, want[i]); d > 1e-4 {
				t.Fatalf("decode position %d: max |diff| %g", i, d)
			}
		}
		if s.Pos() != len(tokens) {
			t.Fatalf("Pos = %d, want %d", s.Pos(), len(tokens))
		}
		// Truncate and re-evaluate reproduces the same logits.
		s.Truncate(120)
		got, err = s.Eval(ctx, tokens[120:125])
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(got, want[124]); d > 1e-4 {
			t.Fatalf("after Truncate: max |diff| %g", d)
		}
	})
}

func TestContextFull(t *testing.T) {
	cfg := tinyCfg
	cfg.ContextLen = 10
	m, err := NewRandom(cfg, ggml.F32, 2)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s := m.NewSession()
	if _, err := s.Eval(ctx, []int{1, 2, 3, 4, 5, 6, 7, 8}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Eval(ctx, []int{1, 2, 3})
	var cf *ContextFullError
	if !errors.Is(err, ErrContextFull) || !errors.As(err, &cf) {
		t.Fatalf("Eval past the window: err = %v, want ErrContextFull", err)
	}
	if cf.Pos != 8 || cf.N != 3 || cf.ContextLen != 10 {
		t.Fatalf("ContextFullError = %+v", cf)
	}
	if s.Pos() != 8 {
		t.Fatalf("Pos after refused Eval = %d, want 8", s.Pos())
	}
	if _, err := s.Eval(ctx, []int{1, 2}); err != nil {
		t.Fatalf("filling the window exactly: %v", err)
	}
	if _, err := s.Eval(ctx, []int{1}); !errors.Is(err, ErrContextFull) {
		t.Fatalf("Eval on a full window: err = %v", err)
	}
}

func TestEvalBadInput(t *testing.T) {
	m, err := NewRandom(tinyCfg, ggml.F32, 3)
	if err != nil {
		t.Fatal(err)
	}
	s := m.NewSession()
	for _, toks := range [][]int{nil, {-1}, {tinyCfg.VocabSize}} {
		if _, err := s.Eval(context.Background(), toks); err == nil {
			t.Errorf("Eval(%v): no error", toks)
		}
	}
}

func TestEvalCancelled(t *testing.T) {
	m, err := NewRandom(tinyCfg, ggml.F32, 4)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := m.NewSession()
	if _, err := s.Eval(ctx, []int{1, 2, 3}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Eval with a cancelled context: err = %v", err)
	}
	if s.Pos() != 0 {
		t.Fatalf("Pos after cancelled Eval = %d", s.Pos())
	}
}

func TestNewValidates(t *testing.T) {
	r, err := NewRandom(tinyCfg, ggml.F32, 5)
	if err != nil {
		t.Fatal(err)
	}
	w := r.Weights
	w.Output = nil
	m, err := New(tinyCfg, w)
	if err != nil {
		t.Fatal(err)
	}
	if !m.TiedOutput() {
		t.Fatal("nil Output not tied to Embed")
	}
	bad := r.Weights
	bad.Layers = append([]Layer(nil), bad.Layers...)
	wq := *bad.Layers[1].Wq
	wq.Rows--
	bad.Layers[1].Wq = &wq
	if _, err := New(tinyCfg, bad); err == nil || !strings.Contains(err.Error(), "blk.1.attn_q.weight") {
		t.Fatalf("bad shape: %v", err)
	}
}
