package lm

import (
	"fmt"

	"github.com/hone-ai/hone/model"
	"github.com/hone-ai/hone/model/ggml"
	"github.com/hone-ai/hone/model/kernels"
)

// FromEngine copies a model the engine loaded (GGUF or llama2.c, any
// weight type) into float32 parameters.
func FromEngine(e *model.Model) (*Model, error) {
	c := e.Config
	if c.HeadDim != 0 && c.HeadDim*c.NHeads != c.Dim {
		return nil, fmt.Errorf("lm: head width %d × %d heads ≠ dim %d: not supported", c.HeadDim, c.NHeads, c.Dim)
	}
	if c.RopeDim != 0 && c.HeadDim != 0 && c.RopeDim != c.HeadDim {
		return nil, fmt.Errorf("lm: partial RoPE (%d of %d) not supported", c.RopeDim, c.HeadDim)
	}
	cfg := Config{Dim: c.Dim, Hidden: c.HiddenDim, Layers: c.NLayers, Heads: c.NHeads, KVHeads: c.NKVHeads,
		Vocab: c.VocabSize, SeqLen: c.ContextLen, RopeBase: c.RopeBase, NormEps: c.NormEps}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	w := &e.Weights
	tied := w.Output == nil || w.Output == w.Embed
	p := newParams(cfg, tied)
	deq := func(name string, m *kernels.Matrix, dst []float32) error {
		if m == nil {
			return fmt.Errorf("lm: %s missing", name)
		}
		if m.Rows*m.Cols != len(dst) {
			return fmt.Errorf("lm: %s is %d×%d, want %d values", name, m.Rows, m.Cols, len(dst))
		}
		if m.F32 != nil {
			copy(dst, m.F32)
			return nil
		}
		if err := ggml.Dequantize(m.Type, m.Data, dst); err != nil {
			return fmt.Errorf("lm: %s: %w", name, err)
		}
		return nil
	}
	if err := deq("token_embd", w.Embed, p.Embed); err != nil {
		return nil, err
	}
	if !tied {
		if err := deq("output", w.Output, p.Cls); err != nil {
			return nil, err
		}
	}
	if len(w.OutNorm) != cfg.Dim || len(w.Layers) != cfg.Layers {
		return nil, fmt.Errorf("lm: weights do not match the config (%d layers, norm %d)", len(w.Layers), len(w.OutNorm))
	}
	copy(p.FinalNorm, w.OutNorm)
	for i, l := range w.Layers {
		L := &p.Layers[i]
		copy(L.AttnNorm, l.AttnNorm)
		copy(L.FFNNorm, l.FFNNorm)
		for k, m := range map[Linear]*kernels.Matrix{Q: l.Wq, K: l.Wk, V: l.Wv, O: l.Wo, Gate: l.WGate, Down: l.WDown, Up: l.WUp} {
			if err := deq(fmt.Sprintf("blk.%d.%s", i, LinearNames[k]), m, L.W[k]); err != nil {
				return nil, err
			}
		}
	}
	return New(cfg, p)
}

// EngineWeights views the model's merged weights as the engine's float32
// weights (sharing memory; do not modify while the model trains).
func (m *Model) EngineWeights() *model.Weights {
	c, p := m.Cfg, m.eff
	mat := func(x []float32, l Linear) *kernels.Matrix {
		o, in := c.shape(l)
		return &kernels.Matrix{Type: ggml.F32, Rows: o, Cols: in, F32: x}
	}
	w := &model.Weights{Embed: &kernels.Matrix{Type: ggml.F32, Rows: c.Vocab, Cols: c.Dim, F32: p.Embed}, OutNorm: p.FinalNorm}
	if p.Tied {
		w.Output = w.Embed
	} else {
		w.Output = &kernels.Matrix{Type: ggml.F32, Rows: c.Vocab, Cols: c.Dim, F32: p.Cls}
	}
	w.Layers = make([]model.Layer, c.Layers)
	for i, L := range p.Layers {
		w.Layers[i] = model.Layer{AttnNorm: L.AttnNorm, FFNNorm: L.FFNNorm,
			Wq: mat(L.W[Q], Q), Wk: mat(L.W[K], K), Wv: mat(L.W[V], V), Wo: mat(L.W[O], O),
			WGate: mat(L.W[Gate], Gate), WDown: mat(L.W[Down], Down), WUp: mat(L.W[Up], Up)}
	}
	return w
}
