package model

import (
	"errors"
	"fmt"
	"math"

	"github.com/hone-ai/hone/model/ggml"
	"github.com/hone-ai/hone/model/kernels"
)

// Limits on what a loader accepts, so absurd headers fail with an error
// instead of a giant allocation.
const (
	maxDim        = 1 << 16
	maxLayers     = 1 << 10
	maxHeads      = 1 << 10
	maxVocab      = 1 << 22
	maxContextLen = 1 << 22
)

// withDefaults fills the fields a file may leave out.
func (c Config) withDefaults() Config {
	if c.Arch == "" {
		c.Arch = "llama"
	}
	if c.NKVHeads == 0 {
		c.NKVHeads = c.NHeads
	}
	if c.HeadDim == 0 && c.NHeads > 0 {
		c.HeadDim = c.Dim / c.NHeads
	}
	if c.RopeDim == 0 {
		c.RopeDim = c.HeadDim
	}
	if c.RopeBase == 0 {
		c.RopeBase = 10000
	}
	if c.NormEps == 0 {
		c.NormEps = 1e-5
	}
	return c
}

// Validate reports the first inconsistency in c.
func (c Config) Validate() error {
	check := func(name string, v, lo, hi int) error {
		if v < lo || v > hi {
			return fmt.Errorf("model config: %s = %d out of range [%d, %d]", name, v, lo, hi)
		}
		return nil
	}
	for _, e := range []error{
		check("dim", c.Dim, 1, maxDim),
		check("hidden_dim", c.HiddenDim, 1, 1<<18),
		check("n_layers", c.NLayers, 1, maxLayers),
		check("n_heads", c.NHeads, 1, maxHeads),
		check("n_kv_heads", c.NKVHeads, 1, maxHeads),
		check("head_dim", c.HeadDim, 2, maxDim),
		check("vocab_size", c.VocabSize, 1, maxVocab),
		check("context_len", c.ContextLen, 1, maxContextLen),
		check("rope_dim", c.RopeDim, 0, c.HeadDim),
	} {
		if e != nil {
			return e
		}
	}
	if c.Arch != "llama" {
		return fmt.Errorf("model config: architecture %q is not supported (only llama)", c.Arch)
	}
	if c.NHeads%c.NKVHeads != 0 {
		return fmt.Errorf("model config: n_heads %d is not a multiple of n_kv_heads %d", c.NHeads, c.NKVHeads)
	}
	if c.HeadDim%2 != 0 || c.RopeDim%2 != 0 {
		return fmt.Errorf("model config: head_dim %d and rope_dim %d must be even", c.HeadDim, c.RopeDim)
	}
	if !(c.RopeBase > 0) || math.IsInf(float64(c.RopeBase), 0) {
		return fmt.Errorf("model config: rope freq_base %v is not a positive number", c.RopeBase)
	}
	if !(c.NormEps >= 0) || c.NormEps > 1 {
		return fmt.Errorf("model config: rms epsilon %v out of range", c.NormEps)
	}
	return nil
}

// QDim is the width of the attention queries, NHeads·HeadDim.
func (c Config) QDim() int { return c.NHeads * c.HeadDim }

// KVDim is the width of one position of the KV cache, NKVHeads·HeadDim.
func (c Config) KVDim() int { return c.NKVHeads * c.HeadDim }

// KVCacheBytes is the size of a full KV cache of n positions (F32 keys
// and values for every layer).
func (c Config) KVCacheBytes(n int) int64 {
	return int64(n) * int64(c.NLayers) * int64(c.KVDim()) * 2 * 4
}

// matrixShape is the expected Rows×Cols of each weight matrix by its GGUF
// tag, and the length of each norm vector.
func (c Config) matrixShape(tag string) (rows, cols int, ok bool) {
	switch tag {
	case "token_embd", "output":
		return c.VocabSize, c.Dim, true
	case "attn_q":
		return c.QDim(), c.Dim, true
	case "attn_k", "attn_v":
		return c.KVDim(), c.Dim, true
	case "attn_output":
		return c.Dim, c.QDim(), true
	case "ffn_gate", "ffn_up":
		return c.HiddenDim, c.Dim, true
	case "ffn_down":
		return c.Dim, c.HiddenDim, true
	case "attn_norm", "ffn_norm", "output_norm":
		return 1, c.Dim, true
	}
	return 0, 0, false
}

// checkMatrix validates one matrix against its expected shape.
func checkMatrix(name string, m *kernels.Matrix, rows, cols int) error {
	if m == nil {
		return fmt.Errorf("tensor %s: missing", name)
	}
	if m.Rows != rows || m.Cols != cols {
		return fmt.Errorf("tensor %s: shape %d×%d, want %d×%d", name, m.Rows, m.Cols, rows, cols)
	}
	if m.Type == ggml.F32 {
		if len(m.F32) != rows*cols {
			return fmt.Errorf("tensor %s: %d float32 values, want %d", name, len(m.F32), rows*cols)
		}
		return nil
	}
	if !m.Type.Supported() {
		return fmt.Errorf("tensor %s: type %s is not supported", name, m.Type)
	}
	rb, err := m.Type.RowBytes(cols)
	if err != nil {
		return fmt.Errorf("tensor %s: %w", name, err)
	}
	if len(m.Data) != rb*rows {
		return fmt.Errorf("tensor %s: %d bytes of %s data, want %d", name, len(m.Data), m.Type, rb*rows)
	}
	return nil
}

// validateWeights checks every tensor of w against c.
func validateWeights(c Config, w *Weights) error {
	vec := func(name string, v []float32) error {
		if len(v) != c.Dim {
			return fmt.Errorf("tensor %s: length %d, want %d", name, len(v), c.Dim)
		}
		return nil
	}
	if err := checkMatrix("token_embd.weight", w.Embed, c.VocabSize, c.Dim); err != nil {
		return err
	}
	if err := checkMatrix("output.weight", w.Output, c.VocabSize, c.Dim); err != nil {
		return err
	}
	if err := vec("output_norm.weight", w.OutNorm); err != nil {
		return err
	}
	if len(w.Layers) != c.NLayers {
		return fmt.Errorf("model has %d layers, config says %d", len(w.Layers), c.NLayers)
	}
	for i := range w.Layers {
		l := &w.Layers[i]
		p := fmt.Sprintf("blk.%d.", i)
		for _, e := range []error{
			vec(p+"attn_norm.weight", l.AttnNorm),
			vec(p+"ffn_norm.weight", l.FFNNorm),
			checkMatrix(p+"attn_q.weight", l.Wq, c.QDim(), c.Dim),
			checkMatrix(p+"attn_k.weight", l.Wk, c.KVDim(), c.Dim),
			checkMatrix(p+"attn_v.weight", l.Wv, c.KVDim(), c.Dim),
			checkMatrix(p+"attn_output.weight", l.Wo, c.Dim, c.QDim()),
			checkMatrix(p+"ffn_gate.weight", l.WGate, c.HiddenDim, c.Dim),
			checkMatrix(p+"ffn_up.weight", l.WUp, c.HiddenDim, c.Dim),
			checkMatrix(p+"ffn_down.weight", l.WDown, c.Dim, c.HiddenDim),
		} {
			if e != nil {
				return e
			}
		}
	}
	return nil
}

// New builds a model from weights held in memory (trained ones, say):
// cfg gets its defaults, every tensor is checked against it (errors name
// the tensor), a nil Output ties the classifier to Embed. The model has no
// tokenizer until SetVocab (or its Tok, Vocab and Template are set).
func New(cfg Config, w Weights) (*Model, error) {
	m, err := newModel(cfg, w, "")
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return m, nil
}

// newModel validates cfg and w and prepares the derived tables.
func newModel(cfg Config, w Weights, path string) (*Model, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if w.Output == nil {
		w.Output = w.Embed
	}
	if err := validateWeights(cfg, &w); err != nil {
		return nil, err
	}
	m := &Model{Config: cfg, Weights: w, Path: path}
	m.rope = make([]float64, cfg.RopeDim/2)
	for j := range m.rope {
		m.rope[j] = math.Pow(float64(cfg.RopeBase), -float64(2*j)/float64(cfg.RopeDim))
	}
	return m, nil
}

// errNoTokens is returned by Eval for an empty batch.
var errNoTokens = errors.New("model: no tokens to evaluate")
