package train

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/hone-ai/hone/model"
	"github.com/hone-ai/hone/model/ggml"
	"github.com/hone-ai/hone/model/kernels"
)

// LayerParams are the views of one transformer block into a flat buffer
// (parameters or gradients). Matrices are row-major out×in, as in
// model.Layer.
type LayerParams struct {
	AttnNorm, Wq, Wk, Wv, Wo   []float32
	FFNNorm, WGate, WDown, WUp []float32
}

// Params are the views of every tensor of a model into one flat buffer.
// When the output is tied, Output aliases Embed.
type Params struct {
	Embed   []float32 // VocabSize×Dim
	Layers  []LayerParams
	OutNorm []float32 // Dim
	Output  []float32 // VocabSize×Dim (aliases Embed when tied)
}

// Segment is a contiguous range of a flat buffer; Decay says whether
// AdamW's weight decay applies to it (matrices yes, norms no).
type Segment struct {
	Name     string
	Off, Len int
	Decay    bool
}

// layout computes the offsets of every tensor for cfg.
func layout(cfg model.Config, tied bool) (segs []Segment, total int) {
	d, h := cfg.Dim, cfg.HiddenDim
	qd, kvd := cfg.NHeads*cfg.HeadDim, cfg.NKVHeads*cfg.HeadDim
	add := func(name string, n int, decay bool) {
		segs = append(segs, Segment{Name: name, Off: total, Len: n, Decay: decay})
		total += n
	}
	add("token_embd.weight", cfg.VocabSize*d, false)
	for l := 0; l < cfg.NLayers; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		add(p+"attn_norm.weight", d, false)
		add(p+"attn_q.weight", qd*d, true)
		add(p+"attn_k.weight", kvd*d, true)
		add(p+"attn_v.weight", kvd*d, true)
		add(p+"attn_output.weight", d*qd, true)
		add(p+"ffn_norm.weight", d, false)
		add(p+"ffn_gate.weight", h*d, true)
		add(p+"ffn_down.weight", d*h, true)
		add(p+"ffn_up.weight", h*d, true)
	}
	add("output_norm.weight", d, false)
	if !tied {
		add("output.weight", cfg.VocabSize*d, true)
	}
	return segs, total
}

// views slices buf into Params following layout.
func views(cfg model.Config, tied bool, buf []float32) Params {
	segs, _ := layout(cfg, tied)
	i := 0
	next := func() []float32 {
		s := segs[i]
		i++
		return buf[s.Off : s.Off+s.Len : s.Off+s.Len]
	}
	var p Params
	p.Embed = next()
	p.Layers = make([]LayerParams, cfg.NLayers)
	for l := range p.Layers {
		L := &p.Layers[l]
		L.AttnNorm, L.Wq, L.Wk, L.Wv, L.Wo = next(), next(), next(), next(), next()
		L.FFNNorm, L.WGate, L.WDown, L.WUp = next(), next(), next(), next()
	}
	p.OutNorm = next()
	if tied {
		p.Output = p.Embed
	} else {
		p.Output = next()
	}
	return p
}

// checkConfig validates the shape fields training relies on.
func checkConfig(cfg *model.Config) error {
	if cfg.HeadDim == 0 && cfg.NHeads > 0 {
		cfg.HeadDim = cfg.Dim / cfg.NHeads
	}
	if cfg.NKVHeads == 0 {
		cfg.NKVHeads = cfg.NHeads
	}
	if cfg.RopeDim == 0 {
		cfg.RopeDim = cfg.HeadDim
	}
	if cfg.RopeBase == 0 {
		cfg.RopeBase = 10000
	}
	if cfg.NormEps == 0 {
		cfg.NormEps = 1e-5
	}
	switch {
	case cfg.Dim <= 0, cfg.HiddenDim <= 0, cfg.NLayers <= 0, cfg.NHeads <= 0, cfg.VocabSize <= 0:
		return fmt.Errorf("train: config %+v: dimensions must be positive", *cfg)
	case cfg.HeadDim <= 0 || cfg.HeadDim%2 != 0:
		return fmt.Errorf("train: config head dim %d must be positive and even", cfg.HeadDim)
	case cfg.RopeDim < 0 || cfg.RopeDim > cfg.HeadDim || cfg.RopeDim%2 != 0:
		return fmt.Errorf("train: config rope dim %d must be even and at most head dim %d", cfg.RopeDim, cfg.HeadDim)
	case cfg.NHeads%cfg.NKVHeads != 0:
		return fmt.Errorf("train: config heads %d not a multiple of KV heads %d", cfg.NHeads, cfg.NKVHeads)
	}
	return nil
}

// New allocates a model of shape cfg with every parameter zero and a
// gradient buffer. tied shares the classifier with the embedding.
func New(cfg model.Config, tied bool) (*Model, error) {
	if err := checkConfig(&cfg); err != nil {
		return nil, err
	}
	segs, n := layout(cfg, tied)
	m := &Model{Config: cfg, Tied: tied, segs: segs, trainBase: true}
	m.data = make([]float32, n)
	m.P = views(cfg, tied, m.data)
	m.grad = make([]float32, n)
	m.G = views(cfg, tied, m.grad)
	return m, nil
}

// NewRandom allocates a model of shape cfg initialised from seed the way
// llama2.c-style small models are trained: normal(0, 0.02) matrices, the
// residual projections (wo, w2) scaled by 1/sqrt(2·layers), norms at one.
func NewRandom(cfg model.Config, tied bool, seed uint64) (*Model, error) {
	m, err := New(cfg, tied)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	normal := func(x []float32, std float64) {
		for i := range x {
			x[i] = float32(rng.NormFloat64() * std)
		}
	}
	ones := func(x []float32) {
		for i := range x {
			x[i] = 1
		}
	}
	const std = 0.02
	resStd := std / math.Sqrt(2*float64(cfg.NLayers))
	normal(m.P.Embed, std)
	for l := range m.P.Layers {
		L := &m.P.Layers[l]
		ones(L.AttnNorm)
		ones(L.FFNNorm)
		normal(L.Wq, std)
		normal(L.Wk, std)
		normal(L.Wv, std)
		normal(L.Wo, resStd)
		normal(L.WGate, std)
		normal(L.WUp, std)
		normal(L.WDown, resStd)
	}
	ones(m.P.OutNorm)
	if !tied {
		normal(m.P.Output, std)
	}
	return m, nil
}

// FromWeights copies inference weights into a new training model,
// dequantizing any non-F32 tensor. The output is tied when w.Output is nil
// or the same matrix as w.Embed.
func FromWeights(cfg model.Config, w *model.Weights) (*Model, error) {
	if w == nil || w.Embed == nil {
		return nil, errors.New("train: from weights: no embedding")
	}
	tied := w.Output == nil || w.Output == w.Embed
	m, err := New(cfg, tied)
	if err != nil {
		return nil, err
	}
	cfg = m.Config
	if len(w.Layers) != cfg.NLayers {
		return nil, fmt.Errorf("train: from weights: %d layers, config says %d", len(w.Layers), cfg.NLayers)
	}
	d, h := cfg.Dim, cfg.HiddenDim
	qd, kvd := cfg.NHeads*cfg.HeadDim, cfg.NKVHeads*cfg.HeadDim
	mat := func(name string, dst []float32, src *kernels.Matrix, rows, cols int) error {
		if src == nil {
			return fmt.Errorf("train: from weights: %s missing", name)
		}
		if src.Rows != rows || src.Cols != cols {
			return fmt.Errorf("train: from weights: %s is %d×%d, want %d×%d", name, src.Rows, src.Cols, rows, cols)
		}
		return dequantMatrix(name, dst, src)
	}
	vec := func(name string, dst, src []float32) error {
		if len(src) != len(dst) {
			return fmt.Errorf("train: from weights: %s has %d values, want %d", name, len(src), len(dst))
		}
		copy(dst, src)
		return nil
	}
	if err := mat("token_embd", m.P.Embed, w.Embed, cfg.VocabSize, d); err != nil {
		return nil, err
	}
	for l := range w.Layers {
		src, dst := &w.Layers[l], &m.P.Layers[l]
		p := fmt.Sprintf("blk.%d.", l)
		for _, e := range []error{
			vec(p+"attn_norm", dst.AttnNorm, src.AttnNorm),
			mat(p+"attn_q", dst.Wq, src.Wq, qd, d),
			mat(p+"attn_k", dst.Wk, src.Wk, kvd, d),
			mat(p+"attn_v", dst.Wv, src.Wv, kvd, d),
			mat(p+"attn_output", dst.Wo, src.Wo, d, qd),
			vec(p+"ffn_norm", dst.FFNNorm, src.FFNNorm),
			mat(p+"ffn_gate", dst.WGate, src.WGate, h, d),
			mat(p+"ffn_down", dst.WDown, src.WDown, d, h),
			mat(p+"ffn_up", dst.WUp, src.WUp, h, d),
		} {
			if e != nil {
				return nil, e
			}
		}
	}
	if err := vec("output_norm", m.P.OutNorm, w.OutNorm); err != nil {
		return nil, err
	}
	if !tied {
		if err := mat("output", m.P.Output, w.Output, cfg.VocabSize, d); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// dequantMatrix expands src into dst row by row.
func dequantMatrix(name string, dst []float32, src *kernels.Matrix) error {
	if src.Type == ggml.F32 && src.F32 != nil {
		if len(src.F32) < len(dst) {
			return fmt.Errorf("train: %s: %d values, want %d", name, len(src.F32), len(dst))
		}
		copy(dst, src.F32)
		return nil
	}
	rb, err := src.Type.RowBytes(src.Cols)
	if err != nil {
		return fmt.Errorf("train: %s: %w", name, err)
	}
	if len(src.Data) < rb*src.Rows {
		return fmt.Errorf("train: %s: %d bytes, want %d", name, len(src.Data), rb*src.Rows)
	}
	for r := 0; r < src.Rows; r++ {
		if err := ggml.Dequantize(src.Type, src.Data[r*rb:(r+1)*rb], dst[r*src.Cols:(r+1)*src.Cols]); err != nil {
			return fmt.Errorf("train: %s row %d: %w", name, r, err)
		}
	}
	return nil
}

// ToWeights returns inference weights (F32) viewing the model's current
// parameters — no copy, so they change as training goes on; use Clone
// first for a snapshot. A tied model's Output is the same matrix as Embed.
func (m *Model) ToWeights() *model.Weights {
	cfg := m.Config
	d, h := cfg.Dim, cfg.HiddenDim
	qd, kvd := cfg.NHeads*cfg.HeadDim, cfg.NKVHeads*cfg.HeadDim
	mat := func(x []float32, rows, cols int) *kernels.Matrix {
		return &kernels.Matrix{Type: ggml.F32, Rows: rows, Cols: cols, F32: x}
	}
	w := &model.Weights{Embed: mat(m.P.Embed, cfg.VocabSize, d), OutNorm: m.P.OutNorm}
	w.Layers = make([]model.Layer, cfg.NLayers)
	for l, L := range m.P.Layers {
		w.Layers[l] = model.Layer{
			AttnNorm: L.AttnNorm, FFNNorm: L.FFNNorm,
			Wq: mat(L.Wq, qd, d), Wk: mat(L.Wk, kvd, d), Wv: mat(L.Wv, kvd, d), Wo: mat(L.Wo, d, qd),
			WGate: mat(L.WGate, h, d), WDown: mat(L.WDown, d, h), WUp: mat(L.WUp, h, d),
		}
	}
	if m.Tied {
		w.Output = w.Embed
	} else {
		w.Output = mat(m.P.Output, cfg.VocabSize, d)
	}
	return w
}

// Clone returns a deep copy of the parameters (and a fresh gradient buffer
// when the model trains its base); LoRA adapters are not copied.
func (m *Model) Clone() *Model {
	c := &Model{Config: m.Config, Tied: m.Tied, segs: m.segs, trainBase: m.trainBase}
	c.data = append([]float32(nil), m.data...)
	c.P = views(m.Config, m.Tied, c.data)
	if m.grad != nil {
		c.grad = make([]float32, len(m.data))
		c.G = views(m.Config, m.Tied, c.grad)
	}
	return c
}

// Share returns a model that reads the same parameter buffer (not a copy)
// with its own activations and no gradients or adapters: the frozen
// reference for KL, DPO and KTO. Changing m's base changes the share too.
func (m *Model) Share() *Model {
	return &Model{Config: m.Config, Tied: m.Tied, segs: m.segs, data: m.data, P: m.P}
}

// NumParams is the number of base parameters (a tied classifier counted once).
func (m *Model) NumParams() int { return len(m.data) }

// Data is the flat parameter buffer (every tensor, in layout order).
func (m *Model) Data() []float32 { return m.data }

// Segments lists the tensors of the flat buffer with their GGUF names.
func (m *Model) Segments() []Segment { return m.segs }
