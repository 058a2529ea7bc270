// Package defaultmodel builds and ships hone's embedded default model: a
// small bilingual (Korean/English) ChatML assistant trained from scratch
// on the corpus package's generated conversations with a byte-level BPE
// vocabulary of our own. Pretrain reproduces it from the committed
// settings; Evaluate measures it on held-out generated prompts.
package defaultmodel

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hone-ai/hone/model"
	"github.com/hone-ai/hone/model/defaultmodel/bpe"
	"github.com/hone-ai/hone/model/defaultmodel/corpus"
	"github.com/hone-ai/hone/model/ggml"
	"github.com/hone-ai/hone/model/template"
	"github.com/hone-ai/hone/model/tokenizer"
	"github.com/hone-ai/hone/model/train"
)

// Settings are everything that determines the default model.
type Settings struct {
	Seed      uint64 `json:"seed"`
	Examples  int    `json:"examples"`   // generated conversations
	VocabSize int    `json:"vocab_size"` // BPE vocabulary incl. bytes and specials
	Pre       string `json:"pre"`        // tokenizer.ggml.pre of the vocabulary

	Dim       int     `json:"dim"`
	HiddenDim int     `json:"hidden_dim"`
	Layers    int     `json:"layers"`
	Heads     int     `json:"heads"`
	KVHeads   int     `json:"kv_heads"`
	Context   int     `json:"context"`
	RopeBase  float32 `json:"rope_base"`

	Steps       int     `json:"steps"`
	Batch       int     `json:"batch"` // sequences per step
	LR          float32 `json:"lr"`
	Warmup      int     `json:"warmup"`
	WeightDecay float32 `json:"weight_decay"`
	ClipNorm    float32 `json:"clip_norm"`
	// Type is the weight type of the shipped file: "f32", "f16" or "q8_0".
	Type string `json:"type"`
	// WholeText is the share of conversations in which every token is
	// learned, the user's turns too; the rest learn the assistant's reply
	// only. Learning whole conversations makes the model a language model
	// of the dialogue, not only of its own replies: its loss on held-out
	// conversations (the RLHF gates' and the lab's LM-loss drift) then
	// measures what the model knows of the language, not just how it
	// phrases its answers.
	WholeText float64 `json:"whole_text"`
}

//go:embed settings.json
var settingsJSON []byte

// DefaultSettings are the committed settings of the shipped model.
func DefaultSettings() (Settings, error) {
	var s Settings
	if err := json.Unmarshal(settingsJSON, &s); err != nil {
		return s, fmt.Errorf("defaultmodel: settings.json: %w", err)
	}
	return s, nil
}

// Special tokens of the default vocabulary (ChatML).
const (
	tokEndOfText = "<|endoftext|>"
	tokImStart   = "<|im_start|>"
	tokImEnd     = "<|im_end|>"
)

// ChatMLTemplate is the Jinja chat template written into the GGUF, the
// one ChatML models ship, so other tools pick the right format too.
const ChatMLTemplate = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"

// Progress reports pretraining as it goes.
type Progress struct {
	Stage   string // "corpus", "tokenizer", "train", "save"
	Step    int
	Steps   int
	Loss    float32
	Elapsed time.Duration
}

// Options of a pretraining run besides the settings.
type Options struct {
	ChatbotData string // optional path of ChatbotData.csv
	Out         string // output GGUF path
	Progress    func(Progress)
}

// BuildVocab generates the corpus and trains the byte-level BPE vocabulary
// on it.
func BuildVocab(ctx context.Context, s Settings, examples []corpus.Example) (*tokenizer.Vocab, error) {
	var texts []string
	for _, ex := range examples {
		for _, m := range ex.Messages {
			texts = append(texts, m.Content)
		}
		texts = append(texts, "user\nassistant\nsystem\n")
	}
	split := func(t string) []string {
		w, err := tokenizer.PreTokenize(s.Pre, t)
		if err != nil {
			return nil
		}
		return w
	}
	if _, err := tokenizer.PreTokenize(s.Pre, "x"); err != nil {
		return nil, fmt.Errorf("defaultmodel: settings pre %q: %w", s.Pre, err)
	}
	bv, err := bpe.Train(ctx, texts, bpe.Options{
		Size:     s.VocabSize,
		Specials: []string{tokEndOfText, tokImStart, tokImEnd},
		Split:    split,
	})
	if err != nil {
		return nil, fmt.Errorf("defaultmodel: tokenizer: %w", err)
	}
	v := &tokenizer.Vocab{
		Model:  tokenizer.ModelBPE,
		Pre:    s.Pre,
		Tokens: bv.Tokens,
		Types:  bv.Types,
		Merges: bv.Merges,
		BOS:    256, EOS: 258, UNK: -1, PAD: 256,
		Name: "hone-default",
	}
	if v.Tokens[256] != tokEndOfText || v.Tokens[258] != tokImEnd {
		return nil, fmt.Errorf("defaultmodel: special tokens out of place")
	}
	return v, nil
}

// Config returns the model shape of the settings for a vocabulary size.
func (s Settings) Config(vocab int) model.Config {
	return model.Config{
		Arch: "llama", Dim: s.Dim, HiddenDim: s.HiddenDim, NLayers: s.Layers,
		NHeads: s.Heads, NKVHeads: s.KVHeads, HeadDim: s.Dim / s.Heads,
		VocabSize: vocab, ContextLen: s.Context, RopeBase: s.RopeBase, NormEps: 1e-5,
	}
}

// WeightType parses Settings.Type.
func (s Settings) WeightType() (ggml.Type, error) {
	switch s.Type {
	case "f32", "":
		return ggml.F32, nil
	case "f16":
		return ggml.F16, nil
	case "q8_0":
		return ggml.Q8_0, nil
	}
	return 0, fmt.Errorf("defaultmodel: settings type %q: want f32, f16 or q8_0", s.Type)
}

// Pretrain builds the default model from scratch and writes it as GGUF.
func Pretrain(ctx context.Context, s Settings, opts Options) error {
	start := time.Now()
	report := func(p Progress) {
		if opts.Progress != nil {
			p.Elapsed = time.Since(start)
			opts.Progress(p)
		}
	}
	wt, err := s.WeightType()
	if err != nil {
		return err
	}
	report(Progress{Stage: "corpus"})
	g, err := corpus.New(corpus.Options{Seed: s.Seed, N: s.Examples, ChatbotData: opts.ChatbotData})
	if err != nil {
		return err
	}
	examples := g.Generate()
	report(Progress{Stage: "tokenizer"})
	v, err := BuildVocab(ctx, s, examples)
	if err != nil {
		return err
	}
	tok, err := tokenizer.New(v)
	if err != nil {
		return fmt.Errorf("defaultmodel: tokenizer: %w", err)
	}
	if s.WholeText < 0 || s.WholeText > 1 {
		return fmt.Errorf("defaultmodel: settings whole_text %v: want a share in [0, 1]", s.WholeText)
	}
	// Each conversation is its tokens and which of them are learned.
	type conv struct {
		toks []int
		mask []bool
	}
	seqs := make([]conv, 0, len(examples))
	pick := rand.New(rand.NewPCG(s.Seed, 0x77686f6c65))
	tmpl, err := template.ByName("chatml")
	if err != nil {
		return err
	}
	for _, ex := range examples {
		msgs := make([]template.Message, len(ex.Messages)-1)
		for i, m := range ex.Messages[:len(ex.Messages)-1] {
			msgs[i] = template.Message{Role: m.Role, Content: m.Content}
		}
		prompt := tok.EncodeSpecial(tmpl.Render(msgs, true))
		reply := tok.EncodeSpecial(ex.Messages[len(ex.Messages)-1].Content + tokImEnd)
		if len(prompt)+len(reply) > s.Context {
			continue
		}
		whole := pick.Float64() < s.WholeText
		c := conv{toks: append(append([]int{}, prompt...), reply...), mask: make([]bool, len(prompt)+len(reply))}
		for i := range c.mask {
			c.mask[i] = i >= len(prompt) || (whole && i > 0)
		}
		seqs = append(seqs, c)
	}
	cfg := s.Config(len(v.Tokens))
	tm, err := train.NewRandom(cfg, true, s.Seed)
	if err != nil {
		return fmt.Errorf("defaultmodel: %w", err)
	}
	tr := train.NewTrainer(tm, train.TrainerConfig{
		LR: s.LR, MinLRFrac: 0.1, Warmup: s.Warmup, Steps: s.Steps,
		WeightDecay: s.WeightDecay, ClipNorm: s.ClipNorm, Seed: s.Seed,
	})
	next := func(r *rand.Rand) (*train.Batch, error) {
		toks, masks := make([][]int, s.Batch), make([][]bool, s.Batch)
		for i := range toks {
			c := seqs[r.IntN(len(seqs))]
			toks[i], masks[i] = c.toks, c.mask
		}
		return train.MaskedBatch(toks, masks, 0)
	}
	for step := 0; step < s.Steps; step++ {
		st, err := tr.TrainStep(ctx, next)
		if err != nil {
			return fmt.Errorf("defaultmodel: step %d: %w", step, err)
		}
		report(Progress{Stage: "train", Step: st.Step, Steps: s.Steps, Loss: st.Loss})
	}
	report(Progress{Stage: "save"})
	em, err := tm.Inference(nil)
	if err != nil {
		return err
	}
	if err := em.SetVocab(v); err != nil {
		return fmt.Errorf("defaultmodel: %w", err)
	}
	em.ChatTemplate = ChatMLTemplate
	em.Template = tmpl
	if err := em.SaveGGUF(opts.Out, model.SaveOptions{Type: wt, Name: "hone-default"}); err != nil {
		return fmt.Errorf("defaultmodel: %w", err)
	}
	return nil
}
