package rlhf

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/hone-ai/hone/model"
	"github.com/hone-ai/hone/model/template"
	"github.com/hone-ai/hone/model/train"
)

// Loaded is a policy model: the engine's model (vocabulary, template,
// saving) and its float32 training copy (package train), whose base is
// frozen: policies and reward models train adapters over Shares of it.
type Loaded struct {
	Engine *model.Model
	Train  *train.Model
}

// LoadModel loads a GGUF or llama2.c model (tokenizer: the llama2.c
// tokenizer.bin, ignored for GGUF) for training.
func LoadModel(path, tokenizer string) (*Loaded, error) {
	e, err := model.Load(path, model.LoadOptions{Tokenizer: tokenizer})
	if err != nil {
		return nil, err
	}
	if e.Tok == nil {
		e.Close()
		return nil, fmt.Errorf("%s: the model has no tokenizer (give --tokenizer)", path)
	}
	m, err := train.FromWeights(e.Config, &e.Weights)
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m.SetTrainBase(false) // the frozen base: no gradient buffer
	return &Loaded{Engine: e, Train: m}, nil
}

// Chat reports whether the model is a chat model: one with a chat
// template its prompts go through (a base model's is "plain").
func (l *Loaded) Chat() bool {
	return l.Engine.Template != nil && l.Engine.Template.Name() != "plain"
}

// Tok is the model's tokenizer.
func (l *Loaded) Tok() TextTokenizer { return l.Engine.Tok }

// BOS is the token prepended to prompts, or −1.
func (l *Loaded) BOS() int {
	if l.Engine.Vocab != nil && !l.Engine.Vocab.AddBOS {
		return -1
	}
	return l.Engine.Tok.BOS()
}

// Stops are the tokens that end a reply.
func (l *Loaded) Stops() []int {
	var s []int
	if b := l.Engine.Tok.BOS(); b >= 0 {
		s = append(s, b)
	}
	if e := l.Engine.Tok.EOS(); e >= 0 {
		s = append(s, e)
	}
	return s
}

// PromptTokens renders a conversation with the model's chat template
// (generation prompt added) and tokenizes it, BOS first when the model
// wants one.
func (l *Loaded) PromptTokens(turns []Turn) []int {
	msgs := make([]template.Message, len(turns))
	for i, t := range turns {
		msgs[i] = template.Message{Role: t.Role, Content: t.Content}
	}
	text := l.Engine.Template.Render(msgs, true)
	var toks []int
	if b := l.BOS(); b >= 0 {
		toks = append(toks, b)
	}
	return append(toks, l.Engine.Tok.EncodeSpecial(text)...)
}

// SaveGGUF writes what m computes (its adapter merged) as a whole-model
// GGUF (F32, with the engine model's vocabulary and metadata) atomically
// at path.
func (l *Loaded) SaveGGUF(path string, m *train.Model, name string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("save policy %s: %w", path, err)
	}
	if err := train.SaveGGUF(path, m, l.Engine, model.SaveOptions{Name: name}); err != nil {
		return fmt.Errorf("save policy %s: %w", path, err)
	}
	return nil
}
