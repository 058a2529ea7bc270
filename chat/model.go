package chat

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/hone-ai/hone/model"
	"github.com/hone-ai/hone/model/template"
)

// ModelEngine runs a loaded model as the chat's Engine: its chat template
// renders the turns, its tokenizer encodes them (special tokens parsed,
// BOS added when the vocabulary asks for it) and Generate stops at the
// template's stop strings.
type ModelEngine struct {
	M    *model.Model
	name string
}

// FromModel wraps a loaded model; name is what the status line and the
// store call it ("" = the file's base name).
func FromModel(m *model.Model, name string) *ModelEngine {
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(m.Path), filepath.Ext(m.Path))
		if m.Path == "" {
			name = "model"
		}
	}
	return &ModelEngine{M: m, name: name}
}

// Close releases the model's file mappings; no reply may be generating.
func (e *ModelEngine) Close() error { return e.M.Close() }

// Name is the model's display name.
func (e *ModelEngine) Name() string { return e.name }

// ContextLen is the model's context window in tokens.
func (e *ModelEngine) ContextLen() int { return e.M.Config.ContextLen }

func (e *ModelEngine) tmpl() template.Template {
	if e.M.Template != nil {
		return e.M.Template
	}
	return template.Plain()
}

// Prompt renders turns with the model's template and the generation
// prompt, and encodes them.
func (e *ModelEngine) Prompt(turns []Turn) ([]int, error) {
	msgs := make([]template.Message, len(turns))
	for i, t := range turns {
		msgs[i] = template.Message{Role: t.Role, Content: t.Content}
	}
	text := e.tmpl().Render(msgs, true)
	var toks []int
	if tok := e.M.Tok; tok != nil {
		if tok.AddBOS() && tok.BOS() >= 0 {
			toks = append(toks, tok.BOS())
		}
		toks = append(toks, tok.EncodeSpecial(text)...)
	}
	return toks, nil
}

// Generate samples a reply to prompt, streaming its text.
func (e *ModelEngine) Generate(ctx context.Context, prompt []int, s Sampling, emit func(string) error) (Generated, error) {
	opts := model.GenerateOptions{MaxTokens: s.MaxTokens, Stop: e.tmpl().Stop(), Sampling: model.SamplerConfig{
		Temperature: s.Temperature, TopP: s.TopP, MinP: s.MinP, RepeatPenalty: s.RepeatPenalty, TopK: s.TopK, Seed: s.Seed}}
	res, err := e.M.Generate(ctx, prompt, opts, func(t model.Token) error {
		if t.Text == "" || emit == nil {
			return nil
		}
		return emit(t.Text)
	})
	return Generated{Text: res.Text, Tokens: len(res.Tokens), PromptTokens: res.PromptTokens, StopReason: res.StopReason,
		PromptTime: res.PromptDuration, GenTime: res.GenDuration}, err
}
