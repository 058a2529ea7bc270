// Package model is hone's Llama-family transformer in pure Go: weights
// (GGUF, llama2.c), tokenizers, KV cache, sampling and generation. It
// imports nothing of the rest of the app.
package model

import "github.com/hone-ai/hone/model/kernels"

// Config is the shape of a Llama-family model.
type Config struct {
	Arch       string  // "llama"
	Dim        int     // embedding width
	HiddenDim  int     // feed-forward width
	NLayers    int     // transformer blocks
	NHeads     int     // query heads
	NKVHeads   int     // key/value heads (grouped-query attention when < NHeads)
	HeadDim    int     // Dim / NHeads unless the file says otherwise
	VocabSize  int     // rows of the embedding
	ContextLen int     // trained context window
	RopeBase   float32 // rope.freq_base (10000 by default)
	NormEps    float32 // RMSNorm epsilon (1e-5 by default)
}

// Layer is one transformer block. Struct tags name the GGUF tensors
// (blk.N.<tag>.weight).
type Layer struct {
	AttnNorm []float32       `gguf:"attn_norm"`
	Wq       *kernels.Matrix `gguf:"attn_q"`
	Wk       *kernels.Matrix `gguf:"attn_k"`
	Wv       *kernels.Matrix `gguf:"attn_v"`
	Wo       *kernels.Matrix `gguf:"attn_output"`
	FFNNorm  []float32       `gguf:"ffn_norm"`
	WGate    *kernels.Matrix `gguf:"ffn_gate"` // w1
	WDown    *kernels.Matrix `gguf:"ffn_down"` // w2
	WUp      *kernels.Matrix `gguf:"ffn_up"`   // w3
}

// Weights are all the parameters of a model. Output is the classifier; when
// the file has none (tied output) it is the same matrix as Embed.
type Weights struct {
	Embed   *kernels.Matrix `gguf:"token_embd"`
	Layers  []Layer         `gguf:"blk"`
	OutNorm []float32       `gguf:"output_norm"`
	Output  *kernels.Matrix `gguf:"output"`
}
