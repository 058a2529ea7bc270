package model

import (
	"context"
	"errors"
	"github.com/hone-ai/hone/model/fixtures"
	"slices"
	"strings"
	"testing"
)

func stories(t *testing.T, opts LoadOptions) *Model {
	t.Helper()
	if opts.Tokenizer == "" {
		opts.Tokenizer = fixtures.Path(t, "stories260k", "tok512.bin")
	}
	return loadFixture(t, opts, "stories260k", "stories260K.bin")
}

func prompt(m *Model, text string) []int {
	return append([]int{m.Tok.BOS()}, m.Tok.Encode(text)...)
}

// collect runs Generate and checks the streaming invariants: the emitted
// texts concatenate to Result.Text, and token ids match Result.Tokens.
func collect(t *testing.T, ctx context.Context, m *Model, p []int, opts GenerateOptions) (Result, []Token) {
	t.Helper()
	var got []Token
	res, err := m.Generate(ctx, p, opts, func(tk Token) error {
		got = append(got, tk)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	var ids []int
	for _, tk := range got {
		sb.WriteString(tk.Text)
		if tk.ID >= 0 {
			ids = append(ids, tk.ID)
		}
	}
	if sb.String() != res.Text {
		t.Fatalf("emitted text %q != Result.Text %q", sb.String(), res.Text)
	}
	if !slices.Equal(ids, res.Tokens) {
		t.Fatalf("emitted ids %v != Result.Tokens %v", ids, res.Tokens)
	}
	return res, got
}

func TestGenerateStopStrings(t *testing.T) {
	m := stories(t, LoadOptions{})
	ctx := context.Background()
	p := prompt(m, "Once upon a time")
	// Greedy text: ", there was a little girl named Lily. She loved to play..."
	full, _ := collect(t, ctx, m, p, GenerateOptions{MaxTokens: 40})
	for _, tc := range []struct {
		name   string
		stop   []string
		want   string
		reason string
	}{
		{"single token", []string{"Lily"}, ", there was a little girl named ", StopString},
		{"spanning tokens", []string{"little girl"}, ", there was a ", StopString},
		{"earliest of several", []string{"She", "girl"}, ", there was a little ", StopString},
		{"near miss is released", []string{"Lilx", "qq"}, full.Text, StopLength},
		{"empty stop ignored", []string{""}, full.Text, StopLength},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, toks := collect(t, ctx, m, p, GenerateOptions{MaxTokens: 40, Stop: tc.stop})
			if res.Text != tc.want || res.StopReason != tc.reason {
				t.Fatalf("got %q (%s), want %q (%s)", res.Text, res.StopReason, tc.want, tc.reason)
			}
			for _, tk := range toks {
				for _, s := range tc.stop {
					if s != "" && strings.Contains(tk.Text, s) {
						t.Fatalf("emitted the stop string in %q", tk.Text)
					}
				}
			}
		})
	}
}

func TestGenerateContextFull(t *testing.T) {
	m := stories(t, LoadOptions{ContextLen: 20})
	ctx := context.Background()
	p := prompt(m, "Once upon a time") // 5 tokens
	s := m.NewSession()
	res, err := s.Generate(ctx, p, GenerateOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StopReason != StopContext {
		t.Fatalf("StopReason = %q, want context", res.StopReason)
	}
	// Positions 0…19 evaluated; the token sampled from position 19 is
	// emitted but not evaluated.
	if s.Pos() != 20 || len(res.Tokens) != 20-len(p)+1 {
		t.Fatalf("Pos = %d, %d tokens generated", s.Pos(), len(res.Tokens))
	}
	if _, err := s.Eval(ctx, res.Tokens[len(res.Tokens)-1:]); !errors.Is(err, ErrContextFull) {
		t.Fatalf("Eval on the full session: %v", err)
	}
	long := make([]int, 21)
	long[0] = 1
	for i := 1; i < len(long); i++ {
		long[i] = 300
	}
	if _, err := m.Generate(ctx, long, GenerateOptions{}, nil); !errors.Is(err, ErrContextFull) {
		t.Fatalf("prompt longer than the window: err = %v", err)
	}
}

func TestGenerateCancel(t *testing.T) {
	m := stories(t, LoadOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	res, err := m.Generate(ctx, prompt(m, "The dog"), GenerateOptions{MaxTokens: 100}, func(tk Token) error {
		n++
		if n == 3 {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.StopReason != StopCancelled || len(res.Tokens) != 3 {
		t.Fatalf("StopReason %q after %d tokens, want cancelled after 3", res.StopReason, len(res.Tokens))
	}
	res, err = m.Generate(ctx, prompt(m, "The dog"), GenerateOptions{}, nil)
	if err != nil || res.StopReason != StopCancelled || len(res.Tokens) != 0 {
		t.Fatalf("already cancelled: %+v, %v", res, err)
	}
}

func TestGenerateEmitError(t *testing.T) {
	m := stories(t, LoadOptions{})
	boom := errors.New("boom")
	_, err := m.Generate(context.Background(), prompt(m, "The dog"), GenerateOptions{MaxTokens: 10}, func(Token) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the emit error", err)
	}
}

func TestGenerateSeeded(t *testing.T) {
	m := stories(t, LoadOptions{})
	ctx := context.Background()
	p := prompt(m, "Lily wanted to")
	opts := GenerateOptions{MaxTokens: 60, Sampling: SamplerConfig{Temperature: 1, TopP: 0.9, TopK: 40, Seed: 7}}
	a, _ := collect(t, ctx, m, p, opts)
	b, _ := collect(t, ctx, m, p, opts)
	if !slices.Equal(a.Tokens, b.Tokens) {
		t.Fatal("same seed, different tokens")
	}
	opts.Sampling.Seed = 8
	c, _ := collect(t, ctx, m, p, opts)
	if slices.Equal(a.Tokens, c.Tokens) {
		t.Fatal("different seeds gave the same 60 tokens")
	}
}

func TestGenerateEOS(t *testing.T) {
	// run.c stops when the model emits BOS; the 512-step greedy case of
	// greedy.json ends that way well before 512 steps, so the text must
	// end without running to the length limit.
	m := stories(t, LoadOptions{})
	res, _ := collect(t, context.Background(), m, prompt(m, "Once upon a time"), GenerateOptions{MaxTokens: 508})
	if res.StopReason != StopEOS && res.StopReason != StopLength {
		t.Fatalf("StopReason %q", res.StopReason)
	}
	t.Logf("%d tokens, stopped on %s", len(res.Tokens), res.StopReason)
}

// A session continued with more tokens generates what a fresh session
// given the whole sequence generates (the KV cache prefix is reused).
func TestSessionGenerateContinues(t *testing.T) {
	m := stories(t, LoadOptions{})
	ctx := context.Background()
	s := m.NewSession()
	p := prompt(m, "Tom and his mom")
	first, err := s.Generate(ctx, p, GenerateOptions{MaxTokens: 12}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Stopped on length: the last token was sampled, not evaluated.
	held := s.Tokens()
	if len(held) != len(p)+len(first.Tokens)-1 {
		t.Fatalf("session holds %d tokens after a %d-token prompt and %d generated", len(held), len(p), len(first.Tokens))
	}
	more := append([]int{first.Tokens[len(first.Tokens)-1]}, m.Tok.Encode(" The end.")...)
	cont, err := s.Generate(ctx, more, GenerateOptions{MaxTokens: 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	whole := append(slices.Clone(held), more...)
	fresh, err := m.Generate(ctx, whole, GenerateOptions{MaxTokens: 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cont.Tokens, fresh.Tokens) {
		t.Fatalf("continued session %v, fresh %v", cont.Tokens, fresh.Tokens)
	}
	// Truncating back to the prompt regenerates the first reply.
	s.Truncate(len(p))
	again, err := s.Generate(ctx, first.Tokens[:1], GenerateOptions{MaxTokens: 11}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again.Tokens, first.Tokens[1:]) {
		t.Fatalf("after Truncate: %v, want %v", again.Tokens, first.Tokens[1:])
	}
}
