package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/hone-ai/hone/feedback"
	"github.com/hone-ai/hone/rlhf"
)

// runTrain is `hone train`: the scheduled retraining job.
func runTrain(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	jc := rlhf.DefaultJobConfig()
	fs.StringVar(&jc.Algo, "algo", "auto", "auto, kto, dpo or rloo")
	asJSON := fs.Bool("json", false, "JSON lines (progress events, then the result); the default when stderr is not a terminal")
	fs.BoolVar(&jc.DryRun, "dry-run", false, "say what would be trained, train nothing")
	fs.DurationVar(&jc.MaxDuration, "max-duration", 0, "stop cleanly after this long (checkpoint kept; the next run resumes)")
	fs.StringVar(&jc.BaseModel, "m", "", "base model to register as the first policy when there is none")
	fs.StringVar(&jc.Tokenizer, "tokenizer", "", "tokenizer.bin for a llama2.c base model")
	fs.IntVar(&jc.MinExamples, "min-examples", jc.MinExamples, "fewest new rated replies worth a run (KTO)")
	fs.IntVar(&jc.MinPairs, "min-pairs", jc.MinPairs, "fewest new pairs worth a run (DPO)")
	fs.Float64Var(&jc.Gates.MaxKL, "max-kl", jc.Gates.MaxKL, "gate: mean sequence KL to the reference, nats")
	fs.Float64Var(&jc.Gates.MaxLMLossIncrease, "max-lm-loss-increase", jc.Gates.MaxLMLossIncrease, "gate: relative LM-loss increase on held-out text")
	fs.Float64Var(&jc.Gates.MinRewardGain, "min-reward-gain", jc.Gates.MinRewardGain, "gate: held-out reward gain over the reference must exceed this")
	fs.Float64Var(&jc.Gates.MinLengthRatio, "min-length-ratio", jc.Gates.MinLengthRatio, "gate: shortest mean reply length relative to the reference")
	fs.Float64Var(&jc.Gates.MaxLengthRatio, "max-length-ratio", jc.Gates.MaxLengthRatio, "gate: longest mean reply length relative to the reference")
	lr := fs.Float64("lr", 0, "learning rate of every algorithm (default: the algorithm's for the active policy's kind of model)")
	epochs := fs.Int("epochs", 0, "passes over the new data, KTO and DPO (default: the algorithm's for the active policy's kind of model; KTO on chat models 6 weighted passes, 6 / max(λ_D, λ_U) rounded up)")
	fs.Float64Var(&jc.Anchor, "anchor", 0, "weight of the KL to the active policy on its own stored replies in every step (default: the lab's for chat models, off otherwise; negative = off)")
	fs.IntVar(&jc.BudgetRetries, "budget-retries", 0, "failed budget checks the update goes back from and on at half the step before it stops (default: the lab's for chat models; negative = none)")
	fs.Float64Var(&jc.Budget, "budget", 0, "bound the update: once LM loss on set-aside replies is up this fraction, roll it back, go on at half the step up to --budget-retries times, then stop (default: the lab's for chat models — off for KTO and DPO, 1.2 × --max-lm-loss-increase for RLOO — off otherwise; negative = off)")
	fs.Float64Var(&jc.ShrinkTo, "shrink-to", 0, "after the update, move it back along its line from the active policy until LM loss on set-aside replies is up at most this fraction (default: the lab's for chat models, 0.84 × --max-lm-loss-increase for KTO and DPO, 0.86 × for RLOO; off otherwise; negative = off)")
	fs.Float64Var(&jc.StretchTo, "stretch-to", 0, "an update that ended within --shrink-to goes on along its line, up to this multiple of itself, until it reaches it (ExPO's extrapolation; default: 2 on chat models, off otherwise; 1 = off)")
	fs.Float64Var(&jc.Cuts, "cuts", 0, "DPO: add pairs of each rated reply and its sentence cuts that the reward model tells apart by more than this probability of approval; RLOO: score both branches of each sampled reply's decisions to stop after a sentence; both: let the anchor free those decisions to stop and hold the others (default: the lab's for chat models, 0.5 for DPO, off for RLOO; off otherwise; negative = off)")
	fs.IntVar(&jc.LoRA.Rank, "lora", 0, "LoRA rank of the policy update, alpha = 2×rank (default: the algorithm's for the active policy's kind of model: 8, or 32 for KTO and RLOO on chat models)")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: hone train [--algo auto|kto|dpo|rloo] [--json] [--dry-run] [--max-duration D] [-m BASE_MODEL] [--lr X] [--epochs E] [--lora R] [--anchor W] [--budget F] [--budget-retries N] [--shrink-to F] [--stretch-to A] [--cuts M]")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("train: unexpected argument %q", pos[0])
	}
	// --lr/--epochs given: they apply to every algorithm, over the
	// defaults for the active policy's kind of model (rlhf.RunJob fills
	// the rest of each optimiser).
	var bad error
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "lr":
			if *lr <= 0 {
				bad = usageError("train: --lr %g must be positive", *lr)
			}
			jc.LR = *lr
		case "epochs":
			if *epochs <= 0 {
				bad = usageError("train: --epochs %d must be positive", *epochs)
			}
			jc.Epochs = *epochs
		case "cuts":
			if jc.Cuts >= 1 {
				bad = usageError("train: --cuts %g: a difference of probabilities, below 1", jc.Cuts)
			}
		case "stretch-to":
			if jc.StretchTo < 1 {
				bad = usageError("train: --stretch-to %g: want 1 (off) or more", jc.StretchTo)
			}
		}
	})
	if bad != nil {
		return bad
	}
	if jc.LoRA.Rank < 0 {
		return usageError("train: --lora %d must not be negative", jc.LoRA.Rank)
	}
	jc.LoRA.Alpha = float32(2 * jc.LoRA.Rank)
	switch jc.Algo {
	case "auto", "kto", "dpo", "rloo":
	default:
		return usageError("train: --algo %q: want auto, kto, dpo or rloo", jc.Algo)
	}
	if jc.MaxDuration < 0 {
		return usageError("train: --max-duration %v must not be negative", jc.MaxDuration)
	}
	st, err := feedback.Open(ctx, e.db)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	defer st.Close()
	jc.Home, jc.Store = e.home, st
	if jc.BaseModel == "" && !jc.DryRun {
		// First run on a fresh registry: the embedded default model
		// becomes policy 1, as the chat does.
		if _, err := activeOrDefaultPolicy(ctx, e, st); err != nil && !errors.Is(err, feedback.ErrNotFound) {
			return fmt.Errorf("train: %w", err)
		}
	}
	jsonOut := *asJSON || !stderrIsTTY(e)
	enc := json.NewEncoder(e.stdout)
	started := time.Now()
	jc.Event = func(ev rlhf.Event) {
		if jsonOut {
			_ = enc.Encode(ev)
			return
		}
		if ev.Total > 0 {
			fmt.Fprintf(e.stderr, "\r\033[K%-7s %s %d/%d  loss %.4f  %s", ev.Phase, bar(ev.Step, ev.Total, 24), ev.Step, ev.Total, ev.Metrics["loss"], time.Since(started).Round(time.Second))
			return
		}
		fmt.Fprintf(e.stderr, "\r\033[K%s: %s\n", ev.Phase, ev.Message)
	}
	res, err := rlhf.RunJob(ctx, jc)
	if !jsonOut {
		fmt.Fprint(e.stderr, "\r\033[K")
	}
	if err != nil {
		var le *rlhf.LockedError
		if errors.As(err, &le) {
			return &exitErr{code: exitLocked, err: err}
		}
		if errors.Is(err, rlhf.ErrNothingToDo) {
			if jsonOut {
				_ = enc.Encode(map[string]any{"outcome": "nothing", "message": err.Error()})
			}
			return &exitErr{code: exitNothing, err: err}
		}
		return err
	}
	if jsonOut {
		return enc.Encode(struct {
			Final bool `json:"final"`
			*rlhf.JobResult
		}{true, res})
	}
	fmt.Fprintln(e.stdout, res.Message)
	if res.Outcome == "dry-run" || res.Outcome == "cancelled" {
		return nil
	}
	fmt.Fprintf(e.stdout, "run %d: %s on policy %d, %d ratings + %d pairs (watermark %d→%d), %.0fs\n",
		res.RunID, strings.ToUpper(res.Algo), res.Reference, res.Examples, res.Pairs, res.WatermarkFrom, res.WatermarkTo, res.Seconds)
	if rm := res.RewardModel; rm != nil {
		fmt.Fprintf(e.stdout, "reward model: %s\n", rm)
	}
	fmt.Fprintln(e.stdout, rlhf.SparkSummary(res.History))
	for _, g := range res.Gates {
		fmt.Fprintln(e.stdout, "gate "+g.String())
	}
	fmt.Fprintf(e.stdout, "report: %s\n", res.Dir)
	return nil
}
