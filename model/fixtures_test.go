package model

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/hone-ai/hone/model/fixtures"
)

type greedyCase struct {
	Prompt string `json:"prompt"`
	Steps  int    `json:"steps"`
	Output string `json:"output"`
}

func greedyCases(t *testing.T) []greedyCase {
	t.Helper()
	b, err := os.ReadFile(fixtures.Path(t, "stories260k", "greedy.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cs []greedyCase
	if err := json.Unmarshal(b, &cs); err != nil {
		t.Fatal(err)
	}
	if len(cs) == 0 {
		t.Fatal("greedy.json has no cases")
	}
	return cs
}

// runC reproduces llama2.c run.c's generate() with -t 0: BOS + the prompt,
// steps counting every position, stop on BOS, the decoded prompt followed
// by the continuation and a newline.
func runC(t *testing.T, m *Model, prompt string, steps int) string {
	t.Helper()
	toks := append([]int{m.Tok.BOS()}, m.Tok.Encode(prompt)...)
	steps = min(steps, m.Config.ContextLen)
	res, err := m.Generate(context.Background(), toks, GenerateOptions{MaxTokens: steps - len(toks) + 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m.Tok.Decode(toks) + res.Text + "\n"
}

func loadFixture(t *testing.T, opts LoadOptions, elem ...string) *Model {
	t.Helper()
	m, err := Load(fixtures.Path(t, elem...), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestGreedyStories260K(t *testing.T) {
	cases := greedyCases(t)
	tok := fixtures.Path(t, "stories260k", "tok512.bin")
	for _, tc := range []struct {
		file     []string
		maxSteps int // the stories260K GGUFs say context_length 128
	}{
		{[]string{"stories260k", "stories260K.bin"}, 1 << 30},
		{[]string{"stories260k", "stories260K.v1.bin"}, 1 << 30},
		{[]string{"gguf", "stories260K-f32.gguf"}, 128},
	} {
		t.Run(tc.file[1], func(t *testing.T) {
			m := loadFixture(t, LoadOptions{Tokenizer: tok}, tc.file...)
			for _, c := range cases {
				if c.Steps > tc.maxSteps {
					continue
				}
				if got := runC(t, m, c.Prompt, c.Steps); got != c.Output {
					t.Errorf("prompt %q, %d steps:\n got %q\nwant %q", c.Prompt, c.Steps, got, c.Output)
				}
			}
		})
	}
}

func TestGGUFFixturesGenerate(t *testing.T) {
	for _, file := range []string{"stories260K-f16.gguf", "llama-2-tiny-random.gguf"} {
		t.Run(file, func(t *testing.T) {
			m := loadFixture(t, LoadOptions{}, "gguf", file)
			text := "Once upon a time, a little dog ran to the park."
			ids := m.Tok.Encode(text)
			if got := m.Tok.Decode(ids); got != text {
				t.Fatalf("round trip: got %q", got)
			}
			prompt := append([]int{m.Tok.BOS()}, ids...)
			res, err := m.Generate(context.Background(), prompt, GenerateOptions{MaxTokens: 20, Sampling: SamplerConfig{Temperature: 0.8, Seed: 1}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Tokens) == 0 && res.StopReason != StopEOS {
				t.Fatalf("generated nothing: %+v", res)
			}
			t.Logf("%s: %q (%s)", file, res.Text, res.StopReason)
		})
	}
}

func TestGreedyF16MatchesF32(t *testing.T) {
	// llama.cpp reproduced run.c's text with the F16 file; so should we on
	// the first cases.
	cases := greedyCases(t)
	m := loadFixture(t, LoadOptions{}, "gguf", "stories260K-f16.gguf")
	match := 0
	for _, c := range cases {
		if c.Steps > 128 {
			continue
		}
		got := runC(t, m, c.Prompt, c.Steps)
		if got == c.Output {
			match++
		} else {
			t.Logf("F16 differs for %q:\n got %q\nwant %q", c.Prompt, got, c.Output)
		}
		if !strings.HasPrefix(got, strings.TrimSuffix(c.Output, "\n")[:min(len(c.Output)-1, len(got)/2)]) {
			t.Errorf("F16 output for %q diverges in its first half", c.Prompt)
		}
	}
	t.Logf("F16: %d cases identical to run.c", match)
}
