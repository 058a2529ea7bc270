package tokenizer

import (
	"errors"

	"github.com/hone-ai/hone/model/gguf"
)

// FromGGUF reads the vocabulary stored in a GGUF file's tokenizer.ggml.*
// metadata (model, pre, tokens, scores, token_type, merges, the special
// token ids, add_bos_token, add_eos_token, add_space_prefix), applying
// llama.cpp's defaults for absent keys.
func FromGGUF(f *gguf.File) (*Vocab, error) {
	if f == nil {
		return nil, errors.New("tokenizer: nil GGUF file")
	}
	return fromMetadata(f)
}
