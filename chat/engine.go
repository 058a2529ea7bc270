package chat

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Turn is one message as the chat template sees it.
type Turn struct {
	Role    string
	Content string
}

// Generated is what an engine reports about one generation.
type Generated struct {
	Text         string
	Tokens       int
	PromptTokens int
	StopReason   string // "eos", "stop", "length", "context", "cancelled"
	PromptTime   time.Duration
	GenTime      time.Duration
}

// Engine is the model as the chat needs it. Prompt renders turns with the
// model's chat template (with the generation prompt) and tokenizes them,
// BOS included; Generate samples a reply, calling emit with each piece of
// UTF-8-complete text as it is produced, and stops when ctx is cancelled
// (StopReason "cancelled"), at end of sequence, a stop string, MaxTokens or
// the end of the context window.
type Engine interface {
	Name() string
	ContextLen() int
	Prompt(turns []Turn) ([]int, error)
	Generate(ctx context.Context, prompt []int, s Sampling, emit func(piece string) error) (Generated, error)
}

// Sampling are the settings a reply is sampled with (`/set NAME VALUE`).
type Sampling struct {
	Temperature   float32
	TopP          float32
	TopK          int
	MinP          float32
	RepeatPenalty float32
	Seed          uint64 // 0: a fresh seed per reply, recorded in the message
	MaxTokens     int
}

// DefaultSampling are the settings used unless flags or /set change them.
func DefaultSampling() Sampling {
	return Sampling{Temperature: 0.8, TopP: 0.95, TopK: 40, MinP: 0.05, RepeatPenalty: 1.1, MaxTokens: 512}
}

// SamplingNames returns the names /set accepts, in display order.
func SamplingNames() []string {
	return []string{"temperature", "top_p", "top_k", "min_p", "repeat_penalty", "seed", "max_tokens"}
}

// Set changes one setting by name ("temperature", "top_p", "top_k",
// "min_p", "repeat_penalty", "seed", "max_tokens"; dashes work too).
func (s *Sampling) Set(name, value string) error {
	name = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(name)), "-", "_")
	value = strings.TrimSpace(value)
	f32 := func(lo, hi float64) (float32, error) {
		v, err := strconv.ParseFloat(value, 32)
		if err != nil {
			return 0, fmt.Errorf("chat: set %s: %q is not a number", name, value)
		}
		if v < lo || v > hi {
			return 0, fmt.Errorf("chat: set %s: %v is outside [%v, %v]", name, v, lo, hi)
		}
		return float32(v), nil
	}
	integer := func(lo int) (int, error) {
		v, err := strconv.Atoi(value)
		if err != nil {
			return 0, fmt.Errorf("chat: set %s: %q is not an integer", name, value)
		}
		if v < lo {
			return 0, fmt.Errorf("chat: set %s: %d is below %d", name, v, lo)
		}
		return v, nil
	}
	var err error
	switch name {
	case "temperature", "temp":
		s.Temperature, err = f32(0, 10)
	case "top_p":
		s.TopP, err = f32(0, 1)
	case "min_p":
		s.MinP, err = f32(0, 1)
	case "repeat_penalty":
		s.RepeatPenalty, err = f32(0, 10)
	case "top_k":
		s.TopK, err = integer(0)
	case "max_tokens":
		s.MaxTokens, err = integer(1)
	case "seed":
		var v uint64
		v, err = strconv.ParseUint(value, 10, 64)
		if err != nil {
			err = fmt.Errorf("chat: set seed: %q is not a non-negative integer", value)
		}
		s.Seed = v
	default:
		err = fmt.Errorf("chat: set: unknown setting %q (have %s)", name, strings.Join(SamplingNames(), ", "))
	}
	return err
}

// String lists the settings as "name=value" pairs.
func (s Sampling) String() string {
	return fmt.Sprintf("temperature=%g top_p=%g top_k=%d min_p=%g repeat_penalty=%g seed=%d max_tokens=%d",
		s.Temperature, s.TopP, s.TopK, s.MinP, s.RepeatPenalty, s.Seed, s.MaxTokens)
}

// ErrPromptTooLong is returned when even the last message alone (with the
// system prompt) does not fit the context window.
var ErrPromptTooLong = errors.New("prompt does not fit the context window")

// FitPrompt renders the system prompt and path with the engine's template
// and, while the prompt plus reserve tokens for the reply would exceed the
// context window, drops the oldest turns (never the system prompt or the
// last message; the kept history always starts at a user turn). It returns
// the prompt tokens and how many messages were dropped.
func FitPrompt(e Engine, system string, path []*Message, reserve int) ([]int, int, error) {
	ctxLen := e.ContextLen()
	if reserve < 1 {
		reserve = 1
	}
	if ctxLen > 0 && reserve > ctxLen/4 {
		reserve = max(1, ctxLen/4)
	}
	start := 0
	for {
		turns := make([]Turn, 0, len(path)-start+1)
		if system != "" {
			turns = append(turns, Turn{Role: RoleSystem, Content: system})
		}
		for _, m := range path[start:] {
			turns = append(turns, Turn{Role: m.Role, Content: m.Content})
		}
		toks, err := e.Prompt(turns)
		if err != nil {
			return nil, start, fmt.Errorf("chat: render prompt: %w", err)
		}
		if ctxLen <= 0 || len(toks)+reserve <= ctxLen {
			return toks, start, nil
		}
		if start >= len(path)-1 {
			return nil, start, fmt.Errorf("chat: %w: %d prompt tokens + %d for the reply > context %d",
				ErrPromptTooLong, len(toks), reserve, ctxLen)
		}
		start++
		for start < len(path)-1 && path[start].Role != RoleUser {
			start++
		}
	}
}
