package model

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hone-ai/hone/model/template"
	"github.com/hone-ai/hone/model/tokenizer"
)

// LoadOptions adjust Load.
type LoadOptions struct {
	// Tokenizer is the tokenizer.bin of a llama2.c checkpoint. When empty,
	// Load looks for tokenizer.bin beside the checkpoint. GGUF files carry
	// their own vocabulary and ignore it.
	Tokenizer string
	// Template names the chat template (chatml, llama2, llama3, zephyr,
	// plain), overriding the one detected from the file.
	Template string
	// ContextLen, when > 0, replaces the context window the file states.
	ContextLen int
}

// Format of a model file, sniffed from its first bytes.
const (
	FormatGGUF     = "gguf"
	FormatLlama2C  = "llama2c"
	FormatLlama2C1 = "llama2c-v1"
)

// SniffFormat reports the format of the model file at path: FormatGGUF,
// FormatLlama2C1 (magic 0x616b3432, "ak42") or FormatLlama2C (a legacy header).
func SniffFormat(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("model: %w", err)
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		return "", fmt.Errorf("model %s: reading the magic: %w", path, err)
	}
	switch {
	case bytes.Equal(magic[:], []byte("GGUF")):
		return FormatGGUF, nil
	case bytes.Equal(magic[:], []byte("24ka")):
		return FormatLlama2C1, nil
	}
	return FormatLlama2C, nil
}

// Load opens a model file: GGUF (architecture llama) or a llama2.c
// checkpoint (legacy or v1, with its tokenizer.bin). The weights stay in
// the file's memory mapping until Close.
func Load(path string, opts LoadOptions) (*Model, error) {
	format, err := SniffFormat(path)
	if err != nil {
		return nil, err
	}
	var m *Model
	if format == FormatGGUF {
		m, err = loadGGUF(path, opts)
	} else {
		m, err = loadLlama2C(path, opts)
	}
	if err != nil {
		return nil, err
	}
	m.Format = format
	return m, nil
}

// LoadTokenizer reads only the tokenizer of a model file: the vocabulary
// of a GGUF file (vocabulary-only files work) or, for a llama2.c
// checkpoint, its tokenizer.bin (opts.Tokenizer or beside the file).
func LoadTokenizer(path string, opts LoadOptions) (*tokenizer.Tokenizer, *tokenizer.Vocab, error) {
	format, err := SniffFormat(path)
	if err != nil {
		return nil, nil, err
	}
	if format == FormatGGUF {
		f, err := openGGUF(path)
		if err != nil {
			return nil, nil, err
		}
		defer f.Close()
		return ggufTokenizer(f)
	}
	v, err := llama2cVocab(path, opts, 0)
	if err != nil {
		return nil, nil, err
	}
	tok, err := tokenizer.New(v)
	if err != nil {
		return nil, nil, fmt.Errorf("model %s: tokenizer: %w", path, err)
	}
	return tok, v, nil
}

// llama2cVocab reads the tokenizer.bin of a llama2.c checkpoint.
func llama2cVocab(path string, opts LoadOptions, vocabSize int) (*tokenizer.Vocab, error) {
	tp := opts.Tokenizer
	if tp == "" {
		tp = filepath.Join(filepath.Dir(path), "tokenizer.bin")
		if _, err := os.Stat(tp); err != nil {
			return nil, fmt.Errorf("model %s: a llama2.c checkpoint needs its tokenizer.bin (--tokenizer); none beside it", path)
		}
	}
	v, err := tokenizer.LoadLlama2C(tp, vocabSize)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	return v, nil
}

// finish attaches the tokenizer and chat template.
func (m *Model) finish(v *tokenizer.Vocab, chatTemplate string, opts LoadOptions) error {
	if err := m.SetVocab(v); err != nil {
		return fmt.Errorf("model %s: %w", m.Path, err)
	}
	if opts.Template != "" {
		t, err := template.ByName(opts.Template)
		if err != nil {
			return fmt.Errorf("model %s: %w", m.Path, err)
		}
		m.Template = t
	} else if t, ok := template.Detect(chatTemplate); ok {
		m.Template = t
	} else {
		m.Template = template.Plain()
	}
	m.ChatTemplate = chatTemplate
	return nil
}

// SetVocab gives the model a tokenizer built from v (for models built in
// memory, such as NewRandom's). The vocabulary may not be larger than the
// model's embedding.
func (m *Model) SetVocab(v *tokenizer.Vocab) error {
	tok, err := tokenizer.New(v)
	if err != nil {
		return fmt.Errorf("tokenizer: %w", err)
	}
	if tok.VocabSize() > m.Config.VocabSize {
		return fmt.Errorf("vocabulary has %d tokens but the model's embedding only %d rows", tok.VocabSize(), m.Config.VocabSize)
	}
	m.Tok, m.Vocab = tok, v
	if m.Template == nil {
		m.Template = template.Plain()
	}
	return nil
}
