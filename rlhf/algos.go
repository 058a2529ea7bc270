package rlhf

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/hone-ai/hone/rlhf/lm"
)

// Seq is a prompt (with BOS when the model uses one) and a completion, in
// tokens.
type Seq struct {
	Prompt, Completion []int
}

func (s Seq) example(maxLen int) lm.Example {
	toks := make([]int, 0, len(s.Prompt)+len(s.Completion))
	toks = append(toks, s.Prompt...)
	toks = append(toks, s.Completion...)
	start := len(s.Prompt)
	if maxLen > 0 && len(toks) > maxLen {
		toks = toks[:maxLen]
		if start > maxLen {
			start = maxLen
		}
	}
	return lm.Example{Tokens: toks, Start: start}
}

// Unpaired is one rated completion (KTO, logistic reward loss).
type Unpaired struct {
	Seq
	Up bool
}

// Pair is a chosen and a rejected completion of one prompt.
type Pair struct {
	Prompt, Chosen, Rejected []int
}

// Optim configures the optimiser and the schedule shared by every
// algorithm.
type Optim struct {
	LR        float64 // peak learning rate
	Epochs    int     // passes over the data (KTO, DPO, reward model)
	Steps     int     // optimiser steps (RLOO); 0 = from Epochs
	BatchSize int
	// MinSteps raises the number of epochs until there are at least this
	// many optimiser steps (small data sets still get trained).
	MinSteps int
	Warmup   float64 // fraction of steps with a linear warm-up
	Seed     uint64
	// StartStep skips that many steps (resuming a checkpointed run: the
	// data order depends only on Seed, so the run continues where it was).
	StartStep int
	// OnStep is called after every step with its metrics; an error stops
	// training and is returned.
	OnStep func(step, total int, m Metrics) error
	// Resume restores trainable tensors and optimiser state saved by
	// Checkpoint and continues at its step.
	Resume *TrainState
	// Checkpoint, when set, is called every CheckpointEvery steps and when
	// the context ends training early.
	Checkpoint      func(*TrainState) error
	CheckpointEvery int
}

// TrainState is what a checkpoint holds: the step reached, the trainable
// tensors, the optimiser's moments and the metrics so far.
type TrainState struct {
	Step     int
	Tensors  map[string][]float32
	M, V     map[string][]float32
	AdamStep int
	History  []Metrics
}

func (o Optim) withDefaults() Optim {
	if o.LR == 0 {
		o.LR = 2e-3
	}
	if o.Epochs == 0 {
		o.Epochs = 3
	}
	if o.BatchSize == 0 {
		o.BatchSize = 16
	}
	return o
}

// lrScale is a linear warm-up then cosine decay to 10% of the peak.
func lrScale(step, total int, warmup float64) float64 {
	w := int(warmup * float64(total))
	if step < w {
		return float64(step+1) / float64(w+1)
	}
	if total <= w+1 {
		return 1
	}
	p := float64(step-w) / float64(total-w)
	return 0.1 + 0.9*0.5*(1+math.Cos(math.Pi*p))
}

// plan returns the index batches of every epoch for n items, shuffled by
// seed, with at least o.MinSteps batches.
func (o Optim) plan(n int) [][]int {
	epochs := o.Epochs
	if per := (n + o.BatchSize - 1) / o.BatchSize; per > 0 && o.MinSteps > epochs*per {
		epochs = (o.MinSteps + per - 1) / per
	}
	return batches(n, o.BatchSize, epochs, o.Seed)
}

// batches returns the index batches of every epoch, shuffled by seed.
func batches(n, bs, epochs int, seed uint64) [][]int {
	rng := rand.New(rand.NewPCG(seed, 0xba7c4))
	var out [][]int
	for e := 0; e < epochs; e++ {
		idx := rng.Perm(n)
		for i := 0; i < n; i += bs {
			j := min(i+bs, n)
			out = append(out, idx[i:j])
		}
	}
	return out
}

// stepper runs the optimiser for a model.
type stepper struct {
	m     *lm.Model
	g     *lm.Grads
	opt   *lm.AdamW
	total int
	o     Optim
}

func newStepper(m *lm.Model, o Optim, total int) *stepper {
	opt := lm.NewAdamW(o.LR)
	return &stepper{m: m, g: m.NewGrads(), opt: opt, total: total, o: o}
}

// restore loads a checkpoint into the model and the optimiser and
// returns the step to continue from and the metrics so far.
func (s *stepper) restore(ts *TrainState) (int, []Metrics, error) {
	if ts == nil {
		return s.o.StartStep, nil, nil
	}
	if err := s.m.SetParams(ts.Tensors); err != nil {
		return 0, nil, fmt.Errorf("resume: %w", err)
	}
	s.opt.M, s.opt.V, s.opt.Step = ts.M, ts.V, ts.AdamStep
	if s.opt.M == nil {
		s.opt.M, s.opt.V = map[string][]float32{}, map[string][]float32{}
	}
	return ts.Step, ts.History, nil
}

// checkpoint saves the state after step steps when asked to (force: the
// run is stopping early).
func (s *stepper) checkpoint(step int, hist []Metrics, force bool) error {
	if s.o.Checkpoint == nil || step == 0 {
		return nil
	}
	if !force && (s.o.CheckpointEvery <= 0 || step%s.o.CheckpointEvery != 0) {
		return nil
	}
	ts := &TrainState{Step: step, Tensors: map[string][]float32{}, M: s.opt.M, V: s.opt.V, AdamStep: s.opt.Step, History: hist}
	for k, v := range s.m.Params() {
		ts.Tensors[k] = append([]float32(nil), v...)
	}
	return s.o.Checkpoint(ts)
}

// stop is called when the context ends training: it checkpoints and
// returns the context's error.
func (s *stepper) stop(ctx context.Context, step int, hist []Metrics) error {
	if err := s.checkpoint(step, hist, true); err != nil {
		return fmt.Errorf("%w (and saving the checkpoint failed: %v)", ctx.Err(), err)
	}
	return ctx.Err()
}

// after runs the per-step hooks: progress and periodic checkpoints.
func (s *stepper) after(step, total int, m Metrics, hist []Metrics) error {
	if s.o.OnStep != nil {
		if err := s.o.OnStep(step, total, m); err != nil {
			return err
		}
	}
	return s.checkpoint(step+1, hist, false)
}

// apply takes one optimiser step with the accumulated gradient.
func (s *stepper) apply(step int, extra []lm.Tensor) float64 {
	ts := append(s.m.Trainable(s.g), extra...)
	n := s.opt.Update(ts, lrScale(step, s.total, s.o.Warmup))
	s.m.Merge()
	s.g.Zero()
	return n
}

func maxLen(m *lm.Model) int { return m.Cfg.SeqLen }

func examples(m *lm.Model, seqs []Seq) []lm.Example {
	out := make([]lm.Example, len(seqs))
	for i, s := range seqs {
		out[i] = s.example(maxLen(m))
	}
	return out
}

// TrainKTO updates policy (LoRA over ref's weights) with KTO on rated
// completions and returns the metrics of every step.
func TrainKTO(ctx context.Context, policy, ref *lm.Model, data []Unpaired, cfg KTOConfig, o Optim) ([]Metrics, error) {
	o = o.withDefaults()
	if len(data) < 2 {
		return nil, fmt.Errorf("kto: %d examples, need at least 2", len(data))
	}
	if cfg.DesirableWeight == 0 || cfg.UndesirableWeight == 0 {
		nD := 0
		for _, d := range data {
			if d.Up {
				nD++
			}
		}
		cfg.DesirableWeight, cfg.UndesirableWeight = KTOWeights(nD, len(data)-nD)
	}
	seqs := make([]Seq, len(data))
	for i, d := range data {
		seqs[i] = d.Seq
	}
	exs := examples(policy, seqs)
	refLP, err := ref.LogProbs(ctx, exs)
	if err != nil {
		return nil, fmt.Errorf("kto: reference log-probs: %w", err)
	}
	// Mismatched pairs for the reference point z0: the completion of
	// example σ(i) under the prompt of example i, σ a fixed derangement,
	// so their reference log-probabilities are computed once.
	perm := rand.New(rand.NewPCG(o.Seed, 0x2e70)).Perm(len(data))
	klEx := make([]lm.Example, len(data))
	for k, i := range perm {
		j := perm[(k+1)%len(perm)]
		klEx[i] = Seq{Prompt: data[i].Prompt, Completion: data[j].Completion}.example(maxLen(policy))
	}
	klRef, err := ref.LogProbs(ctx, klEx)
	if err != nil {
		return nil, fmt.Errorf("kto: reference log-probs: %w", err)
	}
	plan := o.plan(len(data))
	st := newStepper(policy, o, len(plan))
	first, hist, err := st.restore(o.Resume)
	if err != nil {
		return nil, err
	}
	for step, b := range plan {
		if step < first {
			continue
		}
		if ctx.Err() != nil {
			return hist, st.stop(ctx, step, hist)
		}
		be := make([]lm.Example, len(b))
		kl := make([]lm.Example, len(b))
		batch := KTOBatch{Ref: make([]float64, len(b)), Desirable: make([]bool, len(b)), KLRef: make([]float64, len(b))}
		for j, i := range b {
			be[j], kl[j] = exs[i], klEx[i]
			batch.Ref[j], batch.KLRef[j] = refLP[i], klRef[i]
			batch.Desirable[j] = data[i].Up
		}
		if batch.KLPolicy, err = policy.LogProbs(ctx, kl); err != nil {
			return hist, err
		}
		var r KTOResult
		err := policy.BackwardFunc(ctx, be, true, func(lp []float64, _ [][]float32) ([]float64, [][]float32, error) {
			batch.Policy = lp
			var err error
			r, err = KTOLoss(cfg, batch)
			return r.Grad, nil, err
		}, st.g)
		if err != nil {
			return hist, err
		}
		r.Metrics["grad_norm"] = st.apply(step, nil)
		hist = append(hist, r.Metrics)
		if err := st.after(step, len(plan), r.Metrics, hist); err != nil {
			return hist, err
		}
	}
	return hist, nil
}

// TrainDPO updates policy with DPO on preference pairs.
func TrainDPO(ctx context.Context, policy, ref *lm.Model, pairs []Pair, cfg DPOConfig, o Optim) ([]Metrics, error) {
	o = o.withDefaults()
	if len(pairs) < 1 {
		return nil, fmt.Errorf("dpo: no pairs")
	}
	ch := make([]lm.Example, len(pairs))
	rj := make([]lm.Example, len(pairs))
	for i, p := range pairs {
		ch[i] = Seq{p.Prompt, p.Chosen}.example(maxLen(policy))
		rj[i] = Seq{p.Prompt, p.Rejected}.example(maxLen(policy))
	}
	refC, err := ref.LogProbs(ctx, ch)
	if err != nil {
		return nil, fmt.Errorf("dpo: reference log-probs: %w", err)
	}
	refR, err := ref.LogProbs(ctx, rj)
	if err != nil {
		return nil, fmt.Errorf("dpo: reference log-probs: %w", err)
	}
	plan := o.plan(len(pairs))
	st := newStepper(policy, o, len(plan))
	first, hist, err := st.restore(o.Resume)
	if err != nil {
		return nil, err
	}
	for step, b := range plan {
		if step < first {
			continue
		}
		if ctx.Err() != nil {
			return hist, st.stop(ctx, step, hist)
		}
		var batch DPOBatch
		bc, br := make([]lm.Example, len(b)), make([]lm.Example, len(b))
		for j, i := range b {
			bc[j], br[j] = ch[i], rj[i]
			batch.RefChosen = append(batch.RefChosen, refC[i])
			batch.RefRejected = append(batch.RefRejected, refR[i])
		}
		var r DPOResult
		err := policy.BackwardFunc(ctx, append(bc, br...), true, func(lp []float64, _ [][]float32) ([]float64, [][]float32, error) {
			batch.PolicyChosen, batch.PolicyRejected = lp[:len(b)], lp[len(b):]
			var err error
			if r, err = DPOLoss(cfg, batch); err != nil {
				return nil, nil, err
			}
			return append(append([]float64(nil), r.GradChosen...), r.GradRejected...), nil, nil
		}, st.g)
		if err != nil {
			return hist, err
		}
		r.Metrics["grad_norm"] = st.apply(step, nil)
		hist = append(hist, r.Metrics)
		if err := st.after(step, len(plan), r.Metrics, hist); err != nil {
			return hist, err
		}
	}
	return hist, nil
}

// Sampler draws completions from a model for RLOO and the lab.
type Sampler struct {
	Temperature float64
	TopK        int
	MaxTokens   int
	Stop        []int
}

// Sample draws one completion of prompt from m.
func (s Sampler) Sample(ctx context.Context, m *lm.Model, prompt []int, rng *rand.Rand) ([]int, error) {
	return m.Generate(ctx, prompt, lm.Sampling{Temperature: s.Temperature, TopK: s.TopK, MaxTokens: s.MaxTokens, Stop: s.Stop}, rng)
}

// SampleMany draws one completion per prompt, in parallel, each with its
// own generator seeded from seed and its index (deterministic).
func (s Sampler) SampleMany(ctx context.Context, m *lm.Model, prompts [][]int, seed uint64) ([][]int, error) {
	out := make([][]int, len(prompts))
	err := parallelDo(ctx, len(prompts), func(i int) error {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		c, err := s.Sample(ctx, m, prompts[i], rng)
		out[i] = c
		return err
	})
	return out, err
}

// RLOOOptions configures an RLOO run.
type RLOOOptions struct {
	RLOOConfig
	PromptsPerStep int
	Sampler        Sampler
}

// TrainRLOO updates policy with RLOO: every step samples K completions
// for PromptsPerStep prompts from the current policy, scores them with the
// reward model and follows the leave-one-out REINFORCE gradient of
// score − β·KL.
func TrainRLOO(ctx context.Context, policy, ref *lm.Model, rm *RewardModel, prompts [][]int, ro RLOOOptions, o Optim) ([]Metrics, error) {
	o = o.withDefaults()
	if len(prompts) == 0 {
		return nil, fmt.Errorf("rloo: no prompts")
	}
	if ro.K < 2 {
		ro.K = 4
	}
	if ro.PromptsPerStep <= 0 {
		ro.PromptsPerStep = 8
	}
	steps := o.Steps
	if steps <= 0 {
		steps = 40
	}
	st := newStepper(policy, o, steps)
	first, hist, err := st.restore(o.Resume)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x5100))
	for step := 0; step < steps; step++ {
		ps := make([][]int, 0, ro.PromptsPerStep*ro.K)
		for i := 0; i < ro.PromptsPerStep; i++ {
			p := prompts[rng.IntN(len(prompts))]
			for j := 0; j < ro.K; j++ {
				ps = append(ps, p)
			}
		}
		if step < first {
			continue
		}
		if ctx.Err() != nil {
			return hist, st.stop(ctx, step, hist)
		}
		comps, err := ro.Sampler.SampleMany(ctx, policy, ps, o.Seed^uint64(step+1)*0x9e3779b97f4a7c15)
		if err != nil {
			return hist, err
		}
		seqs := make([]Seq, len(ps))
		for i := range ps {
			seqs[i] = Seq{ps[i], comps[i]}
		}
		exs := examples(policy, seqs)
		var b RLOOBatch
		if b.Ref, err = ref.LogProbs(ctx, exs); err != nil {
			return hist, err
		}
		if b.Scores, err = rm.Scores(ctx, seqs); err != nil {
			return hist, err
		}
		var r RLOOResult
		err = policy.BackwardFunc(ctx, exs, true, func(lp []float64, _ [][]float32) ([]float64, [][]float32, error) {
			b.Policy = lp
			var err error
			r, err = RLOOLoss(ro.RLOOConfig, b)
			return r.Grad, nil, err
		}, st.g)
		if err != nil {
			return hist, err
		}
		r.Metrics["grad_norm"] = st.apply(step, nil)
		hist = append(hist, r.Metrics)
		if err := st.after(step, steps, r.Metrics, hist); err != nil {
			return hist, err
		}
	}
	return hist, nil
}
