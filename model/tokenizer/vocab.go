// Package tokenizer implements the tokenizers of Llama-family models the way
// llama.cpp does: SentencePiece-BPE ("llama": score-ranked merges, byte
// fallback, the leading-space rule) and byte-level BPE ("gpt2": GPT-2 byte
// mapping, ranked merges and the pre-tokenizers named by
// tokenizer.ggml.pre), plus UTF-8-safe incremental decoding for streaming.
//
// Vocabularies come from GGUF metadata (FromGGUF), from llama2.c's
// tokenizer.bin (LoadLlama2C), or are built by hand; New validates one and
// builds a Tokenizer, which is safe for concurrent use.
package tokenizer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
)

// Token types as stored in tokenizer.ggml.token_type (llama.cpp's
// llama_token_type).
const (
	TypeUndefined   int32 = 0
	TypeNormal      int32 = 1
	TypeUnknown     int32 = 2
	TypeControl     int32 = 3
	TypeUserDefined int32 = 4
	TypeUnused      int32 = 5
	TypeByte        int32 = 6
)

// Model names (tokenizer.ggml.model).
const (
	ModelSPM = "llama" // SentencePiece BPE
	ModelBPE = "gpt2"  // byte-level BPE
)

// Vocab is a tokenizer vocabulary as GGUF stores it.
type Vocab struct {
	Model  string    // "llama" (SentencePiece BPE) or "gpt2" (byte-level BPE)
	Pre    string    // pre-tokenizer of a "gpt2" model ("" means "default")
	Tokens []string  // token texts, by id
	Scores []float32 // merge scores ("llama"); nil means all 0
	Types  []int32   // token types (Type*); nil means all normal
	Merges []string  // "left right" merge rules, highest priority first ("gpt2")

	BOS, EOS, UNK, PAD int // special token ids, -1 = none

	AddBOS, AddEOS bool // whether a sequence starts with BOS / ends with EOS
	AddSpacePrefix bool // "llama": prefix raw text with a space (default true)

	// Name is the model name (general.name), used only for llama.cpp's
	// per-model token attributes (Phi-3 strips whitespace after its
	// special tokens). Optional.
	Name string
}

// GGUF metadata keys read by FromGGUF.
const (
	keyModel       = "tokenizer.ggml.model"
	keyPre         = "tokenizer.ggml.pre"
	keyTokens      = "tokenizer.ggml.tokens"
	keyScores      = "tokenizer.ggml.scores"
	keyTypes       = "tokenizer.ggml.token_type"
	keyMerges      = "tokenizer.ggml.merges"
	keyBOS         = "tokenizer.ggml.bos_token_id"
	keyEOS         = "tokenizer.ggml.eos_token_id"
	keyUNK         = "tokenizer.ggml.unknown_token_id"
	keyPAD         = "tokenizer.ggml.padding_token_id"
	keyAddBOS      = "tokenizer.ggml.add_bos_token"
	keyAddEOS      = "tokenizer.ggml.add_eos_token"
	keyAddPrefix   = "tokenizer.ggml.add_space_prefix"
	keyGeneralName = "general.name"
)

// metadata is the part of *gguf.File that FromGGUF uses.
type metadata interface {
	Get(key string) (any, bool)
	String(key string) (string, bool)
	Uint(key string) (uint64, bool)
	Bool(key string) (bool, bool)
	Strings(key string) ([]string, bool)
	Float32s(key string) ([]float32, bool)
	Int32s(key string) ([]int32, bool)
}

// fromMetadata reads a vocabulary from GGUF-style metadata, applying
// llama.cpp's defaults for keys that are absent.
func fromMetadata(f metadata) (*Vocab, error) {
	model, ok := f.String(keyModel)
	if !ok {
		if _, present := f.Get(keyModel); present {
			return nil, fmt.Errorf("tokenizer: %s is not a string", keyModel)
		}
		return nil, fmt.Errorf("tokenizer: metadata has no %s", keyModel)
	}
	v := &Vocab{Model: model, BOS: -1, EOS: -1, UNK: -1, PAD: -1}
	switch model {
	case ModelSPM:
		v.BOS, v.EOS, v.UNK = 1, 2, 0
		v.AddBOS, v.AddSpacePrefix = true, true
	case ModelBPE:
		v.BOS, v.EOS = 11, 11 // llama.cpp's defaults (from Falcon)
	case "bert":
		return nil, fmt.Errorf("tokenizer: %s %q (WordPiece) is not supported", keyModel, model)
	default:
		return nil, fmt.Errorf("tokenizer: %s %q is not supported (want %q or %q)", keyModel, model, ModelSPM, ModelBPE)
	}
	if s, ok := f.String(keyPre); ok {
		v.Pre = s
	}
	v.Name, _ = f.String(keyGeneralName)

	toks, ok := f.Strings(keyTokens)
	if !ok {
		return nil, fmt.Errorf("tokenizer: metadata has no string array %s", keyTokens)
	}
	v.Tokens = toks
	if _, present := f.Get(keyScores); present {
		s, ok := f.Float32s(keyScores)
		if !ok {
			return nil, fmt.Errorf("tokenizer: %s is not a float32 array", keyScores)
		}
		v.Scores = s
	}
	if _, present := f.Get(keyTypes); present {
		t, ok := f.Int32s(keyTypes)
		if !ok {
			return nil, fmt.Errorf("tokenizer: %s is not an integer array", keyTypes)
		}
		v.Types = t
	}
	if model == ModelBPE {
		m, ok := f.Strings(keyMerges)
		if !ok {
			return nil, fmt.Errorf("tokenizer: %s model without string array %s", model, keyMerges)
		}
		v.Merges = m
	}
	for _, s := range []struct {
		key string
		dst *int
	}{{keyBOS, &v.BOS}, {keyEOS, &v.EOS}, {keyUNK, &v.UNK}, {keyPAD, &v.PAD}} {
		if _, present := f.Get(s.key); !present {
			continue
		}
		id, ok := f.Uint(s.key)
		if !ok {
			return nil, fmt.Errorf("tokenizer: %s is not a non-negative integer", s.key)
		}
		// llama.cpp keeps the default for an out-of-range id (with a warning).
		if id < uint64(len(v.Tokens)) {
			*s.dst = int(id)
		}
	}
	for _, b := range []struct {
		key string
		dst *bool
	}{{keyAddBOS, &v.AddBOS}, {keyAddEOS, &v.AddEOS}, {keyAddPrefix, &v.AddSpacePrefix}} {
		if _, present := f.Get(b.key); !present {
			continue
		}
		x, ok := f.Bool(b.key)
		if !ok {
			return nil, fmt.Errorf("tokenizer: %s is not a bool", b.key)
		}
		*b.dst = x
	}
	// Defaults that name tokens the vocabulary does not have mean "none".
	for _, id := range []*int{&v.BOS, &v.EOS, &v.UNK, &v.PAD} {
		if *id >= len(v.Tokens) {
			*id = -1
		}
	}
	if v.BOS < 0 {
		v.AddBOS = false
	}
	if v.EOS < 0 {
		v.AddEOS = false
	}
	return v, nil
}

// maxLlama2CTokenLen bounds one token of a tokenizer.bin (llama2.c's own
// vocabularies stay under 64 bytes).
const maxLlama2CTokenLen = 1 << 16

// LoadLlama2C reads llama2.c's tokenizer.bin: int32 max_token_length, then
// per token float32 score, int32 length and the bytes. vocabSize is the
// model's vocabulary size (tokens after it are ignored); vocabSize <= 0
// reads every token in the file. Spaces in token texts become U+2581 as in
// SentencePiece; ids 0, 1, 2 are <unk>, BOS and EOS as in run.c.
func LoadLlama2C(path string, vocabSize int) (*Vocab, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: read %s: %w", path, err)
	}
	v, err := parseLlama2C(b, vocabSize)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	return v, nil
}

func parseLlama2C(b []byte, vocabSize int) (*Vocab, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("llama2.c tokenizer: %d bytes, too short for the header: %w", len(b), io.ErrUnexpectedEOF)
	}
	maxLen := int32(binary.LittleEndian.Uint32(b))
	if maxLen <= 0 || maxLen > maxLlama2CTokenLen {
		return nil, fmt.Errorf("llama2.c tokenizer: max_token_length %d out of range", maxLen)
	}
	if vocabSize > 0 && vocabSize > (len(b)-4)/8 {
		return nil, fmt.Errorf("llama2.c tokenizer: vocab size %d needs at least %d bytes, file has %d", vocabSize, 4+8*vocabSize, len(b))
	}
	capacity := vocabSize
	if capacity <= 0 {
		capacity = 0
	}
	v := &Vocab{
		Model: ModelSPM, BOS: 1, EOS: 2, UNK: 0, PAD: -1,
		AddBOS: true, AddSpacePrefix: true,
		Tokens: make([]string, 0, capacity),
		Scores: make([]float32, 0, capacity),
		Types:  make([]int32, 0, capacity),
	}
	off := 4
	for i := 0; vocabSize <= 0 || i < vocabSize; i++ {
		if vocabSize <= 0 && off == len(b) {
			break
		}
		if len(b)-off < 8 {
			return nil, fmt.Errorf("llama2.c tokenizer: token %d: header at offset %d: %w", i, off, io.ErrUnexpectedEOF)
		}
		score := math.Float32frombits(binary.LittleEndian.Uint32(b[off:]))
		n := int32(binary.LittleEndian.Uint32(b[off+4:]))
		off += 8
		if n < 0 || n > maxLlama2CTokenLen {
			return nil, fmt.Errorf("llama2.c tokenizer: token %d: bad length %d", i, n)
		}
		if int(n) > len(b)-off {
			return nil, fmt.Errorf("llama2.c tokenizer: token %d: length %d past the end of the file: %w", i, n, io.ErrUnexpectedEOF)
		}
		text := string(b[off : off+int(n)])
		off += int(n)
		typ := TypeNormal
		switch {
		case i == 0:
			typ = TypeUnknown
		case i == 1 || i == 2:
			typ = TypeControl
			// llama2.c exports BOS/EOS as "\n<s>\n" and "\n</s>\n".
			if t := strings.TrimSpace(text); t == "<s>" || t == "</s>" {
				text = t
			}
		case isByteToken(text):
			typ = TypeByte
		default:
			text = strings.ReplaceAll(text, " ", spaceMarker)
		}
		v.Tokens = append(v.Tokens, text)
		v.Scores = append(v.Scores, score)
		v.Types = append(v.Types, typ)
	}
	if len(v.Tokens) == 0 {
		return nil, errors.New("llama2.c tokenizer: no tokens")
	}
	for _, id := range []*int{&v.BOS, &v.EOS, &v.UNK} {
		if *id >= len(v.Tokens) {
			*id = -1
		}
	}
	if v.BOS < 0 {
		v.AddBOS = false
	}
	return v, nil
}

// isByteToken reports whether s has the form <0xXX> (upper- or lower-case hex).
func isByteToken(s string) bool {
	_, ok := parseByteToken(s)
	return ok
}

func parseByteToken(s string) (byte, bool) {
	if len(s) != 6 || s[0] != '<' || s[1] != '0' || s[2] != 'x' || s[5] != '>' {
		return 0, false
	}
	hi, ok1 := hexVal(s[3])
	lo, ok2 := hexVal(s[4])
	if !ok1 || !ok2 {
		return 0, false
	}
	return hi<<4 | lo, true
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
