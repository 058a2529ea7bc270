package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hone-ai/hone/model"
	"github.com/hone-ai/hone/model/ggml"
	"github.com/hone-ai/hone/model/template"
	"github.com/hone-ai/hone/model/train"
	"github.com/hone-ai/hone/model/train/sft"
)

// runFinetune is `hone finetune`: supervised fine-tuning on chat JSONL
// (loss on assistant tokens only, rendered with the model's chat
// template) or language modelling on plain text, full or LoRA, with
// progress lines, a held-out loss, resumable checkpoints and a GGUF
// output.
func runFinetune(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("finetune", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	modelPath := fs.String("m", "", "model to fine-tune (.gguf or llama2.c .bin)")
	tokPath := fs.String("tokenizer", "", "tokenizer.bin of a llama2.c checkpoint (default: tokenizer.bin beside it)")
	dataPath := fs.String("data", "", `chat data, JSONL: {"messages":[{"role","content"}…]} or {"prompt","completion"} rows`)
	textPath := fs.String("text", "", "plain text for language modelling")
	tmplName := fs.String("template", "", "chat template for --data (default: the model's)")
	out := fs.String("o", "", "output model, GGUF (with --lora: the base with the adapter merged)")
	typ := fs.String("type", "f32", "matrix type of the output: f32, f16, bf16 or q8_0")
	adapterOut := fs.String("adapter-out", "", "with --lora: also write the adapter as a GGUF LoRA adapter")
	rank := fs.Int("lora", 0, "LoRA rank (0 = full fine-tuning)")
	alpha := fs.Float64("lora-alpha", 0, "LoRA alpha (default 2×rank)")
	dropout := fs.Float64("lora-dropout", 0, "LoRA dropout")
	targets := fs.String("lora-targets", "q,k,v,o,gate,up,down", "matrices to adapt: any of q,k,v,o,gate,up,down")
	steps := fs.Int("steps", 200, "optimiser steps")
	lr := fs.Float64("lr", 0, "peak learning rate (default 1e-3 full, 2e-3 LoRA)")
	batch := fs.Int("batch", 8, "sequences per micro-batch")
	accum := fs.Int("accum", 1, "micro-batches per step (gradient accumulation)")
	seq := fs.Int("seq", 0, "tokens per sequence (default: the model's context, at most 256)")
	seed := fs.Uint64("seed", 1, "random seed (data order, initialisation, dropout)")
	warmup := fs.Int("warmup", -1, "warm-up steps (default 10% of --steps)")
	wd := fs.Float64("weight-decay", 0, "AdamW decoupled weight decay on matrices")
	clip := fs.Float64("clip", 1, "global gradient-norm clip (0 = off)")
	heldFrac := fs.Float64("held-out", 0.1, "fraction of the data held out for the evaluation loss")
	evalEvery := fs.Int("eval-every", 0, "held-out evaluation interval in steps (default: start and end only)")
	ckpt := fs.String("checkpoint", "", "checkpoint file: resumed from when it exists, written every --save-every steps and at the end")
	saveEvery := fs.Int("save-every", 50, "checkpoint interval in steps")
	asJSON := fs.Bool("json", false, "progress as JSON lines on stdout")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: hone finetune -m MODEL (--data CHAT.jsonl | --text FILE.txt) [--tokenizer F] [--lora R] [--steps N] [--lr X] [--batch B] [--seq T] [--seed S] -o OUT.gguf")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usageError("finetune: unexpected argument %q", pos[0])
	case *modelPath == "":
		return usageError("finetune: -m MODEL is required")
	case (*dataPath == "") == (*textPath == ""):
		return usageError("finetune: give exactly one of --data CHAT.jsonl and --text FILE")
	case *out == "" && *adapterOut == "" && *ckpt == "":
		return usageError("finetune: -o OUT.gguf is required")
	case *rank < 0 || *steps <= 0 || *batch <= 0 || *accum <= 0 || *seq < 0 || *lr < 0 || *wd < 0 || *clip < 0:
		return usageError("finetune: --lora, --seq, --lr, --weight-decay and --clip must not be negative; --steps, --batch and --accum must be positive")
	case *heldFrac < 0 || *heldFrac >= 1:
		return usageError("finetune: --held-out %g outside [0,1)", *heldFrac)
	case *dropout < 0 || *dropout >= 1:
		return usageError("finetune: --lora-dropout %g outside [0,1)", *dropout)
	case *adapterOut != "" && *rank == 0:
		return usageError("finetune: --adapter-out needs --lora R")
	}
	types := map[string]ggml.Type{"f32": ggml.F32, "f16": ggml.F16, "bf16": ggml.BF16, "q8_0": ggml.Q8_0}
	otype, ok := types[strings.ToLower(*typ)]
	if !ok {
		return usageError("finetune: --type %q: want f32, f16, bf16 or q8_0", *typ)
	}
	if *out != "" && filepath.Clean(*out) == filepath.Clean(*modelPath) {
		return usageError("finetune: -o must differ from -m")
	}

	em, err := model.Load(*modelPath, model.LoadOptions{Tokenizer: *tokPath})
	if err != nil {
		return err
	}
	defer em.Close()
	T := *seq
	if T == 0 {
		T = min(em.Config.ContextLen, 256)
	}
	if T > em.Config.ContextLen {
		return usageError("finetune: --seq %d exceeds the model's context of %d", T, em.Config.ContextLen)
	}
	B := *batch

	// Data: a sampler of training batches and a held-out evaluation.
	var next train.BatchFunc
	var evalHeld func(m *train.Model) (float64, error)
	var dataDesc string
	if *textPath != "" {
		raw, err := os.ReadFile(*textPath)
		if err != nil {
			return fmt.Errorf("finetune: --text: %w", err)
		}
		lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
		nHeld := int(float64(len(lines)) * *heldFrac)
		if *heldFrac > 0 && nHeld == 0 && len(lines) >= 2 {
			nHeld = 1
		}
		enc := func(ls []string) []int {
			ids := em.Tok.Encode(strings.Join(ls, "\n"))
			if bos := em.Tok.BOS(); bos >= 0 {
				ids = append([]int{bos}, ids...)
			}
			return ids
		}
		trainTok := enc(lines[:len(lines)-nHeld])
		if len(trainTok) < 2 {
			return fmt.Errorf("finetune: --text %s: too little text to train on", *textPath)
		}
		dataDesc = fmt.Sprintf("%d training tokens from %d lines", len(trainTok), len(lines)-nHeld)
		Tt := min(T, len(trainTok)-1)
		next = func(r *rand.Rand) (*train.Batch, error) {
			seqs := make([][]int, B)
			for i := range seqs {
				o := 0
				if span := len(trainTok) - Tt - 1; span > 0 {
					o = r.IntN(span + 1)
				}
				seqs[i] = trainTok[o : o+Tt+1]
			}
			return train.LMBatch(seqs, Tt)
		}
		if nHeld > 0 {
			heldTok := enc(lines[len(lines)-nHeld:])
			dataDesc += fmt.Sprintf(", %d held-out tokens from %d lines", len(heldTok), nHeld)
			evalHeld = func(m *train.Model) (float64, error) {
				nll, _, err := m.EvalLM(ctx, heldTok, T, B)
				return nll, err
			}
		}
	} else {
		f, err := os.Open(*dataPath)
		if err != nil {
			return fmt.Errorf("finetune: --data: %w", err)
		}
		exs, err := sft.ReadJSONL(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("finetune: --data %s: %w", *dataPath, err)
		}
		tmpl := em.Template
		if *tmplName != "" {
			if tmpl, err = template.ByName(*tmplName); err != nil {
				return usageError("finetune: --template: %v", err)
			}
		}
		if tmpl == nil {
			tmpl = template.Plain()
		}
		type example struct {
			ids  []int
			mask []bool
		}
		var all []example
		for _, ex := range exs {
			ids, mask := sft.Encode(ex, em.Tok, tmpl)
			if len(ids) > T+1 {
				ids, mask = ids[:T+1], mask[:T+1]
			}
			if len(ids) >= 2 && sft.Learned(mask[1:]) > 0 {
				all = append(all, example{ids, mask})
			}
		}
		if len(all) == 0 {
			return fmt.Errorf("finetune: --data %s: no example has assistant tokens within %d tokens", *dataPath, T)
		}
		rng := rand.New(rand.NewPCG(*seed, 0x5eed))
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		nHeld := int(float64(len(all)) * *heldFrac)
		if *heldFrac > 0 && nHeld == 0 && len(all) >= 5 {
			nHeld = 1
		}
		held, tr := all[:nHeld], all[nHeld:]
		dataDesc = fmt.Sprintf("%d training and %d held-out conversations (template %s)", len(tr), len(held), tmpl.Name())
		mk := func(exs []example) (*train.Batch, error) {
			seqs, masks := make([][]int, len(exs)), make([][]bool, len(exs))
			for i, x := range exs {
				seqs[i], masks[i] = x.ids, x.mask
			}
			return train.MaskedBatch(seqs, masks, 0)
		}
		next = func(r *rand.Rand) (*train.Batch, error) {
			pick := make([]example, B)
			for i := range pick {
				pick[i] = tr[r.IntN(len(tr))]
			}
			return mk(pick)
		}
		if nHeld > 0 {
			evalHeld = func(m *train.Model) (float64, error) {
				var sum float64
				var n int
				for i := 0; i < len(held); i += B {
					b, err := mk(held[i:min(i+B, len(held))])
					if err != nil {
						return 0, err
					}
					loss, err := m.Forward(ctx, b)
					if err != nil {
						return 0, err
					}
					k := 0
					for _, t := range b.Targets {
						if t >= 0 {
							k++
						}
					}
					sum += float64(loss) * float64(k)
					n += k
				}
				return sum / float64(n), nil
			}
		}
	}

	tm, err := train.FromWeights(em.Config, &em.Weights)
	if err != nil {
		return err
	}
	peak := float32(*lr)
	if *rank > 0 {
		a := float32(*alpha)
		if a == 0 {
			a = 2 * float32(*rank)
		}
		if _, err := tm.AttachLoRA(train.LoRAConfig{Rank: *rank, Alpha: a, Dropout: float32(*dropout),
			Targets: strings.Split(*targets, ","), Seed: *seed}); err != nil {
			return usageError("finetune: %v", err)
		}
		if peak == 0 {
			peak = 2e-3
		}
	} else if peak == 0 {
		peak = 1e-3
	}
	wu := *warmup
	if wu < 0 {
		wu = *steps / 10
	}
	tr := train.NewTrainer(tm, train.TrainerConfig{LR: peak, MinLRFrac: 0.1, Warmup: wu, Steps: *steps,
		WeightDecay: float32(*wd), ClipNorm: float32(*clip), Accum: *accum, Seed: *seed})
	if *ckpt != "" {
		if _, err := os.Stat(*ckpt); err == nil {
			if err := tr.LoadCheckpoint(*ckpt); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "resumed from %s at step %d\n", *ckpt, tr.Step)
			if tr.Cfg.Steps != *steps {
				// The schedule follows the new total; the curve differs from an
				// uninterrupted run of either length.
				fmt.Fprintf(e.stderr, "note: the checkpoint planned %d steps; continuing to %d\n", tr.Cfg.Steps, *steps)
				tr.Cfg.Steps = *steps
			}
		}
	}
	mode := "full"
	if *rank > 0 {
		mode = fmt.Sprintf("LoRA rank %d", *rank)
	}
	fmt.Fprintf(e.stderr, "finetune %s: %s, %d trainable parameters; %s; %d steps of %d×%d tokens\n",
		*modelPath, mode, len(tm.Trainable().Params), dataDesc, *steps, B**accum, T)

	emit := func(v map[string]any, text string) {
		if *asJSON {
			b, _ := json.Marshal(v)
			fmt.Fprintln(e.stdout, string(b))
		} else {
			fmt.Fprintln(e.stderr, text)
		}
	}
	eval := func() error {
		if evalHeld == nil {
			return nil
		}
		tm.SetTraining(false) // no dropout while evaluating
		nll, err := evalHeld(tm)
		tm.SetTraining(true)
		if err != nil {
			return fmt.Errorf("finetune: held-out evaluation: %w", err)
		}
		emit(map[string]any{"step": tr.Step, "held_out_loss": nll, "held_out_perplexity": math.Exp(nll)},
			fmt.Sprintf("step %d: held-out loss %.4f (perplexity %.3f)", tr.Step, nll, math.Exp(nll)))
		return nil
	}
	save := func() error {
		if *ckpt == "" {
			return nil
		}
		return tr.SaveCheckpoint(*ckpt)
	}
	if err := eval(); err != nil {
		return err
	}
	every := max(1, *steps/20)
	start, tokens := time.Now(), 0
	for tr.Step < *steps {
		st, err := tr.TrainStep(ctx, next)
		if err != nil {
			if ctx.Err() != nil {
				if serr := save(); serr != nil {
					return errors.Join(err, serr)
				}
			}
			return fmt.Errorf("finetune: %w", err)
		}
		tokens += B * *accum * T
		if st.Step%every == 0 || st.Step == *steps {
			tps := float64(tokens) / time.Since(start).Seconds()
			emit(map[string]any{"step": st.Step, "loss": st.Loss, "lr": st.LR, "grad_norm": st.GradNorm, "tokens_per_second": tps},
				fmt.Sprintf("step %d/%d  loss %.4f  lr %.2e  grad %.3f  %.0f tok/s", st.Step, *steps, st.Loss, st.LR, st.GradNorm, tps))
		}
		if *evalEvery > 0 && st.Step%*evalEvery == 0 && st.Step < *steps {
			if err := eval(); err != nil {
				return err
			}
		}
		if *ckpt != "" && st.Step%*saveEvery == 0 {
			if err := save(); err != nil {
				return err
			}
		}
	}
	if err := eval(); err != nil {
		return err
	}
	if err := save(); err != nil {
		return err
	}
	if *adapterOut != "" {
		if err := train.SaveLoRA(*adapterOut, tm.LoRA(), strings.TrimSuffix(filepath.Base(*adapterOut), filepath.Ext(*adapterOut))); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "wrote adapter %s\n", *adapterOut)
	}
	if *out != "" {
		if err := train.SaveGGUF(*out, tm, em, model.SaveOptions{Type: otype}); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "wrote %s\n", *out)
	}
	return nil
}
