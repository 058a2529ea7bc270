package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hone-ai/hone/model"
	"github.com/hone-ai/hone/model/defaultmodel"
	"github.com/hone-ai/hone/model/fixtures"
)

// runPretrain rebuilds the embedded default model from scratch.
func runPretrain(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("pretrain", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	out := fs.String("o", "hone-default.gguf", "output GGUF file")
	settingsPath := fs.String("settings", "", "settings JSON (default: the committed model/defaultmodel/settings.json)")
	chatbot := fs.String("chatbot-data", "", "ChatbotData.csv to mix in (default: from the fixtures, if present)")
	steps := fs.Int("steps", 0, "override the number of training steps")
	asJSON := fs.Bool("json", false, "progress as JSON lines")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: hone pretrain [-o OUT.gguf] [--settings FILE] [--chatbot-data CSV] [--steps N] [--json]")
		fs.PrintDefaults()
	}
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	s, err := defaultmodel.DefaultSettings()
	if err != nil {
		return err
	}
	if *settingsPath != "" {
		b, err := os.ReadFile(*settingsPath)
		if err != nil {
			return fmt.Errorf("pretrain: --settings: %w", err)
		}
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("pretrain: --settings %s: %w", *settingsPath, err)
		}
	}
	if *steps > 0 {
		s.Steps = *steps
	}
	if *chatbot == "" {
		if d := fixtures.Dir(); d != "" {
			*chatbot = filepath.Join(d, "corpus", "ChatbotData.csv")
		}
	}
	last := -1
	err = defaultmodel.Pretrain(ctx, s, defaultmodel.Options{
		ChatbotData: *chatbot,
		Out:         *out,
		Progress: func(p defaultmodel.Progress) {
			if *asJSON {
				b, _ := json.Marshal(map[string]any{"stage": p.Stage, "step": p.Step, "steps": p.Steps, "loss": p.Loss, "elapsed_s": p.Elapsed.Seconds()})
				fmt.Fprintln(e.stdout, string(b))
				return
			}
			if p.Stage != "train" {
				fmt.Fprintf(e.stderr, "[%6.1fs] %s\n", p.Elapsed.Seconds(), p.Stage)
				return
			}
			if pct := p.Step * 100 / max(1, p.Steps); pct != last && (p.Step%10 == 0 || p.Step == p.Steps) {
				last = pct
				fmt.Fprintf(e.stderr, "[%6.1fs] step %d/%d loss %.4f\n", p.Elapsed.Seconds(), p.Step, p.Steps, p.Loss)
			}
		},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s\n", *out)
	return nil
}

// runEval measures a chat model on held-out generated prompts: language
// of the reply, two-digit additions, definitions on topic.
func runEval(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	path := fs.String("m", "", "model file (default: the embedded default model)")
	n := fs.Int("n", 300, "held-out prompts to ask")
	seed := fs.Uint64("seed", 1, "seed of the held-out prompt set")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	verbose := fs.Bool("v", false, "print every prompt and reply")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	var (
		m   *model.Model
		err error
	)
	if *path == "" {
		m, err = defaultmodel.Load()
	} else {
		m, err = model.Load(*path, model.LoadOptions{})
	}
	if err != nil {
		return err
	}
	defer m.Close()
	rep, err := defaultmodel.Evaluate(ctx, m, *n, *seed)
	if err != nil {
		return err
	}
	if *verbose {
		for _, s := range rep.Samples {
			mark := "✓"
			if !s.OK {
				mark = "✗"
			}
			fmt.Fprintf(e.stdout, "%s [%s] %q → %q\n", mark, s.Kind, s.Prompt, s.Reply)
		}
	}
	if *asJSON {
		l, a, d := rep.Rates()
		b, _ := json.Marshal(map[string]any{"prompts": rep.Prompts, "language": l, "addition": a, "definitions": d,
			"language_n": rep.LangTotal, "addition_n": rep.AddTotal, "definitions_n": rep.DefTotal})
		fmt.Fprintln(e.stdout, string(b))
		return nil
	}
	fmt.Fprintln(e.stdout, rep.String())
	return nil
}
