package rlhf

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/hone-ai/hone/model/train"
	"gonum.org/v1/gonum/stat"
)

// Seq is a prompt (with BOS when the model uses one) and a completion, in
// tokens.
type Seq struct {
	Prompt, Completion []int
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
	// Guard, when set, is asked every GuardEvery steps (default: a
	// twentieth of the run) and after the last whether the policy is still
	// within its budget — e.g. its language-model loss on a validation
	// text up at most so much (the lab's Budget). At a check that fails,
	// the trainable parameters go back to where the last passing check
	// (or the start) left them. Then, for the first GuardRetries failures,
	// training goes on from there at half the learning rate it had (a
	// backtracking line search: smaller steps get closer to the budget
	// without crossing it); after those it stops: the run moves the
	// policy as far as the data asks but no further than the budget, like
	// a PPO target_kl early stop.
	Guard        func(ctx context.Context, step int) (ok bool, err error)
	GuardEvery   int
	GuardRetries int
	// Anchor, with AnchorCoef > 0, adds AnchorCoef × the mean over the
	// completion positions of a batch of these sequences of the exact
	// KL(policy ‖ reference) of the next-token distributions to every
	// step. Given completions sampled from the reference, it holds the
	// policy to the reference along the reference's own replies: its
	// gradient is zero at the reference and pulls back as the policy
	// drifts there, which keeps an update on the decisions the ratings
	// are about rather than on the rest of the reply. (It plays the part
	// of InstructGPT's PPO-ptx pretraining mix, on the reference's own
	// text.)
	Anchor     []Seq
	AnchorCoef float64
	// AnchorMinProb, when positive, anchors only the positions where the
	// reference gave the sampled token at least this probability — where
	// it was sure (the digits of a worked sum, the rest of a word) —
	// and leaves the choices it was unsure of free to follow the ratings.
	// The anchor there is the whole next-token distribution's KL, so it
	// holds those positions without sharpening them.
	AnchorMinProb float64
	// AnchorAt, when set, has one entry per token of each Anchor
	// sequence's completion and overrides AnchorMinProb at the position
	// that predicts it: +1 anchors it whatever the reference's
	// probability, −1 leaves it free, 0 follows AnchorMinProb
	// (cutAnchors: the decisions to stop or go on that the ratings are
	// about go free, the others are held).
	AnchorAt [][]int8
}

// errOverBudget stops a training loop at a failed Guard check; the loop
// returns normally with the parameters rolled back.
var errOverBudget = errors.New("rlhf: over budget")

// TrainState is what a checkpoint holds: the step reached, the trainable
// tensors, the optimiser's moments and the metrics so far.
type TrainState struct {
	Step     int
	Tensors  map[string][]float32
	M, V     map[string][]float32
	AdamStep int
	History  []Metrics
	// Retries is the budget checks failed so far (Optim.GuardRetries); the
	// learning rate is halved for each.
	Retries int
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

// stepper runs the optimiser for a model's trainable parameters (its
// adapter, or every weight when it trains its base) and, for the reward
// model, a head beside them: one AdamW over both, with one global gradient
// norm clipped to 1.
type stepper struct {
	m     *train.Model
	ps    train.ParamSet
	opt   *train.AdamW
	head  *head // nil: none
	total int
	o     Optim
	// safe holds the trainable parameters at the last passing Guard check.
	safe []float32
	// anchorPlan is the order o.Anchor is drawn in (nil: no anchor).
	anchorPlan [][]int
	// retries is the budget checks failed so far; each halves the
	// learning rate.
	retries int
}

// head is a reward model's scalar head: W (Dim) and B (1) as views of one
// buffer, with its gradient and optimiser.
type head struct {
	data, grad []float32
	W, B       []float32
	opt        *train.AdamW
}

func newHead(dim int) *head {
	h := &head{data: make([]float32, dim+1), grad: make([]float32, dim+1), opt: train.NewAdamW(0)}
	h.W, h.B = h.data[:dim:dim], h.data[dim:]
	return h
}

func (h *head) params() train.ParamSet {
	return train.ParamSet{Params: h.data, Grads: h.grad, Segs: []train.Segment{{Name: "rm.head", Len: len(h.data)}}}
}

// clipNorm is the global gradient norm every step is clipped to.
const clipNorm = 1

func newStepper(m *train.Model, o Optim, total int) *stepper {
	s := &stepper{m: m, ps: m.Trainable(), opt: train.NewAdamW(0), total: total, o: o}
	if n := len(o.Anchor); o.AnchorCoef > 0 && n > 0 {
		per := (n + o.BatchSize - 1) / o.BatchSize
		s.anchorPlan = batches(n, o.BatchSize, (total+per-1)/per, o.Seed^0xa4c0)
	}
	return s
}

// anchorStep adds the gradient of AnchorCoef × this step's anchor batch's
// mean per-position KL(policy ‖ ref) and records it in m (nothing without
// an anchor).
func (s *stepper) anchorStep(ctx context.Context, ref *train.Model, step int, m Metrics) error {
	if len(s.anchorPlan) == 0 {
		return nil
	}
	if s.o.AnchorAt != nil && len(s.o.AnchorAt) != len(s.o.Anchor) {
		return fmt.Errorf("anchor: %d position overrides (AnchorAt) for %d sequences", len(s.o.AnchorAt), len(s.o.Anchor))
	}
	b := s.anchorPlan[step%len(s.anchorPlan)]
	seqs := make([]Seq, len(b))
	n := 0
	for j, i := range b {
		seqs[j] = s.o.Anchor[i]
		n += len(seqs[j].Completion)
	}
	if n == 0 {
		return nil // replies without a token: nothing to hold
	}
	minLogp := float32(math.Inf(-1))
	if s.o.AnchorMinProb > 0 {
		minLogp = float32(math.Log(s.o.AnchorMinProb))
	}
	coef := float32(s.o.AnchorCoef / float64(n))
	s.m.SetTraining(true)
	defer s.m.SetTraining(false)
	s.m.SetDropoutSeed(s.dropoutSeed(step) ^ 0xa4c0)
	var kl float64
	for _, idx := range chunks(s.m, seqs, activationBudget) {
		bt, err := batchOf(s.m, seqs, idx, true)
		if err != nil {
			return fmt.Errorf("anchor: %w", err)
		}
		if _, err := ref.Forward(ctx, bt); err != nil {
			return fmt.Errorf("anchor: %w", err)
		}
		refLP := ref.TokenLogProbs()
		if _, err := s.m.Forward(ctx, bt); err != nil {
			return fmt.Errorf("anchor: %w", err)
		}
		tk, err := s.m.TokenKL(ref)
		if err != nil {
			return fmt.Errorf("anchor: %w", err)
		}
		cot := train.Cotangent{TokenKL: make([]float32, len(bt.Targets)), Ref: ref}
		for i, t := range bt.Targets {
			if t < 0 {
				continue
			}
			hold := refLP[i] >= minLogp
			if s.o.AnchorAt != nil {
				// Row r's completion starts at Lens[r] − its length.
				r := i / bt.T
				j := b[idx[r]]
				at := s.o.AnchorAt[j]
				if c := i%bt.T + 1 - (bt.Lens[r] - len(s.o.Anchor[j].Completion)); c >= 0 && c < len(at) && at[c] != 0 {
					hold = at[c] > 0
				}
			}
			if !hold {
				continue
			}
			kl += float64(tk[i])
			cot.TokenKL[i] = coef
		}
		if err := s.m.Backward(ctx, cot); err != nil {
			return fmt.Errorf("anchor: %w", err)
		}
	}
	m["anchor/kl"] = kl / float64(n)
	return nil
}

// restore loads a checkpoint into the model and the optimiser and
// returns the step to continue from and the metrics so far.
func (s *stepper) restore(ts *TrainState) (int, []Metrics, error) {
	if s.o.Guard != nil {
		defer func() { s.safe = append(s.safe[:0], s.ps.Params...) }()
	}
	if ts == nil {
		return s.o.StartStep, nil, nil
	}
	if len(ts.Tensors) != len(s.ps.Segs) {
		return 0, nil, fmt.Errorf("resume: %d saved tensors, the model trains %d", len(ts.Tensors), len(s.ps.Segs))
	}
	for _, sg := range s.ps.Segs {
		if w, ok := ts.Tensors[sg.Name]; !ok || len(w) != sg.Len {
			return 0, nil, fmt.Errorf("resume: saved tensor %s missing or of another size", sg.Name)
		}
	}
	if ts.AdamStep > 0 {
		s.opt.M, s.opt.V = make([]float32, len(s.ps.Params)), make([]float32, len(s.ps.Params))
	}
	for _, sg := range s.ps.Segs {
		copy(s.ps.Params[sg.Off:sg.Off+sg.Len], ts.Tensors[sg.Name])
		if ts.AdamStep > 0 {
			m, v := ts.M[sg.Name], ts.V[sg.Name]
			if len(m) != sg.Len || len(v) != sg.Len {
				return 0, nil, fmt.Errorf("resume: optimiser state of %s missing or of another size", sg.Name)
			}
			copy(s.opt.M[sg.Off:], m)
			copy(s.opt.V[sg.Off:], v)
		}
	}
	s.opt.T = ts.AdamStep
	s.retries = ts.Retries
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
	ts := &TrainState{Step: step, Tensors: map[string][]float32{}, AdamStep: s.opt.T, History: hist, Retries: s.retries}
	if s.opt.M != nil {
		ts.M, ts.V = map[string][]float32{}, map[string][]float32{}
	}
	for _, sg := range s.ps.Segs {
		ts.Tensors[sg.Name] = slices.Clone(s.ps.Params[sg.Off : sg.Off+sg.Len])
		if s.opt.M != nil {
			ts.M[sg.Name] = slices.Clone(s.opt.M[sg.Off : sg.Off+sg.Len])
			ts.V[sg.Name] = slices.Clone(s.opt.V[sg.Off : sg.Off+sg.Len])
		}
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

// after runs the per-step hooks: progress, periodic checkpoints and the
// budget guard (errOverBudget: stop, parameters rolled back).
func (s *stepper) after(ctx context.Context, step, total int, m Metrics, hist []Metrics) error {
	if s.o.OnStep != nil {
		if err := s.o.OnStep(step, total, m); err != nil {
			return err
		}
	}
	// The guard first: a checkpoint then holds what a retry rolled back to
	// and the halved step.
	if err := s.guard(ctx, step+1, total, m); err != nil {
		return err
	}
	return s.checkpoint(step+1, hist, false)
}

// guard runs the budget check after done steps when one is due: a
// failed check rolls the parameters back and, while retries are left and
// steps remain, halves the learning rate; otherwise it stops the run.
func (s *stepper) guard(ctx context.Context, done, total int, m Metrics) error {
	if s.o.Guard == nil {
		return nil
	}
	every := s.o.GuardEvery
	if every <= 0 {
		every = max(1, total/20)
	}
	if done%every != 0 && done != total {
		return nil
	}
	ok, err := s.o.Guard(ctx, done)
	if err != nil {
		return fmt.Errorf("budget check after step %d: %w", done, err)
	}
	if ok {
		s.safe = append(s.safe[:0], s.ps.Params...)
		return nil
	}
	copy(s.ps.Params, s.safe)
	if s.retries < s.o.GuardRetries && done < total {
		s.retries++
		if m != nil {
			m["budget/retry_at"] = float64(done)
		}
		return nil
	}
	if m != nil {
		m["budget/stopped_at"] = float64(done)
	}
	return errOverBudget
}

// countRetries counts the failed budget checks a run went back from and on
// at half the step (budget/retry_at in its metrics).
func countRetries(hist []Metrics) int {
	n := 0
	for _, m := range hist {
		if m["budget/retry_at"] > 0 {
			n++
		}
	}
	return n
}

// over reports whether a training loop ended at a failed budget check
// (and returns the error to pass on otherwise).
func over(err error) error {
	if errors.Is(err, errOverBudget) {
		return nil
	}
	return err
}

// dropoutSeed is the LoRA dropout seed of a step.
func (s *stepper) dropoutSeed(step int) uint64 { return mix64(s.o.Seed^0xd20b, uint64(step)) }

// apply takes one optimiser step with the accumulated gradients (clipped
// to a global norm of 1), zeroes them, and records in m the norm before
// clipping (grad_norm) and the learning rate it stepped with.
func (s *stepper) apply(step int, m Metrics) error {
	var ss float64
	if len(s.ps.Grads) > 0 {
		n := float64(train.GradNorm(s.ps.Grads))
		ss += n * n
	}
	if s.head != nil {
		n := float64(train.GradNorm(s.head.grad))
		ss += n * n
	}
	norm := math.Sqrt(ss)
	if norm > clipNorm {
		c := float32(clipNorm / norm)
		for i := range s.ps.Grads {
			s.ps.Grads[i] *= c
		}
		if s.head != nil {
			for i := range s.head.grad {
				s.head.grad[i] *= c
			}
		}
	}
	lr := float32(math.Ldexp(s.o.LR*lrScale(step, s.total, s.o.Warmup), -s.retries))
	if len(s.ps.Params) > 0 {
		if err := s.opt.Step(s.ps, lr); err != nil {
			return err
		}
		s.m.ZeroGrad()
	}
	if s.head != nil {
		if err := s.head.opt.Step(s.head.params(), lr); err != nil {
			return err
		}
		clear(s.head.grad)
	}
	m["grad_norm"], m["learning_rate"] = norm, float64(lr)
	return nil
}

// TrainKTO updates policy (an adapter over ref's weights, or a full copy)
// with KTO on rated completions and returns the metrics of every step.
func TrainKTO(ctx context.Context, policy, ref *train.Model, data []Unpaired, cfg KTOConfig, o Optim) ([]Metrics, error) {
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
	if cfg.WeightedEpochs {
		o.Epochs = KTOEpochs(o.Epochs, cfg.DesirableWeight, cfg.UndesirableWeight)
	}
	seqs := unpairedSeqs(data)
	refLP, err := seqLogProbs(ctx, ref, seqs)
	if err != nil {
		return nil, fmt.Errorf("kto: reference log-probs: %w", err)
	}
	// Mismatched pairs for the reference point z0: the completion of
	// example σ(i) under the prompt of example i, σ a fixed derangement,
	// so their reference log-probabilities are computed once.
	perm := rand.New(rand.NewPCG(o.Seed, 0x2e70)).Perm(len(data))
	klSeqs := make([]Seq, len(data))
	for k, i := range perm {
		j := perm[(k+1)%len(perm)]
		klSeqs[i] = Seq{Prompt: data[i].Prompt, Completion: data[j].Completion}
	}
	klRef, err := seqLogProbs(ctx, ref, klSeqs)
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
		be := make([]Seq, len(b))
		kl := make([]Seq, len(b))
		batch := KTOBatch{Ref: make([]float64, len(b)), Desirable: make([]bool, len(b)), KLRef: make([]float64, len(b))}
		for j, i := range b {
			be[j], kl[j] = seqs[i], klSeqs[i]
			batch.Ref[j], batch.KLRef[j] = refLP[i], klRef[i]
			batch.Desirable[j] = data[i].Up
		}
		if batch.KLPolicy, err = seqLogProbs(ctx, policy, kl); err != nil {
			return hist, fmt.Errorf("kto: step %d: %w", step, err)
		}
		var r KTOResult
		err := backprop(ctx, policy, be, true, st.dropoutSeed(step), func(lp []float64, _ [][]float32) ([]float64, [][]float32, error) {
			batch.Policy = lp
			var err error
			r, err = KTOLoss(cfg, batch)
			return r.Grad, nil, err
		})
		if err != nil {
			return hist, fmt.Errorf("kto: step %d: %w", step, err)
		}
		if err := st.anchorStep(ctx, ref, step, r.Metrics); err != nil {
			return hist, fmt.Errorf("kto: step %d: %w", step, err)
		}
		if err := st.apply(step, r.Metrics); err != nil {
			return hist, fmt.Errorf("kto: step %d: %w", step, err)
		}
		hist = append(hist, r.Metrics)
		if err := st.after(ctx, step, len(plan), r.Metrics, hist); err != nil {
			return hist, over(err)
		}
	}
	return hist, nil
}

// TrainDPO updates policy with DPO on preference pairs. A step's pairs
// run as one batch: its chosen completions, then its rejected ones.
func TrainDPO(ctx context.Context, policy, ref *train.Model, pairs []Pair, cfg DPOConfig, o Optim) ([]Metrics, error) {
	o = o.withDefaults()
	if len(pairs) < 1 {
		return nil, fmt.Errorf("dpo: no pairs")
	}
	all := make([]Seq, 0, 2*len(pairs)) // chosen i at 2i, rejected at 2i+1
	for _, p := range pairs {
		all = append(all, Seq{p.Prompt, p.Chosen}, Seq{p.Prompt, p.Rejected})
	}
	refLP, err := seqLogProbs(ctx, ref, all)
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
		seqs := make([]Seq, 2*len(b))
		for j, i := range b {
			seqs[j], seqs[len(b)+j] = all[2*i], all[2*i+1]
			batch.RefChosen = append(batch.RefChosen, refLP[2*i])
			batch.RefRejected = append(batch.RefRejected, refLP[2*i+1])
			batch.ChosenTokens = append(batch.ChosenTokens, len(all[2*i].Completion))
		}
		var r DPOResult
		err := backprop(ctx, policy, seqs, true, st.dropoutSeed(step), func(lp []float64, _ [][]float32) ([]float64, [][]float32, error) {
			batch.PolicyChosen, batch.PolicyRejected = lp[:len(b)], lp[len(b):]
			var err error
			if r, err = DPOLoss(cfg, batch); err != nil {
				return nil, nil, err
			}
			return append(append([]float64(nil), r.GradChosen...), r.GradRejected...), nil, nil
		})
		if err != nil {
			return hist, fmt.Errorf("dpo: step %d: %w", step, err)
		}
		if err := st.anchorStep(ctx, ref, step, r.Metrics); err != nil {
			return hist, fmt.Errorf("dpo: step %d: %w", step, err)
		}
		if err := st.apply(step, r.Metrics); err != nil {
			return hist, fmt.Errorf("dpo: step %d: %w", step, err)
		}
		hist = append(hist, r.Metrics)
		if err := st.after(ctx, step, len(plan), r.Metrics, hist); err != nil {
			return hist, over(err)
		}
	}
	return hist, nil
}

// RLOOOptions configures an RLOO run.
type RLOOOptions struct {
	RLOOConfig
	PromptsPerStep int
	Sampler        Sampler
	// Sentences, when set, finds the ends of the samples' sentences, and
	// each step also follows the reward model's advantage of stopping
	// after each sentence of a sampled reply but its last over going on
	// as the reply did (stopBranches), on the stop token there and
	// against it on the rest of the reply: a step-level gradient beside
	// RLOO's whole-reply one, which tells a policy where to end a reply
	// from the samples that went on past it.
	Sentences decoder
	// CutOff has Sentences' branches come from the samples cut off at
	// the length limit too (judgeCuts).
	CutOff bool
}

// TrainRLOO updates policy with RLOO: every step samples K completions
// for PromptsPerStep prompts from the current policy (through the
// engine), scores them with the reward model and follows the
// leave-one-out REINFORCE gradient of score − β·KL.
func TrainRLOO(ctx context.Context, policy, ref *train.Model, rm *RewardModel, prompts [][]int, ro RLOOOptions, o Optim) ([]Metrics, error) {
	o = o.withDefaults()
	if len(prompts) == 0 {
		return nil, fmt.Errorf("rloo: no prompts")
	}
	if rm == nil {
		return nil, fmt.Errorf("rloo: no reward model")
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
		comps, err := ro.Sampler.sampleFrom(ctx, policy, ps, o.Seed^uint64(step+1)*0x9e3779b97f4a7c15)
		if err != nil {
			return hist, fmt.Errorf("rloo: step %d: %w", step, err)
		}
		seqs := make([]Seq, len(ps))
		for i := range ps {
			seqs[i] = Seq{ps[i], comps[i]}
		}
		var b RLOOBatch
		if b.Ref, err = seqLogProbs(ctx, ref, seqs); err != nil {
			return hist, fmt.Errorf("rloo: step %d: reference log-probs: %w", step, err)
		}
		if b.Scores, err = rm.Scores(ctx, seqs); err != nil {
			return hist, fmt.Errorf("rloo: step %d: reward: %w", step, err)
		}
		var r RLOOResult
		all, n := seqs, len(seqs)
		var badv []float64
		if ro.Sentences != nil {
			var stops, tails []Seq
			if stops, tails, badv, err = stopBranches(ctx, rm, ro.Sentences, seqs, ro.Sampler.Stop, ro.CutOff); err != nil {
				return hist, fmt.Errorf("rloo: step %d: stop branches: %w", step, err)
			}
			all = withBranches(seqs, stops, tails)
		}
		err = backprop(ctx, policy, all, true, st.dropoutSeed(step), func(lp []float64, _ [][]float32) ([]float64, [][]float32, error) {
			b.Policy = lp[:n]
			var err error
			r, err = RLOOLoss(ro.RLOOConfig, b)
			if err != nil || len(badv) == 0 {
				return r.Grad, nil, err
			}
			g := branchGrads(r.Grad, badv)
			r.Metrics["objective/stop_branches"] = float64(len(badv))
			r.Metrics["objective/stop_advantage"] = stat.Mean(badv, nil)
			return g, nil, nil
		})
		if err != nil {
			return hist, fmt.Errorf("rloo: step %d: %w", step, err)
		}
		if err := st.anchorStep(ctx, ref, step, r.Metrics); err != nil {
			return hist, fmt.Errorf("rloo: step %d: %w", step, err)
		}
		if err := st.apply(step, r.Metrics); err != nil {
			return hist, fmt.Errorf("rloo: step %d: %w", step, err)
		}
		hist = append(hist, r.Metrics)
		if err := st.after(ctx, step, steps, r.Metrics, hist); err != nil {
			return hist, over(err)
		}
	}
	return hist, nil
}

// withBranches lays out one backward pass over the samples and their
// stop branches: the samples, then the stops, then the tails, as
// branchGrads reads them.
func withBranches(seqs, stops, tails []Seq) []Seq {
	return append(append(slices.Clip(seqs), stops...), tails...)
}

// branchGrads appends to grad, the loss's gradient with respect to the
// log-probabilities of n samples, that of the stop branches: for branch
// i with advantage adv[i], the stop token (after the samples) and the
// tail the reply went on with (after the stops). Each pair weighs as a
// sample, over the samples' count: −adv[i]/n on the stop token and
// +adv[i]/n on the tail, so a descent step raises the stop where stopping
// is approved over going on (and lowers the tail), and the other way
// round where going on is approved.
func branchGrads(grad, adv []float64) []float64 {
	n, nb := len(grad), len(adv)
	g := append(slices.Clip(grad), make([]float64, 2*nb)...)
	for i, a := range adv {
		g[n+i] = -a / float64(n)
		g[n+nb+i] = a / float64(n)
	}
	return g
}

// NewPolicy returns a trainable policy over base: a share of base's
// weights with a fresh LoRA adapter (lc, A drawn from seed; B zero, so
// it starts equal to base), or with lc.Rank 0 a full copy of base that
// trains every weight. base itself stays the frozen reference.
func NewPolicy(base *train.Model, lc train.LoRAConfig, seed uint64) (*train.Model, error) {
	if lc.Rank <= 0 {
		p := base.Clone()
		p.SetTrainBase(true)
		return p, nil
	}
	p := base.Share()
	lc.Seed = seed
	if _, err := p.AttachLoRA(lc); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return p, nil
}
