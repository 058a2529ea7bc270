package model

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hone-ai/hone/model/tokenizer"
)

// Stop reasons reported in Result.StopReason.
const (
	StopEOS       = "eos"       // the model ended the sequence (EOS, BOS or another control token)
	StopString    = "stop"      // a stop string (or a control token named in Stop) appeared
	StopLength    = "length"    // MaxTokens tokens were generated
	StopContext   = "context"   // the context window is full
	StopCancelled = "cancelled" // the context was cancelled
)

// GenerateOptions control one generation.
type GenerateOptions struct {
	// MaxTokens bounds the number of generated tokens; 0 means no bound
	// (generation then ends at EOS, a stop string or the full window).
	MaxTokens int
	Sampling  SamplerConfig
	// Stop strings end generation; the text from the stop string on is
	// neither emitted nor returned.
	Stop []string
}

// Token is one generated token and the text it completes. Text is always
// whole UTF-8 and may be empty (bytes of a character still to come, or
// text held back because it could begin a stop string). The final flush of
// held-back text comes with ID -1. Concatenating every Text gives
// Result.Text.
type Token struct {
	ID   int
	Text string
}

// Result summarises a generation.
type Result struct {
	Tokens         []int  // generated tokens (without the EOS or control token that ended them)
	Text           string // their text, without any stop string
	PromptTokens   int    // tokens evaluated as the prompt
	StopReason     string // StopEOS, StopString, StopLength, StopContext or StopCancelled
	PromptDuration time.Duration
	GenDuration    time.Duration
}

// Generate evaluates prompt in a fresh session and samples a continuation,
// calling emit for each token. See Session.Generate.
func (m *Model) Generate(ctx context.Context, prompt []int, opts GenerateOptions, emit func(Token) error) (Result, error) {
	return m.NewSession().Generate(ctx, prompt, opts, emit)
}

// Generate evaluates prompt after what the session already holds (so a
// caller can reuse a cached prefix) and samples a continuation, streaming
// each token to emit (which may be nil). It returns an error only for a
// failure: an empty prompt, a bad token, a prompt that does not fit the
// context window (matching ErrContextFull), or an error from emit (which
// ends generation, wrapped). Cancelling ctx is not a failure: Generate
// returns what it has with StopReason "cancelled". Afterwards the session
// holds the prompt and the generated tokens that were evaluated — all but
// the last one when generation stopped on "length", "context" or a stop
// string (it was sampled, never fed back); s.Tokens() says exactly.
func (s *Session) Generate(ctx context.Context, prompt []int, opts GenerateOptions, emit func(Token) error) (res Result, err error) {
	m := s.m
	res.PromptTokens = len(prompt)
	if m.Tok == nil {
		return res, errors.New("model: Generate needs a tokenizer")
	}
	if len(prompt) == 0 {
		return res, errors.New("model: Generate needs a non-empty prompt")
	}
	if emit == nil {
		emit = func(Token) error { return nil }
	}
	var text strings.Builder
	t0 := time.Now()
	logits, err := s.Eval(ctx, prompt)
	res.PromptDuration = time.Since(t0)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			res.StopReason = StopCancelled
			return res, nil
		}
		return res, err
	}
	t1 := time.Now()
	defer func() {
		res.GenDuration = time.Since(t1)
		res.Text = text.String()
	}()

	tok := m.Tok
	stops := nonEmpty(opts.Stop)
	sampler := NewSampler(opts.Sampling)
	// The first piece right after BOS loses the space SentencePiece puts
	// before words (run.c and llama.cpp do the same).
	dec := tok.NewStreamDecoder()
	if len(s.tokens) == 1 && s.tokens[0] == tok.BOS() {
		dec = tok.NewStreamDecoder(tokenizer.StripLeadingSpace())
	}
	pending := ""
	out := func(id int, t string) error {
		text.WriteString(t)
		if err := emit(Token{ID: id, Text: t}); err != nil {
			return fmt.Errorf("model: generate: %w", err)
		}
		return nil
	}
	for {
		if ctx.Err() != nil {
			res.StopReason = StopCancelled
			break
		}
		next := sampler.Sample(logits, s.tokens)
		if next == tok.EOS() || next == tok.BOS() || tok.IsEOG(next) || tok.IsControl(next) {
			res.StopReason = StopEOS
			if slicesContains(stops, tok.Piece(next)) {
				res.StopReason = StopString
			}
			break
		}
		res.Tokens = append(res.Tokens, next)
		pending += dec.Add(next)
		last := ""
		switch {
		case opts.MaxTokens > 0 && len(res.Tokens) >= opts.MaxTokens:
			last = StopLength
		case s.pos >= m.Config.ContextLen:
			last = StopContext
		}
		if last != "" {
			pending += dec.Flush()
		}
		if i := indexStop(pending, stops); i >= 0 {
			res.StopReason = StopString
			err := out(next, pending[:i])
			pending = ""
			res.Text = text.String()
			return res, err
		}
		hold := 0
		if last == "" {
			hold = holdBack(pending, stops)
		}
		if err := out(next, pending[:len(pending)-hold]); err != nil {
			res.Text = text.String()
			return res, err
		}
		pending = pending[len(pending)-hold:]
		if last != "" {
			res.StopReason = last
			res.Text = text.String()
			return res, nil
		}
		logits, err = s.eval(ctx, []int{next}, logits)
		if err != nil {
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				res.StopReason = StopCancelled
				break
			}
			res.Text = text.String()
			return res, err
		}
	}
	rest := pending + dec.Flush()
	if i := indexStop(rest, stops); i >= 0 {
		rest = rest[:i]
	}
	var err2 error
	if rest != "" {
		err2 = out(-1, rest)
	}
	res.Text = text.String()
	return res, err2
}

func nonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func slicesContains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// indexStop returns the index of the earliest stop string in s, or -1.
func indexStop(s string, stops []string) int {
	best := -1
	for _, st := range stops {
		if i := strings.Index(s, st); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	return best
}

// holdBack returns the length of the longest suffix of s that is a proper
// prefix of some stop string (text that must wait for what follows).
func holdBack(s string, stops []string) int {
	best := 0
	for _, st := range stops {
		for n := min(len(st)-1, len(s)); n > best; n-- {
			if strings.HasSuffix(s, st[:n]) {
				best = n
				break
			}
		}
	}
	return best
}
