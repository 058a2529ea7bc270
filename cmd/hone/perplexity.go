package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"

	"github.com/hone-ai/hone/model"
	"github.com/hone-ai/hone/model/train"
)

// runPerplexity is `hone perplexity`: the perplexity of a model on a text
// file. The text is encoded with a BOS and cut into consecutive windows of
// --ctx tokens overlapping by one, so every token after the first is
// predicted once from the start of its window.
func runPerplexity(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("perplexity", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	modelPath := fs.String("m", "", "model file (.gguf or llama2.c .bin)")
	tokPath := fs.String("tokenizer", "", "tokenizer.bin of a llama2.c checkpoint (default: tokenizer.bin beside it)")
	file := fs.String("file", "", "text file to score")
	lora := fs.String("lora", "", "LoRA adapter (GGUF) to apply")
	window := fs.Int("ctx", 0, "window length in tokens (0 = the model's context, at most 512)")
	batch := fs.Int("batch", 4, "windows evaluated together")
	asJSON := fs.Bool("json", false, `print {"perplexity", "nll", "tokens"} as JSON`)
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: hone perplexity -m MODEL [--tokenizer F] --file TEXT [--lora ADAPTER.gguf] [--ctx N] [--json]")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("perplexity: unexpected argument %q", pos[0])
	}
	if *modelPath == "" || *file == "" {
		return usageError("perplexity: -m MODEL and --file TEXT are required")
	}
	if *window < 0 || *batch <= 0 {
		return usageError("perplexity: --ctx must not be negative and --batch must be positive")
	}
	text, err := os.ReadFile(*file)
	if err != nil {
		return fmt.Errorf("perplexity: --file: %w", err)
	}
	em, err := model.Load(*modelPath, model.LoadOptions{Tokenizer: *tokPath})
	if err != nil {
		return err
	}
	defer em.Close()
	tm, err := train.FromWeights(em.Config, &em.Weights)
	if err != nil {
		return err
	}
	if *lora != "" {
		lr, err := train.LoadLoRA(*lora, tm.Config)
		if err != nil {
			return err
		}
		if err := tm.SetLoRA(lr); err != nil {
			return err
		}
	}
	T := *window
	if T == 0 {
		T = min(em.Config.ContextLen, 512)
	}
	if T > em.Config.ContextLen {
		return usageError("perplexity: --ctx %d exceeds the model's context of %d", T, em.Config.ContextLen)
	}
	tokens := em.Tok.Encode(string(text))
	if bos := em.Tok.BOS(); bos >= 0 {
		tokens = append([]int{bos}, tokens...)
	}
	nll, n, err := tm.EvalLM(ctx, tokens, T, *batch)
	if err != nil {
		return fmt.Errorf("perplexity %s: %w", *file, err)
	}
	ppl := math.Exp(nll)
	if *asJSON {
		b, _ := json.Marshal(map[string]any{"perplexity": ppl, "nll": nll, "tokens": n})
		fmt.Fprintln(e.stdout, string(b))
		return nil
	}
	fmt.Fprintf(e.stdout, "perplexity: %.4f\n", ppl)
	fmt.Fprintf(e.stderr, "%d tokens, mean NLL %.4f nats\n", n, nll)
	return nil
}
