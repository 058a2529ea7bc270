package rlhf

import (
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hone-ai/hone/feedback"
	"github.com/hone-ai/hone/model/train"
)

// ErrNothingToDo is returned (wrapped in a *NothingError) when there is
// too little new data for the job (exit code 3).
var ErrNothingToDo = errors.New("nothing to do")

// NothingError says why the job has nothing to do.
type NothingError struct{ Reason string }

func (e *NothingError) Error() string        { return e.Reason }
func (e *NothingError) Is(target error) bool { return target == ErrNothingToDo }

// JobConfig configures one run of the training job.
type JobConfig struct {
	Home  string          // hone's home: lock, runs/, policies/
	Store *feedback.Store // ratings, pairs, policies, runs
	Algo  string          // auto (default), kto, dpo or rloo
	// DryRun reports what the job would do and stops before training.
	DryRun bool
	// MaxDuration stops training cleanly (checkpoint saved, resumable)
	// after this long; 0 = no limit.
	MaxDuration time.Duration
	// BaseModel/Tokenizer: the model registered as the first policy when
	// the store has no active policy yet.
	BaseModel, Tokenizer string
	// MinExamples (rated replies, default 16) and MinPairs (default 8):
	// less new data than this is "nothing to do".
	MinExamples, MinPairs int
	HeldOutFrac           float64 // share of prompts held out (default 0.2)
	Gates                 GateConfig
	// LoRA is the policy update's adapter. Rank 0 = the reference kind's
	// default for the algorithm (jobDefaults); nil Targets = that
	// default's targets (chat models: the attention output and FFN down
	// projections; base models: every projection).
	LoRA train.LoRAConfig
	// The algorithms' settings; zero (β 0, RLOO's K 0) = the reference
	// kind's default (chat models: DPO at β 1 with rpo_alpha 0.5, RLOO at
	// β 0.3, KTO at 0.1; RLOO rewarded by the reward model's probability
	// of approval).
	KTO  KTOConfig
	DPO  DPOConfig
	RLOO RLOOOptions
	// The policy update's optimiser: Optim for DPO (and for KTO and RLOO
	// when theirs is zero), KTOOptim, RLOOOptim. Where all that applies
	// has LR 0, the reference model's kind decides (jobDefaults): on a
	// chat model the lab's chat settings, on a base model its base-model
	// ones with DPO's and KTO's steps halved.
	Optim     Optim
	KTOOptim  Optim
	RLOOOptim Optim
	// LR, when positive, replaces the learning rate of whichever of these
	// applies; Epochs, when positive, its passes over the data (KTO, DPO):
	// the CLI's --lr and --epochs.
	LR     float64
	Epochs int
	// Anchor is the weight of the anchor term in every policy step
	// (Optim.Anchor): the KL from the policy to the reference along the
	// reference's own stored replies in the training data, at the
	// positions where it gave its token at least AnchorMinProb. 0 = the
	// reference's default (chat models: the lab's, ChatLabConfig; base
	// models: off); negative = off. AnchorMinProb 0 = the default (0.5).
	Anchor, AnchorMinProb float64
	// Budget bounds each update as in the lab (Optim.Guard): training goes
	// back to the last check within it once the policy's LM loss on the
	// replies to a fifth of the training prompts, set aside and not
	// trained on, is up this fraction. 0 = the default (chat models:
	// the lab's, ChatLabConfig, scaled to Gates.MaxLMLossIncrease — off
	// for KTO and DPO, which run to their end and shrink, 1.2 × the
	// gate's bound for RLOO, which stretches; base models: off);
	// negative = off.
	// BudgetRetries is how many failed checks an update goes back from and
	// on at half the step before it stops (Optim.GuardRetries): 0 = the
	// default (chat models: the lab's, ChatLabConfig); negative = none.
	Budget        float64
	BudgetRetries int
	// ShrinkTo, when positive, fits each finished update to the drift
	// bound as the lab does (LabConfig.ShrinkTo): the update moves back
	// along its line from the reference until the LM loss on the
	// set-aside replies is up at most this fraction. StretchTo > 1
	// carries an update that ended within ShrinkTo on along its line, up
	// to that multiple of itself, until it reaches it
	// (LabConfig.StretchTo). 0 = the default (chat models: the lab's,
	// ChatLabConfig, scaled to Gates.MaxLMLossIncrease; base models:
	// off); negative = off.
	ShrinkTo, StretchTo float64
	// Cuts, when positive, adds to DPO's pairs each rated reply against
	// its sentence cuts that the reward model tells apart from it by more
	// than this probability of approval, has RLOO score both branches of
	// its samples' decisions to stop after a sentence, and has the anchor
	// of either free those decisions to stop and hold the others
	// (LabConfig.Cuts). 0 = the default (chat models: the lab's; base
	// models: off); negative = off.
	Cuts float64
	// Reward configures the reward model; its thumbs are balanced
	// (RewardConfig.BalanceThumbs) when asked or where the lab's defaults
	// for the reference's kind balance them (models without a chat
	// template).
	Reward          RewardConfig
	RewardOptim     Optim
	Sampler         Sampler // RLOO's and the gates'; MaxTokens 0 = 128 on chat models, 48 otherwise
	CheckpointEvery int     // steps (default 10)
	// Event receives progress: phases, steps with metrics, messages.
	Event func(Event)
}

// Event is one progress report of the job (a JSON line with --json).
type Event struct {
	Phase   string  `json:"phase"`
	Step    int     `json:"step,omitempty"`
	Total   int     `json:"total,omitempty"`
	Metrics Metrics `json:"metrics,omitempty"`
	Message string  `json:"message,omitempty"`
}

// JobResult is the outcome of a run.
type JobResult struct {
	RunID         int64        `json:"run_id"`
	Outcome       string       `json:"outcome"` // promoted | rejected | cancelled | dry-run
	Algo          string       `json:"algo"`
	Reference     int64        `json:"reference_version"`
	Candidate     int64        `json:"candidate_version,omitempty"`
	Path          string       `json:"path,omitempty"`
	WatermarkFrom int64        `json:"watermark_from"`
	WatermarkTo   int64        `json:"watermark_to"`
	Examples      int          `json:"examples"`
	Up            int          `json:"up"`
	Down          int          `json:"down"`
	Pairs         int          `json:"pairs"`
	Resumed       bool         `json:"resumed"`
	Gates         []GateResult `json:"gates,omitempty"`
	FailedGates   []string     `json:"failed_gates,omitempty"`
	RewardModel   *RewardEval  `json:"reward_model,omitempty"`
	Dir           string       `json:"dir,omitempty"`
	Seconds       float64      `json:"seconds"`
	Message       string       `json:"message"`
	History       []Metrics    `json:"-"`
	Eval          *Evaluation  `json:"-"`
}

// DefaultJobConfig returns the job's defaults (the CLI starts from it).
// The policy optimiser, adapter, algorithm settings (KTO, DPO, RLOO),
// anchor, budget and reply length are left zero: RunJob sets them from
// the reference model's kind (jobDefaults).
func DefaultJobConfig() JobConfig {
	lab := DefaultLabConfig("auto")
	rc := lab.Reward
	rc.BalanceThumbs = false // or as the reference's kind has it (jobDefaults)
	return JobConfig{
		Algo: "auto", MinExamples: 16, MinPairs: 8, HeldOutFrac: 0.2, Gates: DefaultGates(),
		Reward: rc, RewardOptim: lab.RewardOptim,
		Sampler:         Sampler{Temperature: 1},
		CheckpointEvery: 10,
	}
}

// jobDefaults returns the lab configuration whose policy optimiser,
// anchor, budget, shrink and reply length the job uses for algo by
// default. On a chat model these are ChatLabConfig's, measured on the
// default model with the anchor, the budget guard and the shrink, which
// the job has too. On a base model they are the lab's base-model ones
// without its anchor and cuts and with smaller steps, a half for KTO and a
// quarter for DPO (RLOO keeps the step it had before the lab's anchor
// doubled it): a real user's data is noisier than a rule annotator's,
// and a run the gates reject costs a night. (Base
// models have no budget guard, and DPO there moves far per step: with
// every 👍 paired with every 👎 to the same prompt, 1,000 ratings of
// stories260K gave 519 pairs where siblings alone gave 117; 5e-4 for 3
// epochs, the old default, then ran to KL 21 nats where it had reached
// 2.2, half the lab's step to KL 4.2 and LM loss +4.0%, a quarter to KL
// 1.1 and +1.1%.)
func jobDefaults(algo string, chat bool) (LabConfig, error) {
	if chat {
		return ChatLabConfig(algo)
	}
	c := DefaultLabConfig(algo)
	// The job's base-model steps were measured without the anchor and
	// the cuts, which the lab's have had since, and RLOO's at half the
	// lab's step now.
	c.Anchor, c.Cuts = 0, 0
	switch algo {
	case "kto":
		c.Optim.LR /= 2
	case "dpo":
		c.Optim.LR /= 4
	case "rloo":
		c.Optim.LR /= 2
	default:
		return LabConfig{}, fmt.Errorf("no job defaults for algorithm %q", algo)
	}
	return c, nil
}

// optimFor is the policy optimiser for algo: the configured one, else
// def's.
func (jc *JobConfig) optimFor(algo string, def Optim) Optim {
	switch {
	case algo == "kto" && jc.KTOOptim.LR > 0:
		return jc.KTOOptim
	case algo == "rloo" && jc.RLOOOptim.LR > 0:
		return jc.RLOOOptim
	case jc.Optim.LR > 0:
		return jc.Optim
	}
	return def
}

// loraFor is the adapter the job trains: the configured one, with what
// it leaves zero from def (the reference kind's default for the
// algorithm).
func loraFor(c, def train.LoRAConfig) train.LoRAConfig {
	switch {
	case c.Rank == 0:
		return def
	case c.Targets == nil:
		c.Targets = def.Targets
	}
	return c
}

// loraTargets names an adapter's targets (nil Targets: all of them).
func loraTargets(c train.LoRAConfig) []string {
	if c.Targets == nil {
		return train.TargetNames[:]
	}
	return c.Targets
}

// LockPath is the train job's lock file in home.
func LockPath(home string) string { return filepath.Join(home, "train.lock") }

// checkpointFile is a run's resumable state.
type checkpointFile struct {
	RunID int64
	Algo  string
	// LoRA is the adapter being trained (Rank 0 in a checkpoint from a
	// hone that did not record it).
	LoRA train.LoRAConfig
	// Settings are the run's algorithm, optimiser, anchor and budget
	// settings (nil in a checkpoint from a hone that did not record them).
	Settings      *runSettings
	Reference     int64
	WatermarkFrom int64
	WatermarkTo   int64
	State         *TrainState
}

// runSettings are what a policy update trains with besides its adapter,
// resolved from the configuration and the reference's kind. A checkpoint
// keeps them, so a resumed run finishes as the run it started as (the
// same steps and step sizes), and the policy's metrics record them.
type runSettings struct {
	KTO  KTOConfig  `json:"kto"`
	DPO  DPOConfig  `json:"dpo"`
	RLOO RLOOConfig `json:"rloo"`
	// RLOOPrompts is RLOO's prompts per step.
	RLOOPrompts int `json:"rloo_prompts"`
	// The sampler's settings (RLOO's samples and the gates').
	Temperature float64 `json:"temperature"`
	TopK        int     `json:"top_k"`
	MaxTokens   int     `json:"max_tokens"`
	// The optimiser's.
	LR        float64 `json:"lr"`
	Epochs    int     `json:"epochs"`
	Steps     int     `json:"steps"`
	BatchSize int     `json:"batch_size"`
	MinSteps  int     `json:"min_steps"`
	Warmup    float64 `json:"warmup"`
	// The anchor's, the budget guard's and the shrink's.
	Anchor        float64 `json:"anchor"`
	AnchorMinProb float64 `json:"anchor_min_prob"`
	Budget        float64 `json:"budget"`
	BudgetRetries int     `json:"budget_retries"`
	ShrinkTo      float64 `json:"shrink_to"`
	StretchTo     float64 `json:"stretch_to"`
	Cuts          float64 `json:"cuts"`
}

// apply sets jc's algorithm and sampler settings and o's schedule from s.
func (s runSettings) apply(jc *JobConfig, o *Optim) {
	jc.KTO, jc.DPO, jc.RLOO.RLOOConfig, jc.RLOO.PromptsPerStep = s.KTO, s.DPO, s.RLOO, s.RLOOPrompts
	jc.Sampler.Temperature, jc.Sampler.TopK, jc.Sampler.MaxTokens = s.Temperature, s.TopK, s.MaxTokens
	o.LR, o.Epochs, o.Steps, o.BatchSize, o.MinSteps, o.Warmup = s.LR, s.Epochs, s.Steps, s.BatchSize, s.MinSteps, s.Warmup
}

func (j *JobConfig) emit(ev Event) {
	if j.Event != nil {
		j.Event(ev)
	}
}

// policyWatermark reads watermark_to from a policy's metrics.
func policyWatermark(p feedback.Policy) int64 {
	var m struct {
		WatermarkTo int64 `json:"watermark_to"`
	}
	_ = json.Unmarshal(p.Metrics, &m)
	return m.WatermarkTo
}

// RunJob runs the training job once: lock, data since the last run, the
// reward model, the policy update (resuming an interrupted run), the
// gates, and promotion or a candidate.
func RunJob(ctx context.Context, jc JobConfig) (*JobResult, error) {
	start := time.Now()
	def := DefaultJobConfig()
	if jc.Algo == "" {
		jc.Algo = "auto"
	}
	switch jc.Algo {
	case "auto", "kto", "dpo", "rloo":
	default:
		return nil, fmt.Errorf("train: unknown algorithm %q (auto, kto, dpo or rloo)", jc.Algo)
	}
	if jc.MinExamples <= 0 {
		jc.MinExamples = def.MinExamples
	}
	if jc.MinPairs <= 0 {
		jc.MinPairs = def.MinPairs
	}
	if jc.HeldOutFrac <= 0 {
		jc.HeldOutFrac = def.HeldOutFrac
	}
	if jc.CheckpointEvery <= 0 {
		jc.CheckpointEvery = def.CheckpointEvery
	}
	if jc.RewardOptim.LR == 0 {
		jc.RewardOptim = def.RewardOptim
	}
	lock, err := AcquireLock(LockPath(jc.Home))
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	st := jc.Store
	res := &JobResult{Algo: jc.Algo}

	// The reference: the active policy, or the base model registered now.
	active, err := st.ActivePolicy(ctx)
	if errors.Is(err, feedback.ErrNotFound) {
		if jc.BaseModel == "" {
			return nil, &NothingError{Reason: "train: no active policy yet: run `hone train -m MODEL` once to register the base model"}
		}
		if jc.DryRun {
			res.Outcome, res.Message = "dry-run", fmt.Sprintf("would register %s as policy 1 and train on it", jc.BaseModel)
			return res, nil
		}
		abs, _ := filepath.Abs(jc.BaseModel)
		m, _ := json.Marshal(map[string]any{"tokenizer": jc.Tokenizer})
		p, err := st.CreatePolicy(ctx, feedback.Policy{Name: "base", Base: abs, Path: abs, Algorithm: "base", Metrics: m})
		if err != nil {
			return nil, fmt.Errorf("train: register base model: %w", err)
		}
		if err := st.Promote(ctx, p.Version); err != nil {
			return nil, fmt.Errorf("train: register base model: %w", err)
		}
		jc.emit(Event{Phase: "register", Message: fmt.Sprintf("registered %s as policy %d", abs, p.Version)})
		if active, err = st.ActivePolicy(ctx); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("train: active policy: %w", err)
	}
	res.Reference = active.Version

	// The data window: everything since the data the active policy was
	// trained on (a promoted run consumes its window; a rejected one does
	// not, so its ratings are not lost: the next run retrains on them with
	// whatever came since).
	runs, err := st.Runs(ctx, 0)
	if err != nil {
		return nil, err
	}
	since := policyWatermark(active)
	for _, r := range runs {
		if r.Outcome == feedback.OutcomePromoted && r.WatermarkTo > since {
			since = r.WatermarkTo
		}
	}
	until, err := st.Watermark(ctx)
	if err != nil {
		return nil, err
	}
	// The same window on the same reference was already tried and
	// rejected: retraining would give the same candidate.
	for _, r := range runs {
		if r.Outcome == feedback.OutcomeRejected && r.PolicyVersion == active.Version && r.WatermarkFrom == since && r.WatermarkTo == until {
			return nil, &NothingError{Reason: fmt.Sprintf("train: no new ratings since run %d, whose candidate (policy %d) failed its gates (%s); rate more replies or promote it with `hone models promote %d`",
				r.ID, r.CandidateVersion, r.Error, r.CandidateVersion)}
		}
	}
	// An interrupted run (killed: still "running"; or stopped by
	// --max-duration: "cancelled") with a checkpoint on the same reference
	// and window start resumes.
	var resume *checkpointFile
	var stale []feedback.TrainingRun
	for _, r := range runs {
		if r.Outcome != feedback.OutcomeRunning && r.Outcome != feedback.OutcomeCancelled {
			continue
		}
		if resume == nil && r.WatermarkFrom == since && r.PolicyVersion == active.Version {
			if ck, err := readCheckpoint(filepath.Join(runDir(jc.Home, r.ID), "checkpoint.gob")); err == nil && ck.RunID == r.ID {
				resume = ck
				continue
			}
		}
		if r.Outcome == feedback.OutcomeRunning {
			stale = append(stale, r)
		}
	}
	if resume != nil {
		until = resume.WatermarkTo
		res.Resumed = true
	}
	res.WatermarkFrom, res.WatermarkTo = since, until
	win := feedback.Window{Since: since, Until: until}
	exs, err := st.Examples(ctx, win)
	if err != nil {
		return nil, err
	}
	prs, err := st.Pairs(ctx, win)
	if err != nil {
		return nil, err
	}
	// Every 👍 pairs with every 👎 to the same prompt, not only with its
	// siblings, as in the lab: the same question asked in two
	// conversations is as good a comparison as a regeneration.
	prs = append(prs, feedback.SamePromptPairs(exs, prs)...)
	for _, x := range exs {
		if x.Label {
			res.Up++
		} else {
			res.Down++
		}
	}
	res.Examples, res.Pairs = len(exs), len(prs)
	algo := jc.Algo
	if resume != nil {
		algo = resume.Algo
	}
	counts := fmt.Sprintf("%d new ratings (%d 👍, %d 👎) and %d pairs since watermark %d", len(exs), res.Up, res.Down, len(prs), since)
	both := res.Up > 0 && res.Down > 0
	switch algo {
	case "auto":
		switch {
		case len(prs) >= jc.MinPairs:
			algo = "dpo"
		case len(exs) >= jc.MinExamples && both:
			algo = "kto"
		case len(exs) >= jc.MinExamples:
			return nil, &NothingError{Reason: fmt.Sprintf("train: %s: KTO needs both 👍 and 👎, DPO needs %d pairs", counts, jc.MinPairs)}
		default:
			return nil, &NothingError{Reason: fmt.Sprintf("train: too little new data: %s (need %d rated replies with both labels, or %d pairs)", counts, jc.MinExamples, jc.MinPairs)}
		}
	case "kto":
		if len(exs) < jc.MinExamples || !both {
			return nil, &NothingError{Reason: fmt.Sprintf("train: KTO needs at least %d rated replies with both 👍 and 👎: %s", jc.MinExamples, counts)}
		}
	case "dpo":
		if len(prs) < jc.MinPairs {
			return nil, &NothingError{Reason: fmt.Sprintf("train: DPO needs at least %d pairs: %s", jc.MinPairs, counts)}
		}
	case "rloo":
		if len(prs) < jc.MinPairs && (len(exs) < jc.MinExamples || !both) {
			return nil, &NothingError{Reason: fmt.Sprintf("train: RLOO's reward model needs %d pairs or %d rated replies with both labels: %s", jc.MinPairs, jc.MinExamples, counts)}
		}
	}
	res.Algo = algo
	if jc.DryRun {
		res.Outcome = "dry-run"
		res.Message = fmt.Sprintf("would train %s on policy %d with %s", algo, active.Version, counts)
		res.Seconds = time.Since(start).Seconds()
		return res, nil
	}
	for _, r := range stale {
		_ = st.FinishRun(ctx, r.ID, feedback.RunResult{Outcome: feedback.OutcomeFailed, Error: "interrupted: the process ended before the run finished; restarted"})
		jc.emit(Event{Phase: "recover", Message: fmt.Sprintf("run %d was interrupted; starting over", r.ID)})
	}

	// Load the reference.
	tok := jc.Tokenizer
	var pm struct {
		Tokenizer string `json:"tokenizer"`
	}
	if json.Unmarshal(active.Metrics, &pm) == nil && pm.Tokenizer != "" && tok == "" {
		tok = pm.Tokenizer
	}
	jc.emit(Event{Phase: "load", Message: fmt.Sprintf("policy %d: %s", active.Version, active.Path)})
	ref, err := LoadModel(active.Path, tok)
	if err != nil {
		return nil, fmt.Errorf("train: load policy %d: %w", active.Version, err)
	}
	defer ref.Engine.Close()
	// What the configuration leaves zero, the reference's kind decides.
	kind, err := jobDefaults(algo, ref.Chat())
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	jc.LoRA = loraFor(jc.LoRA, kind.LoRA)
	jc.Reward.BalanceThumbs = jc.Reward.BalanceThumbs || kind.Reward.BalanceThumbs
	if jc.KTO.Beta == 0 {
		jc.KTO = kind.KTO
	}
	if jc.DPO.Beta == 0 {
		jc.DPO = kind.DPO
	}
	if jc.RLOO.K == 0 {
		jc.RLOO = kind.RLOO
	}
	if resume != nil && resume.LoRA.Rank > 0 {
		// The adapter the run started with, whatever the configuration
		// (or a newer hone's default) says now.
		jc.LoRA = resume.LoRA
	}
	if jc.Sampler.MaxTokens <= 0 {
		t := jc.Sampler.Temperature
		jc.Sampler = kind.Sampler
		if t > 0 {
			jc.Sampler.Temperature = t
		}
	}
	anchor, minProb, budget := jc.Anchor, jc.AnchorMinProb, jc.Budget
	if anchor == 0 {
		anchor = kind.Anchor
	}
	switch {
	case minProb == 0:
		minProb = 0.5
	case minProb < 0:
		minProb = 0
	}
	// On a chat model the budget, the shrink and the stretch are the
	// lab's, fitted to the default gate's bound on the LM loss (5%), and
	// scale with the bound the gate is given.
	shrinkTo, stretchTo, cuts := jc.ShrinkTo, jc.StretchTo, jc.Cuts
	if cuts == 0 {
		cuts = kind.Cuts
	}
	if ref.Chat() {
		gate := jc.Gates.MaxLMLossIncrease
		if gate == 0 {
			gate = DefaultGates().MaxLMLossIncrease
		}
		scale := gate / DefaultGates().MaxLMLossIncrease
		if budget == 0 {
			budget = kind.Budget * scale
		}
		if shrinkTo == 0 {
			shrinkTo = kind.ShrinkTo * scale
		}
		if stretchTo == 0 {
			stretchTo = kind.StretchTo
		}
	}
	retries := jc.BudgetRetries
	switch {
	case retries == 0:
		retries = kind.BudgetRetries
	case retries < 0:
		retries = 0
	}
	o := jc.optimFor(algo, kind.Optim)
	if jc.LR > 0 {
		o.LR = jc.LR
	}
	if jc.Epochs > 0 {
		o.Epochs = jc.Epochs
		jc.KTO.WeightedEpochs = false // passes as given
	}
	set := runSettings{
		KTO: jc.KTO, DPO: jc.DPO, RLOO: jc.RLOO.RLOOConfig, RLOOPrompts: jc.RLOO.PromptsPerStep,
		Temperature: jc.Sampler.Temperature, TopK: jc.Sampler.TopK, MaxTokens: jc.Sampler.MaxTokens,
		LR: o.LR, Epochs: o.Epochs, Steps: o.Steps, BatchSize: o.BatchSize, MinSteps: o.MinSteps, Warmup: o.Warmup,
		Anchor: anchor, AnchorMinProb: minProb, Budget: budget, BudgetRetries: retries,
		ShrinkTo: shrinkTo, StretchTo: stretchTo, Cuts: cuts,
	}
	if resume != nil && resume.Settings != nil {
		// The settings the run started with, whatever the configuration
		// (or a newer hone's defaults) says now: the resumed run is the
		// run it started as.
		set = *resume.Settings
	}
	set.apply(&jc, &o)
	anchor, minProb, budget, retries = set.Anchor, set.AnchorMinProb, set.Budget, set.BudgetRetries
	shrinkTo, stretchTo, cuts = set.ShrinkTo, set.StretchTo, set.Cuts

	// The run row.
	var run feedback.TrainingRun
	if resume != nil {
		run, err = st.Run(ctx, resume.RunID)
		if err != nil {
			return nil, err
		}
		jc.emit(Event{Phase: "resume", Message: fmt.Sprintf("resuming run %d at step %d", run.ID, resume.State.Step)})
	} else {
		run, err = st.StartRun(ctx, feedback.TrainingRun{Algorithm: algo, PolicyVersion: active.Version, WatermarkFrom: since, WatermarkTo: until, Examples: len(exs), Pairs: len(prs)})
		if err != nil {
			return nil, err
		}
	}
	res.RunID = run.ID
	dir := runDir(jc.Home, run.ID)
	res.Dir = dir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	fail := func(err error) (*JobResult, error) {
		oc := feedback.OutcomeFailed
		if ctx.Err() != nil {
			oc = feedback.OutcomeCancelled
		}
		_ = st.FinishRun(context.WithoutCancel(ctx), run.ID, feedback.RunResult{Outcome: oc, Error: err.Error()})
		return nil, err
	}

	// Data as tokens, split by prompt.
	trainEx, heldEx := feedback.SplitExamples(exs, jc.HeldOutFrac)
	trainPr, heldPr := feedback.SplitPairs(prs, jc.HeldOutFrac)
	toUnpaired := func(xs []feedback.Example) []Unpaired {
		out := make([]Unpaired, len(xs))
		for i, x := range xs {
			out[i] = Unpaired{Seq{ref.PromptTokens(turns(x.Prompt)), ref.completionTokens(x.Completion, x.Status)}, x.Label}
		}
		return out
	}
	toPairs := func(ps []feedback.Pair) []Pair {
		out := make([]Pair, len(ps))
		for i, p := range ps {
			pt := ref.PromptTokens(turns(p.Prompt))
			out[i] = Pair{pt, ref.completionTokens(p.Chosen, feedback.StatusComplete), ref.completionTokens(p.Rejected, feedback.StatusComplete)}
		}
		return out
	}
	thumbs, pairs := toUnpaired(trainEx), toPairs(trainPr)
	heldData := RewardData{Thumbs: toUnpaired(heldEx), Pairs: toPairs(heldPr)}
	// Held-out prompts for the gates: held-out data's prompts, else (too
	// little data to hold any out) the training prompts.
	heldPrompts := uniquePrompts(heldData)
	if len(heldPrompts) == 0 {
		heldPrompts = uniquePrompts(RewardData{Thumbs: thumbs, Pairs: pairs})
		jc.emit(Event{Phase: "data", Message: "no held-out prompt in the new data: gates use training prompts"})
	}
	var text []Seq
	for _, t := range heldData.Thumbs {
		text = append(text, t.Seq)
	}

	// Reward model (for RLOO and the reward gate), versioned with the
	// reference policy it is trained on.
	jc.emit(Event{Phase: "reward", Message: fmt.Sprintf("reward model on %d pairs and %d rated replies", len(pairs), len(thumbs))})
	ro := jc.RewardOptim
	ro.Seed = uint64(run.ID)
	ro.OnStep = func(step, total int, m Metrics) error {
		jc.emit(Event{Phase: "reward", Step: step + 1, Total: total, Metrics: m})
		return nil
	}
	var rm *RewardModel
	var rmHist []Metrics
	if len(pairs)+len(thumbs) > 0 {
		rm, rmHist, err = TrainRewardModel(ctx, ref.Train, RewardData{Pairs: pairs, Thumbs: thumbs}, jc.Reward, ro)
		if err != nil {
			return fail(fmt.Errorf("train: reward model: %w", err))
		}
		rm.PolicyVersion = active.Version
		if err := SaveRewardModel(filepath.Join(dir, "reward.gguf"), rm); err != nil {
			return fail(err)
		}
		if len(heldData.Pairs)+len(heldData.Thumbs) > 0 {
			ev, err := rm.Evaluate(ctx, heldData)
			if err != nil {
				return fail(err)
			}
			res.RewardModel = &ev
		}
	}

	// The budget guard's and the shrink's validation text: the stored
	// replies to a fifth of the training prompts, set aside (the reward
	// model has seen them, the policy update does not), as the lab does
	// with the base's.
	var guardText []Seq
	if budget > 0 || shrinkTo > 0 {
		t, p, val := setAside(thumbs, pairs)
		if len(val) >= minGuardText && trainable(algo, t, p) {
			thumbs, pairs, guardText = t, p, val
			if budget > 0 {
				jc.emit(Event{Phase: "data", Message: fmt.Sprintf("budget: LM loss on %d set-aside replies may rise %.1f%% at most", len(val), 100*budget)})
			}
			if shrinkTo > 0 {
				jc.emit(Event{Phase: "data", Message: fmt.Sprintf("shrink: the update is fitted to LM loss up %.1f%% on %d set-aside replies", 100*shrinkTo, len(val))})
			}
		} else {
			jc.emit(Event{Phase: "data", Message: fmt.Sprintf("no budget guard or shrink: %d replies to set aside, too few (need %d and enough left to train on)", len(val), minGuardText)})
		}
	}

	var judge scorer = rm
	if algo == "dpo" && cuts > 0 && rm != nil {
		judge = newScoreCache(rm) // the pairs' cuts, then the anchor's
		cp, err := cutPairs(ctx, judge, ref.Tok(), unpairedSeqs(thumbs), ref.Stops(), kind.CutsCutOff, cuts)
		if err != nil {
			return fail(fmt.Errorf("train: %w", err))
		}
		jc.emit(Event{Phase: "data", Message: fmt.Sprintf("cuts: %d pairs of a rated reply and its cut after a sentence, told apart by the reward model", len(cp))})
		pairs = append(slices.Clip(pairs), cp...)
	}

	// Policy update on a fresh adapter over the reference.
	policy, err := NewPolicy(ref.Train, jc.LoRA, uint64(run.ID))
	if err != nil {
		return fail(err)
	}
	tctx := ctx
	if jc.MaxDuration > 0 {
		var cancel context.CancelFunc
		tctx, cancel = context.WithTimeout(ctx, jc.MaxDuration-time.Since(start))
		defer cancel()
	}
	o.Seed = uint64(run.ID)
	if anchor > 0 {
		// The stored replies in the window are the reference's own
		// (the chat samples from the active policy).
		o.Anchor, o.AnchorCoef, o.AnchorMinProb = distinctReplies(thumbs, pairs), anchor, minProb
		if (algo == "dpo" || algo == "rloo") && cuts > 0 && rm != nil {
			if o.AnchorAt, err = cutAnchors(ctx, judge, ref.Tok(), o.Anchor, ref.Stops(), kind.CutsCutOff, cuts); err != nil {
				return fail(fmt.Errorf("train: anchor: %w", err))
			}
			freed, held := countAnchorAt(o.AnchorAt)
			jc.emit(Event{Phase: "data", Message: fmt.Sprintf("cuts: the anchor frees %d decisions to stop or go on after a sentence that the reward model judges to matter, and holds %d it judges not to", freed, held)})
		}
	}
	var guardBase float64
	if len(guardText) > 0 {
		if guardBase, err = lmLoss(ctx, ref.Train, guardText); err != nil {
			return fail(fmt.Errorf("train: budget: %w", err))
		}
	}
	if len(guardText) > 0 && budget > 0 {
		o.GuardRetries = retries
		o.Guard = lmBudget(policy, lmText{seqs: guardText}, guardBase, budget)
	}
	// The update's line starts at the fresh policy, before a resumed
	// run's checkpoint moves it.
	var line *updateLine
	if len(guardText) > 0 && shrinkTo > 0 {
		line = startUpdate(policy)
	}
	o.CheckpointEvery = jc.CheckpointEvery
	ckPath := filepath.Join(dir, "checkpoint.gob")
	o.Checkpoint = func(ts *TrainState) error {
		return writeCheckpoint(ckPath, &checkpointFile{RunID: run.ID, Algo: algo, LoRA: jc.LoRA, Settings: &set, Reference: active.Version, WatermarkFrom: since, WatermarkTo: until, State: ts})
	}
	if resume != nil {
		o.Resume = resume.State
	}
	o.OnStep = func(step, total int, m Metrics) error {
		jc.emit(Event{Phase: algo, Step: step + 1, Total: total, Metrics: m})
		if (step+1)%jc.CheckpointEvery == 0 {
			b, _ := json.Marshal(map[string]any{"step": step + 1, "total": total, "last": m})
			_ = st.UpdateRun(ctx, run.ID, b)
		}
		return nil
	}
	var hist []Metrics
	switch algo {
	case "kto":
		hist, err = TrainKTO(tctx, policy, ref.Train, thumbs, jc.KTO, o)
	case "dpo":
		hist, err = TrainDPO(tctx, policy, ref.Train, pairs, jc.DPO, o)
	case "rloo":
		var prompts [][]int
		for _, t := range thumbs {
			prompts = append(prompts, t.Prompt)
		}
		for _, p := range pairs {
			prompts = append(prompts, p.Prompt)
		}
		r := jc.RLOO
		r.Sampler = jc.Sampler
		r.Sampler.Stop = ref.Stops()
		// Rollouts end with their stop token, as the ratings the reward
		// model learnt from do (completionTokens).
		r.Sampler.KeepStop = true
		if cuts > 0 {
			r.Sentences, r.CutOff = ref.Tok(), kind.CutsCutOff
		}
		hist, err = TrainRLOO(tctx, policy, ref.Train, rm, prompts, r, o)
	}
	res.History = hist
	if err != nil {
		if tctx.Err() != nil && ctx.Err() == nil {
			// --max-duration: saved, resumable.
			_ = st.FinishRun(ctx, run.ID, feedback.RunResult{Outcome: feedback.OutcomeCancelled, Error: fmt.Sprintf("stopped after --max-duration %v; the next run resumes from the checkpoint", jc.MaxDuration)})
			res.Outcome = "cancelled"
			if _, err := os.Stat(ckPath); err == nil {
				res.Message = fmt.Sprintf("stopped after %v at step %d; checkpoint saved in %s; the next `hone train` resumes", jc.MaxDuration, len(hist), dir)
			} else {
				res.Message = fmt.Sprintf("stopped after %v before the first training step; nothing to resume: give it more time", jc.MaxDuration)
			}
			res.Seconds = time.Since(start).Seconds()
			return res, nil
		}
		return fail(fmt.Errorf("train: %s: %w", algo, err))
	}
	var shrunk map[string]float64
	if line != nil {
		line.finish()
		alpha, drift, err := shrink(ctx, line, policy, lmText{seqs: guardText}, guardBase, shrinkTo, stretchTo, nil)
		if err != nil {
			return fail(fmt.Errorf("train: %w", err))
		}
		shrunk = map[string]float64{"to": shrinkTo, "alpha": alpha, "drift": drift}
		jc.emit(Event{Phase: "shrink", Metrics: Metrics{"shrink": alpha, "budget_drift": drift}, Message: shrinkMessage(alpha, drift)})
	}

	// Gates.
	jc.emit(Event{Phase: "gates", Message: fmt.Sprintf("evaluating on %d held-out prompts", len(heldPrompts))})
	smp := jc.Sampler
	smp.Stop, smp.KeepStop = ref.Stops(), true
	ev, err := EvaluateGates(ctx, policy, ref.Train, GateInput{Prompts: heldPrompts, Text: text, RM: rm, Sampler: smp, Seed: uint64(run.ID)}, jc.Gates)
	if err != nil {
		return fail(fmt.Errorf("train: gates: %w", err))
	}
	res.Eval, res.Gates, res.FailedGates = ev, ev.Gates, ev.Failed()

	// The candidate: a whole-model GGUF written atomically, registered,
	// promoted in one transaction when every gate passes.
	pols, err := st.Policies(ctx)
	if err != nil {
		return fail(err)
	}
	next := int64(1)
	for _, p := range pols {
		if p.Version >= next {
			next = p.Version + 1
		}
	}
	path := filepath.Join(jc.Home, "policies", fmt.Sprintf("policy-%d-run%d.gguf", next, run.ID))
	if err := ref.SaveGGUF(path, policy, fmt.Sprintf("hone policy (%s on v%d)", algo, active.Version)); err != nil {
		return fail(err)
	}
	adapterPath := strings.TrimSuffix(path, ".gguf") + ".lora.gguf"
	if err := SaveAdapter(adapterPath, policy, fmt.Sprintf("hone adapter (%s on v%d)", algo, active.Version)); err != nil {
		return fail(err)
	}
	metrics := map[string]any{
		"algorithm": algo, "run_id": run.ID, "reference_version": active.Version,
		"watermark_from": since, "watermark_to": until, "examples": len(exs), "pairs": len(prs),
		"gates": ev.Gates, "reward_ref": ev.RewardRef, "reward_tuned": ev.RewardTuned, "kl": ev.KL,
		"lm_loss_ref": ev.LMLossRef, "lm_loss_tuned": ev.LMLossTuned, "length_ref": ev.LengthRef, "length_tuned": ev.LengthTuned,
		"reward_model": res.RewardModel, "tokenizer": tok, "adapter": adapterPath, "lora": map[string]any{"rank": jc.LoRA.Rank, "alpha": jc.LoRA.Alpha, "targets": loraTargets(jc.LoRA)},
	}
	if len(hist) > 0 {
		metrics["final"] = hist[len(hist)-1]
	}
	if anchor > 0 {
		metrics["anchor"] = map[string]any{"weight": anchor, "min_prob": minProb}
	}
	metrics["settings"] = set
	if len(guardText) > 0 && budget > 0 {
		metrics["budget"], metrics["budget_retries"] = budget, countRetries(hist)
	}
	if shrunk != nil {
		metrics["shrink"] = shrunk
	}
	mb, _ := json.Marshal(metrics)
	cand, err := st.CreatePolicy(ctx, feedback.Policy{Name: fmt.Sprintf("%s-%d", algo, run.ID), Base: active.Base, ParentVersion: active.Version, Path: path, Algorithm: algo, Metrics: mb})
	if err != nil {
		return fail(err)
	}
	if cand.Path != path {
		// The registry numbered it differently: keep the file name honest.
		path = cand.Path
	}
	res.Candidate, res.Path = cand.Version, path
	outcome := feedback.OutcomeRejected
	if len(res.FailedGates) == 0 {
		if err := st.Promote(ctx, cand.Version); err != nil {
			return fail(err)
		}
		outcome = feedback.OutcomePromoted
		res.Message = fmt.Sprintf("policy %d promoted (%s on policy %d)", cand.Version, algo, active.Version)
	} else {
		res.Message = fmt.Sprintf("policy %d stays a candidate: gate %s failed", cand.Version, strings.Join(res.FailedGates, ", "))
	}
	res.Outcome = string(outcome)
	res.Seconds = time.Since(start).Seconds()
	metrics["seconds"] = res.Seconds
	mb, _ = json.Marshal(metrics)
	errMsg := ""
	if outcome == feedback.OutcomeRejected {
		errMsg = "failed gates: " + strings.Join(res.FailedGates, ", ")
	}
	if err := st.FinishRun(ctx, run.ID, feedback.RunResult{Outcome: outcome, CandidateVersion: cand.Version, Metrics: mb, Error: errMsg}); err != nil {
		return nil, err
	}
	_ = os.Remove(ckPath)
	if err := WriteReport(dir, res, hist, rmHist); err != nil {
		jc.emit(Event{Phase: "report", Message: "report: " + err.Error()})
	}
	return res, nil
}

func runDir(home string, id int64) string { return filepath.Join(home, "runs", fmt.Sprint(id)) }

func turns(ts []feedback.Turn) []Turn {
	out := make([]Turn, len(ts))
	for i, t := range ts {
		out[i] = Turn{Role: t.Role, Content: t.Content}
	}
	return out
}

// completionTokens tokenizes a reply, with EOS when it was complete (the
// model learns to stop) and without when it was cut off.
func (l *Loaded) completionTokens(text string, status feedback.Status) []int {
	toks := l.Engine.Tok.Encode(text)
	if status == feedback.StatusComplete || status == "" {
		if e := l.Engine.Tok.EOS(); e >= 0 {
			toks = append(toks, e)
		}
	}
	return toks
}

func uniquePrompts(d RewardData) [][]int {
	seen := map[string]bool{}
	var out [][]int
	add := func(p []int) {
		k := fmt.Sprint(p)
		if !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	for _, t := range d.Thumbs {
		add(t.Prompt)
	}
	for _, p := range d.Pairs {
		add(p.Prompt)
	}
	return out
}

func writeCheckpoint(path string, ck *checkpointFile) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if err := gob.NewEncoder(f).Encode(ck); err != nil {
		f.Close()
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

func readCheckpoint(path string) (*checkpointFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ck checkpointFile
	if err := gob.NewDecoder(f).Decode(&ck); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if ck.State == nil {
		return nil, fmt.Errorf("checkpoint %s: no state", path)
	}
	return &ck, nil
}

// shrinkMessage says where shrink left an update.
func shrinkMessage(alpha, drift float64) string {
	switch {
	case alpha == 0:
		return fmt.Sprintf("none of the update fits: back at the active policy (LM loss on the set-aside replies %+.2f%%)", 100*drift)
	case alpha > 1:
		return fmt.Sprintf("carried on to %.2f of the update: LM loss on the set-aside replies %+.2f%%", alpha, 100*drift)
	case alpha < 1:
		return fmt.Sprintf("moved back to %.2f of the update: LM loss on the set-aside replies %+.2f%%", alpha, 100*drift)
	}
	return fmt.Sprintf("the whole update: LM loss on the set-aside replies %+.2f%%", 100*drift)
}

// minGuardText is the fewest set-aside replies the job's budget guard
// measures on; with fewer it runs without one.
const minGuardText = 8

// setAside splits off the replies to a fifth of the prompts (by a hash of
// their tokens): what stays to train on, and the set-aside replies, each
// once.
func setAside(thumbs []Unpaired, pairs []Pair) ([]Unpaired, []Pair, []Seq) {
	aside := func(p []int) bool { return heldOut("budget\x00"+fmt.Sprint(p), 0.2) }
	var t []Unpaired
	var p []Pair
	var vt []Unpaired
	var vp []Pair
	for _, x := range thumbs {
		if aside(x.Prompt) {
			vt = append(vt, x)
		} else {
			t = append(t, x)
		}
	}
	for _, x := range pairs {
		if aside(x.Prompt) {
			vp = append(vp, x)
		} else {
			p = append(p, x)
		}
	}
	return t, p, distinctReplies(vt, vp)
}

// trainable reports whether algo has the data it needs in thumbs and
// pairs.
func trainable(algo string, thumbs []Unpaired, pairs []Pair) bool {
	switch algo {
	case "kto":
		up, down := false, false
		for _, t := range thumbs {
			up, down = up || t.Up, down || !t.Up
		}
		return up && down
	case "dpo":
		return len(pairs) > 0
	}
	return len(thumbs)+len(pairs) > 0
}

// distinctReplies are the distinct prompt + reply sequences among thumbs
// and both sides of pairs.
func distinctReplies(thumbs []Unpaired, pairs []Pair) []Seq {
	seen := map[string]bool{}
	var out []Seq
	add := func(s Seq) {
		k := fmt.Sprint(s.Prompt, s.Completion)
		if !seen[k] {
			seen[k] = true
			out = append(out, s)
		}
	}
	for _, t := range thumbs {
		add(t.Seq)
	}
	for _, p := range pairs {
		add(Seq{p.Prompt, p.Chosen})
		add(Seq{p.Prompt, p.Rejected})
	}
	return out
}
