// Package model is hone's Llama-family transformer in pure Go: weights
// (GGUF, llama2.c), tokenizers, KV cache, sampling and generation. It
// imports nothing of the rest of the app.
//
// # Loading
//
// [Load] opens a GGUF file (architecture "llama"; tensor types F32, F16,
// BF16, Q8_0, Q4_0, Q4_K, Q6_K) or a llama2.c checkpoint (legacy v0 or v1
// "ak42", with its tokenizer.bin given in [LoadOptions]). The format is
// sniffed from the file's magic. Weights stay in the memory-mapped file:
// F32 matrices alias the mapping and every other type keeps its raw GGML
// blocks, so a loaded model costs little more than its file size.
//
// # Evaluation
//
// A [Session] owns a KV cache. [Session.Eval] runs tokens through the
// model (a prompt as one batched, matrix–matrix prefill; a single token as
// a decode step) and returns the logits of the last one. [Model.Logits]
// returns the logits of every position of a sequence.
//
// # The context window rule
//
// A session holds at most Config.ContextLen positions. Eval of tokens that
// would go past ContextLen evaluates nothing and returns an error that
// matches [ErrContextFull] (errors.Is) and is a *[ContextFullError] giving
// the numbers. Generate never slides or trims the window: when the session
// is full it stops with StopReason "context" (after emitting the last
// token it could sample). A prompt that does not fit at all is an error
// matching ErrContextFull. Fitting the conversation into the window —
// dropping or summarising old turns — is the caller's job (the chat layer
// trims history before calling).
//
// # Generation
//
// [Model.Generate] and [Session.Generate] sample tokens with a
// [SamplerConfig] (greedy when Temperature is 0; otherwise repetition
// penalty, temperature, top-k, top-p and min-p, seeded and reproducible)
// and stream them as [Token]s whose Text is always whole UTF-8. They stop
// at the end-of-sequence token, at a BOS or other control token (run.c
// stops on BOS), at a stop string (never emitted; text that could begin
// one is held back until it cannot), at MaxTokens, at the full context
// window, or on cancellation of the context.
package model

import (
	"github.com/hone-ai/hone/model/kernels"
	"github.com/hone-ai/hone/model/template"
	"github.com/hone-ai/hone/model/tokenizer"
)

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
	// RopeDim is the number of leading elements of each head that RoPE
	// rotates (rope.dimension_count); 0 means HeadDim.
	RopeDim int
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
	Output  *kernels.Matrix `gguf:"output,optional"`
}

// Model is a loaded (or built) Llama-family model. It is read-only once
// built: any number of Sessions may run on it at once.
type Model struct {
	Config  Config
	Weights Weights
	Path    string // the file it was loaded from ("" when built in memory)
	Format  string // FormatGGUF, FormatLlama2C or FormatLlama2C1 ("" when built in memory)

	// Tok is the tokenizer and Vocab the vocabulary it was built from
	// (nil for a model built by NewRandom until SetVocab).
	Tok   *tokenizer.Tokenizer
	Vocab *tokenizer.Vocab
	// Template is the chat template: the one the file's
	// tokenizer.chat_template matches, LoadOptions.Template, or plain.
	Template template.Template
	// ChatTemplate is the file's tokenizer.chat_template ("" if none).
	ChatTemplate string

	rope    []float64 // inverse RoPE frequencies, RopeDim/2 of them
	closers []func() error
}

// Close releases the file mappings behind the weights. The model and its
// sessions must not be used afterwards.
func (m *Model) Close() error {
	var first error
	for i := len(m.closers) - 1; i >= 0; i-- {
		if err := m.closers[i](); err != nil && first == nil {
			first = err
		}
	}
	m.closers = nil
	return first
}
