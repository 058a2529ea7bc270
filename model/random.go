package model

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/hone-ai/hone/model/ggml"
	"github.com/hone-ai/hone/model/kernels"
)

// NewRandom builds a model of shape cfg with random weights (uniform,
// scaled by 1/√fan-in; norms near 1), its matrices stored as dtype (F32,
// F16, BF16 or Q8_0; rows whose length is not a multiple of the type's
// block size stay F32). The same cfg, dtype and seed give the same model.
// It has no tokenizer. Benchmarks and tests use it.
func NewRandom(cfg Config, dtype ggml.Type, seed uint64) (*Model, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	mat := func(name string, rows, cols int) (*kernels.Matrix, error) {
		f := make([]float32, rows*cols)
		// Two 24-bit uniforms per 64-bit draw, in [-1, 1)·scale.
		scale := float32(1 / math.Sqrt(float64(cols)))
		k := 2 * scale / (1 << 24)
		for i := 0; i < len(f); i += 2 {
			u := rng.Uint64()
			f[i] = float32(u>>40)*k - scale
			if i+1 < len(f) {
				f[i+1] = float32(u>>8&(1<<24-1))*k - scale
			}
		}
		m, err := newMatrix(dtype, rows, cols, f)
		if err != nil {
			return nil, fmt.Errorf("random %s: %w", name, err)
		}
		return m, nil
	}
	norm := func() []float32 {
		v := make([]float32, cfg.Dim)
		for i := range v {
			v[i] = 0.8 + 0.4*rng.Float32()
		}
		return v
	}
	var w Weights
	var err error
	if w.Embed, err = mat("token_embd", cfg.VocabSize, cfg.Dim); err != nil {
		return nil, err
	}
	w.Layers = make([]Layer, cfg.NLayers)
	for i := range w.Layers {
		l := &w.Layers[i]
		l.AttnNorm, l.FFNNorm = norm(), norm()
		for _, p := range []struct {
			dst        **kernels.Matrix
			name       string
			rows, cols int
		}{
			{&l.Wq, "attn_q", cfg.QDim(), cfg.Dim},
			{&l.Wk, "attn_k", cfg.KVDim(), cfg.Dim},
			{&l.Wv, "attn_v", cfg.KVDim(), cfg.Dim},
			{&l.Wo, "attn_output", cfg.Dim, cfg.QDim()},
			{&l.WGate, "ffn_gate", cfg.HiddenDim, cfg.Dim},
			{&l.WUp, "ffn_up", cfg.HiddenDim, cfg.Dim},
			{&l.WDown, "ffn_down", cfg.Dim, cfg.HiddenDim},
		} {
			if *p.dst, err = mat(fmt.Sprintf("blk.%d.%s", i, p.name), p.rows, p.cols); err != nil {
				return nil, err
			}
		}
	}
	w.OutNorm = norm()
	if w.Output, err = mat("output", cfg.VocabSize, cfg.Dim); err != nil {
		return nil, err
	}
	return newModel(cfg, w, "")
}

// newMatrix stores rows×cols float32 values as type t (falling back to F32
// when a row is not a whole number of t's blocks).
func newMatrix(t ggml.Type, rows, cols int, f []float32) (*kernels.Matrix, error) {
	if t == ggml.F32 {
		return &kernels.Matrix{Type: ggml.F32, Rows: rows, Cols: cols, F32: f}, nil
	}
	if !t.Supported() {
		return nil, fmt.Errorf("tensor type %s is not supported", t)
	}
	if cols%t.BlockSize() != 0 {
		return &kernels.Matrix{Type: ggml.F32, Rows: rows, Cols: cols, F32: f}, nil
	}
	data, err := quantize(t, f)
	if err != nil {
		return nil, err
	}
	return &kernels.Matrix{Type: t, Rows: rows, Cols: cols, Data: data}, nil
}
