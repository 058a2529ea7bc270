package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hone-ai/hone/model/train"
	"github.com/hone-ai/hone/rlhf"
	"golang.org/x/term"
)

// runLab is `hone lab`: the closed loop with a simulated annotator.
func runLab(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("lab", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	modelPath := fs.String("m", "", "model file (.gguf or llama2.c .bin)")
	tokPath := fs.String("tokenizer", "", "tokenizer.bin for llama2.c checkpoints")
	annotator := fs.String("annotator", "", "annotator command (JSON lines, see design.md)")
	promptsFile := fs.String("prompts", "", "prompts, one per line (default: a built-in set)")
	evalPromptsFile := fs.String("eval-prompts", "", "more held-out prompts for the evaluation alone, one per line (default: with the built-in chat prompts, 200 more from their generator, weighted by kind; none with --prompts)")
	algo := fs.String("algo", "kto", "kto, dpo or rloo")
	ratings := fs.Int("ratings", 500, "annotations spent on training data")
	rounds := fs.Int("rounds", 1, "collect/train/evaluate rounds")
	seed := fs.Uint64("seed", 1, "random seed")
	asJSON := fs.Bool("json", false, "one JSON object per round, then a final one")
	out := fs.String("out", "", "directory for charts (default HOME/lab/<time>)")
	maxTokens := fs.Int("max-tokens", 0, "reply length limit in tokens (default 48, 128 for chat models)")
	temperature := fs.Float64("temperature", 1, "sampling temperature of the replies")
	epochs := fs.Int("epochs", 0, "passes over the ratings for KTO and DPO (default: the algorithm's; KTO on chat models 6 weighted passes, 6 / max(λ_D, λ_U) rounded up)")
	evalSamples := fs.Int("eval-samples", 4, "replies per held-out prompt when evaluating")
	lmSamples := fs.Int("lm-samples", 8, "base replies per prompt in the LM-loss texts (held-out drift and the budget's validation)")
	lr := fs.Float64("lr", 0, "policy learning rate (default: the algorithm's; chat models have their own)")
	beta := fs.Float64("beta", 0, "KL coefficient β of KTO, DPO or RLOO (default 0.1; on chat models 1 for DPO, 0.3 for RLOO)")
	shrinkTo := fs.Float64("shrink-to", -1, "after each update, move it back along the line from the policy before it until LM loss on the budget's validation text is up at most this fraction (with --budget 0 the update first runs to its end; default on chat models 0.042 for KTO and DPO, 0.043 for RLOO; otherwise 0.035, 0.025 for RLOO; 0 = off)")
	stretchTo := fs.Float64("stretch-to", -1, "an update that ended within --shrink-to goes on along its line, up to this multiple of itself, while the validation text's drift stays within --shrink-to (ExPO's extrapolation; default 2, 4 for KTO on models without a chat template; 1 = off)")
	klTo := fs.Float64("kl-to", -1, "the fit along the update's line (--shrink-to, --stretch-to) also keeps the policy's mean sequence KL to the base, on its own replies to the validation prompts, at most this many nats (default 4 on models without a chat template, off on chat models; 0 = off)")
	budgetRetries := fs.Int("budget-retries", -1, "failed budget checks an update goes back from and on at half the step before it stops (default: the configuration's)")
	budget := fs.Float64("budget", -1, "bound each update: once LM loss on a set-aside validation text is up this fraction, roll it back, go on at half the step up to --budget-retries times, then stop (default 0.06 for RLOO on chat models, which then moves along its line to --shrink-to, off otherwise; 0 = off)")
	anchor := fs.Float64("anchor", -1, "weight of the KL to the base on the base's own sampled replies in every policy step (default: 5 for DPO on chat models, 1 otherwise; 0 = off)")
	anchorMin := fs.Float64("anchor-min-prob", -1, "anchor only the positions where the base gave its sampled token at least this probability (default 0.5 for chat models; 0 = every position)")
	cuts := fs.Float64("cuts", -1, "DPO: add pairs of each rated reply and its sentence cuts (the reply stopped after one of its sentences) that the reward model tells apart by more than this probability of approval; RLOO: score both branches of each sampled reply's decisions to stop after a sentence; both: let the anchor free those decisions to stop and hold the others (default 0.5 for DPO, off for RLOO; 0 = off)")
	desW := fs.Float64("desirable-weight", 0, "KTO: weight λ_D of approved replies (TRL's desirable_weight; 0 = balanced with --undesirable-weight from the up/down counts, as the KTO paper recommends)")
	undW := fs.Float64("undesirable-weight", 0, "KTO: weight λ_U of rejected replies (TRL's undesirable_weight; 0 = balanced)")
	rpo := fs.Float64("rpo-alpha", -1, "DPO: weight of the NLL term on chosen replies (TRL's rpo_alpha; default 0.5 on chat models, 0 otherwise)")
	loraRank := fs.Int("lora-rank", 0, "LoRA rank of the policy update, alpha = 2×rank (default 8; 32 for KTO and RLOO on chat models)")
	loraTargets := fs.String("lora-targets", "", "comma-separated LoRA targets among q,k,v,o,gate,up,down (default: o,down on chat models, all otherwise)")
	rlooK := fs.Int("rloo-k", 0, "RLOO: replies sampled per prompt (TRL's rloo_k; default 4)")
	rlooPrompts := fs.Int("rloo-prompts", 0, "RLOO: prompts per step (default 8)")
	rlooReward := fs.String("rloo-reward", "", "RLOO: reward a reply by the reward model's probability of approval (prob) or its raw score (score, as TRL) (default: prob on chat models, score otherwise)")
	rmBalance := fs.Bool("reward-balance", false, "weigh approvals and rejections equally in the reward model's loss on thumbs (default on models without a chat template; --reward-balance=false for the plain loss)")
	withRM := fs.Bool("reward-model", true, "train the reward model and report its held-out accuracy (always on for rloo, and for dpo with --cuts, which it judges)")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: hone lab -m MODEL [--tokenizer F] --annotator CMD [--prompts FILE] [--eval-prompts FILE] [--algo kto|dpo|rloo] [--ratings N] [--rounds R] [--lr X] [--beta B] [--epochs E] [--budget F] [--budget-retries N] [--shrink-to F] [--stretch-to A] [--kl-to K] [--anchor W] [--anchor-min-prob P] [--rpo-alpha A] [--cuts M] [--lora-rank R] [--lora-targets L] [--rloo-k K] [--rloo-prompts N] [--rloo-reward prob|score] [--reward-balance] [--temperature T] [--max-tokens N] [--eval-samples N] [--lm-samples N] [--json] [--seed S]")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("lab: unexpected argument %q", pos[0])
	}
	if *modelPath == "" {
		return usageError("lab: -m MODEL is required")
	}
	if *annotator == "" {
		return usageError("lab: --annotator CMD is required")
	}
	switch *algo {
	case "kto", "dpo", "rloo":
	default:
		return usageError("lab: --algo %q: want kto, dpo or rloo", *algo)
	}
	if *ratings < 4 {
		return usageError("lab: --ratings %d: need at least 4", *ratings)
	}
	if *rounds < 1 || *rounds > *ratings/2 {
		return usageError("lab: --rounds %d: need 1..ratings/2", *rounds)
	}
	if *evalSamples < 1 || *lmSamples < 1 || *maxTokens < 0 {
		return usageError("lab: --eval-samples and --lm-samples must be positive and --max-tokens not negative")
	}
	if *lr < 0 || *beta < 0 || *epochs < 0 {
		return usageError("lab: --lr, --beta and --epochs must not be negative")
	}
	if *desW < 0 || *undW < 0 {
		return usageError("lab: --desirable-weight %g, --undesirable-weight %g: KTO's weights must not be negative", *desW, *undW)
	}
	// --budget, --anchor, --anchor-min-prob and --rpo-alpha default to the
	// configuration's (the -1 sentinel); a negative value given on the
	// command line is an error, not a request for the default.
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["stretch-to"] && *stretchTo < 1 {
		return usageError("lab: --stretch-to %g: want 1 (off) or more", *stretchTo)
	}
	for name, v := range map[string]float64{"budget": *budget, "shrink-to": *shrinkTo, "kl-to": *klTo, "anchor": *anchor, "anchor-min-prob": *anchorMin, "rpo-alpha": *rpo, "cuts": *cuts} {
		if set[name] && v < 0 {
			return usageError("lab: --%s %g: must not be negative", name, v)
		}
	}
	if set["budget-retries"] && *budgetRetries < 0 {
		return usageError("lab: --budget-retries %d: must not be negative", *budgetRetries)
	}
	if *anchorMin > 1 {
		return usageError("lab: --anchor-min-prob %g: a probability, at most 1", *anchorMin)
	}
	if *cuts >= 1 {
		return usageError("lab: --cuts %g: a difference of probabilities, below 1", *cuts)
	}
	if *rlooK < 0 || *rlooK == 1 {
		return usageError("lab: --rloo-k %d: needs at least 2 replies per prompt (the others are each one's baseline)", *rlooK)
	}
	if *rlooPrompts < 0 {
		return usageError("lab: --rloo-prompts %d: must not be negative", *rlooPrompts)
	}
	switch *rlooReward {
	case "", "prob", "score":
	default:
		return usageError("lab: --rloo-reward %q: prob or score", *rlooReward)
	}
	if *loraRank < 0 {
		return usageError("lab: --lora-rank %d: must not be negative", *loraRank)
	}
	var targets []string
	if *loraTargets != "" {
		targets = strings.Split(*loraTargets, ",")
		for _, tg := range targets {
			if !slices.Contains(train.TargetNames[:], tg) {
				return usageError("lab: --lora-targets: %q is not one of %s", tg, strings.Join(train.TargetNames[:], ","))
			}
		}
	}
	if *temperature <= 0 {
		return usageError("lab: --temperature %g: the lab samples two different replies per prompt; give a positive temperature", *temperature)
	}
	var prompts, evalPrompts []string
	if *promptsFile != "" {
		ps, err := readPrompts("prompts", *promptsFile, 2)
		if err != nil {
			return err
		}
		prompts = ps
	}
	if *evalPromptsFile != "" {
		ps, err := readPrompts("eval-prompts", *evalPromptsFile, 1)
		if err != nil {
			return err
		}
		evalPrompts = ps
	}
	ld, err := rlhf.LoadModel(*modelPath, *tokPath)
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	defer ld.Engine.Close()
	chat := ld.Chat()
	var cfg rlhf.LabConfig
	if chat {
		if cfg, err = rlhf.ChatLabConfig(*algo); err != nil {
			return fmt.Errorf("lab: %w", err)
		}
		// A chat model: prompts go through its template, as in the chat.
		cfg.Render = func(p string) []int { return ld.PromptTokens([]rlhf.Turn{{Role: "user", Content: p}}) }
	} else {
		cfg = rlhf.DefaultLabConfig(*algo)
	}
	cfg.BOS = ld.BOS()
	if prompts != nil {
		// The built-in evaluation and validation prompts are held out
		// from the built-in prompts, not from the file's.
		cfg.Prompts, cfg.EvalPrompts, cfg.ValPrompts = prompts, nil, nil
	}
	if evalPrompts != nil {
		cfg.EvalPrompts = evalPrompts
	}
	if prompts != nil || evalPrompts != nil {
		cfg.Kinds = nil // the files' prompts have no kinds: plain means
	}
	cfg.Ratings, cfg.Rounds, cfg.Seed = *ratings, *rounds, *seed
	if *maxTokens > 0 {
		cfg.Sampler.MaxTokens = *maxTokens
	}
	cfg.Sampler.Temperature = *temperature
	cfg.EvalSamples, cfg.LMSamples = *evalSamples, *lmSamples
	cfg.SkipRewardModel = !*withRM
	if set["reward-balance"] {
		cfg.Reward.BalanceThumbs = *rmBalance
	}
	if *lr > 0 {
		cfg.Optim.LR = *lr
	}
	if *epochs > 0 {
		cfg.Optim.Epochs = *epochs
		cfg.KTO.WeightedEpochs = false // passes as given
	}
	if *loraRank > 0 {
		cfg.LoRA.Rank, cfg.LoRA.Alpha = *loraRank, float32(2**loraRank)
	}
	if targets != nil {
		cfg.LoRA.Targets = targets
	}
	if *rlooK > 0 {
		cfg.RLOO.K = *rlooK
	}
	if *rlooPrompts > 0 {
		cfg.RLOO.PromptsPerStep = *rlooPrompts
	}
	if *rlooReward != "" {
		cfg.RLOO.RewardProb = *rlooReward == "prob"
	}
	if *rpo >= 0 {
		cfg.DPO.RPOAlpha = *rpo
	}
	cfg.KTO.DesirableWeight, cfg.KTO.UndesirableWeight = *desW, *undW
	if *budget >= 0 {
		cfg.Budget = *budget
	}
	if *budgetRetries >= 0 {
		cfg.BudgetRetries = *budgetRetries
	}
	if set["stretch-to"] {
		cfg.StretchTo = *stretchTo
	}
	if *shrinkTo >= 0 {
		cfg.ShrinkTo = *shrinkTo
	}
	if *klTo >= 0 {
		cfg.KLTo = *klTo
	}
	if cfg.StretchTo > 1 && cfg.ShrinkTo <= 0 {
		if set["stretch-to"] {
			return usageError("lab: --stretch-to %g needs --shrink-to, the drift it stretches the update to", cfg.StretchTo)
		}
		cfg.StretchTo = 0 // the default stretch goes with the default shrink
	}
	if cfg.KLTo > 0 && cfg.ShrinkTo <= 0 {
		if set["kl-to"] {
			return usageError("lab: --kl-to %g needs --shrink-to: it bounds the fit along the update's line", cfg.KLTo)
		}
		cfg.KLTo = 0 // the default bound goes with the default fit
	}
	if *anchor >= 0 {
		cfg.Anchor = *anchor
	}
	if *anchorMin >= 0 {
		cfg.AnchorMinProb = *anchorMin
	}
	if *cuts >= 0 {
		cfg.Cuts = *cuts
	}
	if *beta > 0 {
		cfg.KTO.Beta, cfg.DPO.Beta, cfg.RLOO.Beta = *beta, *beta, *beta
	}
	cfg.Sampler.Stop = ld.Stops()
	ann, err := rlhf.StartAnnotator(*annotator, 0)
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	defer ann.Close()
	enc := json.NewEncoder(e.stdout)
	term := !*asJSON && stderrIsTTY(e)
	cfg.OnRound = func(r rlhf.LabRound) {
		if *asJSON {
			_ = enc.Encode(r)
			return
		}
		if term {
			fmt.Fprint(e.stderr, "\r\033[K")
		}
		var notes []string
		if r.BudgetRetries > 0 {
			notes = append(notes, fmt.Sprintf("%d budget retries at half the step", r.BudgetRetries))
		}
		if r.BudgetStop > 0 {
			notes = append(notes, fmt.Sprintf("budget reached at step %d of the update", r.BudgetStop))
		}
		switch {
		case r.Shrink > 0 && r.Shrink < 1:
			notes = append(notes, fmt.Sprintf("moved back to %.2f of the update", r.Shrink))
		case r.Shrink > 1:
			notes = append(notes, fmt.Sprintf("carried on to %.2f of the update", r.Shrink))
		}
		stop := ""
		if len(notes) > 0 {
			stop = "  (" + strings.Join(notes, ", ") + ")"
		}
		onBudget := fmt.Sprintf(" (%+.1f%% of it on the replies)", 100*r.LMLossDriftReply)
		if r.BudgetDrift != 0 {
			onBudget += fmt.Sprintf(" (budget text %+.1f%%)", 100*r.BudgetDrift)
		}
		pairs := fmt.Sprint(r.Pairs, " pairs")
		if r.CutPairs > 0 {
			pairs += fmt.Sprintf(", %d of them sentence cuts", r.CutPairs)
		}
		if r.FreedDecisions+r.HeldDecisions > 0 {
			pairs += fmt.Sprintf("; the anchor frees %d stops and holds %d", r.FreedDecisions, r.HeldDecisions)
		}
		fmt.Fprintf(e.stdout, "round %d: %d ratings (%d 👍 %d 👎, %s)  approval %.1f%% → %.1f%% ± %.1f  KL %.2f nats  LM loss %+.1f%% ± %.1f%s%s\n",
			r.Round, r.Ratings, r.Up, r.Down, pairs, 100*r.ApprovalBase, 100*r.ApprovalTuned, 100*r.ApprovalTunedSE, r.KL, 100*r.LMLossDrift, 100*r.LMLossDriftSE, onBudget, stop)
	}
	if term {
		cfg.OnStep = func(phase string, step, total int, m rlhf.Metrics) {
			fmt.Fprintf(e.stderr, "\r\033[K%-7s %s %d/%d  loss %.4f", phase, bar(step+1, total, 24), step+1, total, m["loss"])
		}
	}
	res, err := rlhf.RunLab(ctx, ld.Train, ld.Tok(), ann, cfg)
	if term {
		fmt.Fprint(e.stderr, "\r\033[K")
	}
	if errors.Is(err, rlhf.ErrNothingToDo) {
		return &exitErr{code: exitNothing, err: err}
	}
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join(e.home, "lab", time.Now().UTC().Format("20060102-150405")+"-"+*algo)
	}
	charts, cerr := rlhf.WriteCharts(dir, res.History)
	if *asJSON {
		final := struct {
			Final bool `json:"final"`
			*rlhf.LabResult
			Charts []string `json:"charts,omitempty"`
		}{true, res, charts}
		if err := enc.Encode(final); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.stdout, "\n%s with %d ratings: approval %.1f%% ± %.1f → %.1f%% ± %.1f on %d held-out replies; KL %.2f nats; LM loss %+.1f%% ± %.1f; %.0fs\n",
			strings.ToUpper(res.Algo), res.Ratings, 100*res.ApprovalBase, 100*res.ApprovalBaseSE, 100*res.ApprovalTuned, 100*res.ApprovalTunedSE, res.EvalReplies, res.KL, 100*res.LMLossDrift, 100*res.LMLossDriftSE, res.Seconds)
		if len(res.ByKind) > 0 {
			var ks []string
			for _, k := range res.ByKind {
				ks = append(ks, fmt.Sprintf("%s %.0f%% → %.0f%% (drift %+.1f%%)", k.Kind, 100*k.ApprovalBase, 100*k.ApprovalTuned, 100*k.LMLossDrift))
			}
			fmt.Fprintf(e.stdout, "by kind (largest share first; each kind's part of the drift): %s\n", strings.Join(ks, ", "))
		}
		if rm := res.RewardModel; rm != nil {
			fmt.Fprintf(e.stdout, "reward model: %s\n", rm)
		}
		fmt.Fprintln(e.stdout, rlhf.SparkSummary(res.History))
		if len(charts) > 0 {
			fmt.Fprintf(e.stdout, "charts: %s\n", strings.Join(charts, ", "))
		}
	}
	if cerr != nil {
		fmt.Fprintf(e.stderr, "hone: lab: charts: %v\n", cerr)
	}
	return nil
}

// readPrompts reads one prompt per non-empty line of the file given to
// --name, and wants at least least of them.
func readPrompts(name, path string, least int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("lab: --%s: %w", name, err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			out = append(out, s)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("lab: --%s %s: %w", name, path, err)
	}
	if len(out) < least {
		return nil, fmt.Errorf("lab: --%s %s: %d prompts, need at least %d", name, path, len(out), least)
	}
	return out, nil
}

// bar draws a progress bar of width cells.
func bar(done, total, width int) string {
	if total <= 0 {
		total = 1
	}
	n := done * width / total
	if n > width {
		n = width
	}
	return "[" + strings.Repeat("█", n) + strings.Repeat("·", width-n) + "]"
}

// stderrIsTTY reports whether progress goes to a terminal (bars) rather
// than a pipe or file.
func stderrIsTTY(e *env) bool {
	f, ok := e.stderr.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
