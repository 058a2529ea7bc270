package model

import (
	"fmt"

	"github.com/hone-ai/hone/model/ggml"
	"github.com/hone-ai/hone/model/kernels"
	"github.com/hone-ai/hone/model/llama2c"
)

// loadLlama2C opens a llama2.c checkpoint; its float32 weights alias the
// file's mapping.
func loadLlama2C(path string, opts LoadOptions) (m *Model, err error) {
	ck, err := llama2c.Open(path)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	defer func() {
		if err != nil {
			ck.Close()
		}
	}()
	h := ck.Header
	cfg := Config{
		Arch: "llama", Dim: h.Dim, HiddenDim: h.HiddenDim, NLayers: h.NLayers,
		NHeads: h.NHeads, NKVHeads: h.NKVHeads, VocabSize: h.VocabSize, ContextLen: h.SeqLen,
		RopeBase: 10000, NormEps: 1e-5,
	}
	if opts.ContextLen > 0 {
		cfg.ContextLen = opts.ContextLen
	}
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	f32 := func(rows, cols int, v []float32) *kernels.Matrix {
		return &kernels.Matrix{Type: ggml.F32, Rows: rows, Cols: cols, F32: v}
	}
	w := Weights{
		Embed:   f32(cfg.VocabSize, cfg.Dim, ck.TokenEmbedding),
		OutNorm: ck.FinalNorm,
		Layers:  make([]Layer, len(ck.Layers)),
	}
	if !h.SharedClassifier {
		w.Output = f32(cfg.VocabSize, cfg.Dim, ck.Classifier)
	} // else newModel ties Output to Embed
	for i, l := range ck.Layers {
		w.Layers[i] = Layer{
			AttnNorm: l.AttnNorm, FFNNorm: l.FFNNorm,
			Wq: f32(cfg.QDim(), cfg.Dim, l.Wq), Wk: f32(cfg.KVDim(), cfg.Dim, l.Wk),
			Wv: f32(cfg.KVDim(), cfg.Dim, l.Wv), Wo: f32(cfg.Dim, cfg.QDim(), l.Wo),
			WGate: f32(cfg.HiddenDim, cfg.Dim, l.W1), WDown: f32(cfg.Dim, cfg.HiddenDim, l.W2),
			WUp: f32(cfg.HiddenDim, cfg.Dim, l.W3),
		}
	}
	m, err = newModel(cfg, w, path)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	m.closers = append(m.closers, ck.Close)
	v, err := llama2cVocab(path, opts, cfg.VocabSize)
	if err != nil {
		return nil, err
	}
	if err := m.finish(v, "", opts); err != nil {
		return nil, err
	}
	return m, nil
}
