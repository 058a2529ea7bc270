package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hone-ai/hone/model"
)

// runComplete is `hone complete`: a raw continuation of a prompt, no chat
// template, with llama2.c run.c's semantics — BOS then the prompt, -n
// counting every position (BOS and prompt included), the decoded prompt
// printed before the continuation, one newline at the end.
func runComplete(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("complete", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	modelPath := fs.String("m", "", "model file (.gguf or llama2.c .bin)")
	tokPath := fs.String("tokenizer", "", "tokenizer.bin of a llama2.c checkpoint (default: tokenizer.bin beside it)")
	steps := fs.Int("n", 256, "positions to run, BOS and prompt included, as llama2.c's -n (0 = the context window)")
	temp := fs.Float64("temperature", 1.0, "sampling temperature (0 = greedy)")
	topK := fs.Int("top-k", 0, "keep the K most likely tokens (0 = off)")
	topP := fs.Float64("top-p", 0.9, "nucleus sampling threshold (1 = off)")
	minP := fs.Float64("min-p", 0, "drop tokens below this fraction of the top probability (0 = off)")
	repeat := fs.Float64("repeat-penalty", 1, "repetition penalty over the last 64 tokens (1 = off)")
	seed := fs.Uint64("seed", 0, "random seed (default: from the clock)")
	ctxLen := fs.Int("ctx", 0, "context window to use instead of the file's (0 = the file's)")
	stats := fs.Bool("stats", false, "print speed to stderr")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, `usage: hone complete -m MODEL [--tokenizer F] [-n N] [--temperature T] [--top-k K] [--top-p P] [--min-p P] [--seed S] "PROMPT"`)
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if *modelPath == "" {
		return usageError("complete: -m MODEL is required")
	}
	if len(pos) > 1 {
		return usageError("complete: give the prompt as one argument (quote it); got %d", len(pos))
	}
	if *steps < 0 || *temp < 0 || *topK < 0 || *topP < 0 || *minP < 0 || *repeat < 0 || *ctxLen < 0 {
		return usageError("complete: -n, --temperature, --top-k, --top-p, --min-p, --repeat-penalty and --ctx must not be negative")
	}
	prompt := ""
	if len(pos) == 1 {
		prompt = pos[0]
	}
	seedSet := false
	fs.Visit(func(f *flag.Flag) { seedSet = seedSet || f.Name == "seed" })
	if !seedSet {
		*seed = uint64(time.Now().UnixNano())
	}

	path, err := modelFile(ctx, e, *modelPath)
	if err != nil {
		return err
	}
	m, err := model.Load(path, model.LoadOptions{Tokenizer: *tokPath, ContextLen: *ctxLen})
	if err != nil {
		return err
	}
	defer m.Close()
	ids := m.Tok.Encode(prompt)
	if bos := m.Tok.BOS(); bos >= 0 {
		ids = append([]int{bos}, ids...)
	}
	if len(ids) == 0 {
		return usageError("complete: empty prompt and the vocabulary has no BOS token")
	}
	n := *steps
	if n == 0 || n > m.Config.ContextLen {
		n = m.Config.ContextLen
	}
	out := &printable{w: e.stdout}
	// run.c prints the prompt's pieces as it feeds them: at most n.
	shown := ids[:min(len(ids), n+1)]
	if _, err := io.WriteString(out, m.Tok.Decode(shown)); err != nil {
		return err
	}
	maxNew := n - len(ids) + 1
	if maxNew > 0 {
		opts := model.GenerateOptions{MaxTokens: maxNew, Sampling: model.SamplerConfig{
			Temperature: float32(*temp), TopK: *topK, TopP: float32(*topP), MinP: float32(*minP),
			RepeatPenalty: float32(*repeat), Seed: *seed,
		}}
		res, err := m.Generate(ctx, ids, opts, func(t model.Token) error {
			_, err := io.WriteString(out, t.Text)
			return err
		})
		if err != nil {
			return fmt.Errorf("complete: %w", err)
		}
		if *stats {
			fmt.Fprintf(e.stderr, "\nprompt: %d tokens in %v; generated %d tokens in %v (%.1f tok/s); stop: %s\n",
				res.PromptTokens, res.PromptDuration.Round(time.Millisecond), len(res.Tokens), res.GenDuration.Round(time.Millisecond),
				float64(len(res.Tokens))/max(res.GenDuration.Seconds(), 1e-9), res.StopReason)
		}
		if res.StopReason == model.StopCancelled {
			fmt.Fprintln(e.stdout)
			return ctx.Err()
		}
	}
	_, err = fmt.Fprintln(e.stdout)
	return err
}

// printable drops what llama2.c's safe_printf drops: control characters
// other than white space (and bytes that are not UTF-8).
type printable struct{ w io.Writer }

func (p *printable) Write(b []byte) (int, error) {
	return p.WriteString(string(b))
}

func (p *printable) WriteString(s string) (int, error) {
	clean := strings.Map(func(r rune) rune {
		if r == utf8.RuneError || (unicode.IsControl(r) && !unicode.IsSpace(r)) {
			return -1
		}
		return r
	}, s)
	if _, err := io.WriteString(p.w, clean); err != nil {
		return 0, err
	}
	return len(s), nil
}

// modelFile resolves -m: an existing file as it is, otherwise a policy in
// the registry (NAME, NAME@VERSION, @VERSION), read from the store at e.db.
func modelFile(ctx context.Context, e *env, spec string) (string, error) {
	if _, err := os.Stat(spec); err == nil {
		return spec, nil
	}
	st, err := openStore(ctx, e, true)
	if err != nil {
		return "", fmt.Errorf("-m %s: no such file, and no registry to look it up in: %w", spec, err)
	}
	defer st.Close()
	p, err := findPolicy(ctx, st, spec)
	if err != nil {
		return "", fmt.Errorf("-m %s: no such file or policy: %w", spec, err)
	}
	return p.Path, nil
}
