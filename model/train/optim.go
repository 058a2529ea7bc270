package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// ParamSet is what an optimiser updates: parameters, their gradients (same
// length) and the segments saying where weight decay applies.
type ParamSet struct {
	Params, Grads []float32
	Segs          []Segment
}

// Trainable returns the parameters Backward computes gradients for: the
// adapter when a LoRA is attached and enabled, else the base (empty when
// the base is frozen and there is no adapter).
func (m *Model) Trainable() ParamSet {
	if m.loraActive() {
		return ParamSet{Params: m.lora.data, Grads: m.lora.grad, Segs: m.lora.segs}
	}
	if !m.trainBase {
		return ParamSet{}
	}
	return ParamSet{Params: m.data, Grads: m.grad, Segs: m.segs}
}

// AdamW is Adam with decoupled weight decay (Loshchilov & Hutter): each
// step p −= lr·(m̂/(√v̂+ε) + λ·p), λ applied only to segments with Decay
// (matrices, not norms or the embedding).
type AdamW struct {
	Beta1, Beta2, Eps, WeightDecay float32
	M, V                           []float32 // moments, allocated on first Step
	T                              int       // steps taken
}

// NewAdamW returns AdamW with the usual defaults (β 0.9/0.999, ε 1e-8)
// and the given weight decay.
func NewAdamW(weightDecay float32) *AdamW {
	return &AdamW{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: weightDecay}
}

// Step applies one update with learning rate lr.
func (o *AdamW) Step(ps ParamSet, lr float32) error {
	if len(ps.Params) != len(ps.Grads) {
		return fmt.Errorf("train: adamw: %d parameters, %d gradients", len(ps.Params), len(ps.Grads))
	}
	if o.M == nil {
		o.M, o.V = make([]float32, len(ps.Params)), make([]float32, len(ps.Params))
	}
	if len(o.M) != len(ps.Params) {
		return fmt.Errorf("train: adamw: state for %d parameters, got %d", len(o.M), len(ps.Params))
	}
	o.T++
	b1, b2 := o.Beta1, o.Beta2
	c1 := 1 - float32(math.Pow(float64(b1), float64(o.T)))
	c2 := 1 - float32(math.Pow(float64(b2), float64(o.T)))
	segs := ps.Segs
	if len(segs) == 0 {
		segs = []Segment{{Off: 0, Len: len(ps.Params), Decay: true}}
	}
	for _, s := range segs {
		wd := float32(0)
		if s.Decay {
			wd = o.WeightDecay
		}
		p, g := ps.Params[s.Off:s.Off+s.Len], ps.Grads[s.Off:s.Off+s.Len]
		mm, vv := o.M[s.Off:s.Off+s.Len], o.V[s.Off:s.Off+s.Len]
		// m̂/(√v̂+ε) = (m/c1)/(√v/√c2 + ε) = k·m/(√v + ε√c2), k = √c2/c1.
		sc2 := float32(math.Sqrt(float64(c2)))
		k, eps, decay := lr*sc2/c1, o.Eps*sc2, 1-lr*wd
		parallelFor(len(p), 16384, func(lo, hi int) {
			p, g, mm, vv := p[lo:hi], g[lo:hi], mm[lo:hi], vv[lo:hi]
			for i := range p {
				gi := g[i]
				mi := b1*mm[i] + (1-b1)*gi
				vi := b2*vv[i] + (1-b2)*gi*gi
				mm[i], vv[i] = mi, vi
				p[i] = p[i]*decay - k*mi/(float32(math.Sqrt(float64(vi)))+eps)
			}
		})
	}
	return nil
}

// GradNorm returns the L2 norm of g.
func GradNorm(g []float32) float32 {
	var s float64
	for _, v := range g {
		s += float64(v) * float64(v)
	}
	return float32(math.Sqrt(s))
}

// ClipGradNorm scales g so its global L2 norm is at most maxNorm (no-op
// when maxNorm ≤ 0) and returns the norm before clipping.
func ClipGradNorm(g []float32, maxNorm float32) float32 {
	n := GradNorm(g)
	if maxNorm > 0 && n > maxNorm {
		s := maxNorm / (n + 1e-6)
		for i := range g {
			g[i] *= s
		}
	}
	return n
}

// Schedule is linear warm-up to the base rate then cosine decay to
// MinFrac·base at step Total (and flat after).
type Schedule struct {
	Warmup, Total int
	MinFrac       float32
}

// LR returns the learning rate at step (0-based) for base rate base.
func (s Schedule) LR(step int, base float32) float32 {
	if s.Warmup > 0 && step < s.Warmup {
		return base * float32(step+1) / float32(s.Warmup)
	}
	if s.Total <= s.Warmup {
		return base
	}
	p := float64(step-s.Warmup) / float64(s.Total-s.Warmup)
	if p > 1 {
		p = 1
	}
	min := float64(s.MinFrac) * float64(base)
	return float32(min + 0.5*(float64(base)-min)*(1+math.Cos(math.Pi*p)))
}

type randPCG = rand.PCG

// TrainerConfig holds the hyper-parameters of a training run.
type TrainerConfig struct {
	LR          float32 // peak learning rate
	MinLRFrac   float32 // cosine floor as a fraction of LR
	Warmup      int     // warm-up steps
	Steps       int     // total steps (for the schedule)
	WeightDecay float32
	ClipNorm    float32 // global gradient-norm clip; 0 = none
	Accum       int     // micro-batches per step (gradient accumulation); 0 = 1
	Seed        uint64  // data sampling and dropout
}

// StepStats describes one optimiser step.
type StepStats struct {
	Step     int     // steps done after this one
	Loss     float32 // mean of the micro-batch losses
	GradNorm float32 // before clipping
	LR       float32
}

// Trainer runs optimisation steps on a model's trainable parameters with
// gradient accumulation, clipping, a warm-up + cosine schedule and a
// seeded random source for data sampling; its whole state checkpoints.
type Trainer struct {
	Model *Model
	Cfg   TrainerConfig
	Opt   *AdamW
	Step  int
	src   *rand.PCG
	rng   *rand.Rand
}

// NewTrainer prepares a run; the model switches to training mode (LoRA
// dropout on).
func NewTrainer(m *Model, cfg TrainerConfig) *Trainer {
	if cfg.Accum <= 0 {
		cfg.Accum = 1
	}
	src := rand.NewPCG(cfg.Seed, cfg.Seed^0xda942042e4dd58b5)
	m.SetTraining(true)
	return &Trainer{Model: m, Cfg: cfg, Opt: NewAdamW(cfg.WeightDecay), src: src, rng: rand.New(src)}
}

// Rand is the trainer's seeded random source; sample batches from it so a
// resumed run draws the same data.
func (t *Trainer) Rand() *rand.Rand { return t.rng }

// BatchFunc returns the next micro-batch, drawing randomness from r.
type BatchFunc func(r *rand.Rand) (*Batch, error)

// TrainStep runs Accum forward/backward passes on batches from next, clips
// the gradient, and takes one AdamW step at the scheduled rate. A step
// that fails (cancelled, bad batch) changes nothing: parameters, optimiser
// and random state stay as they were, so a checkpoint saved then resumes
// exactly.
func (t *Trainer) TrainStep(ctx context.Context, next BatchFunc) (st StepStats, err error) {
	m := t.Model
	ps := m.Trainable()
	if len(ps.Params) == 0 {
		return StepStats{}, errors.New("train: nothing to train (frozen base and no adapter)")
	}
	snap, err := t.src.MarshalBinary()
	if err != nil {
		return StepStats{}, fmt.Errorf("train: step %d: %w", t.Step, err)
	}
	defer func() {
		if err != nil {
			if e := t.src.UnmarshalBinary(snap); e != nil {
				err = errors.Join(err, e)
			}
		}
	}()
	m.ZeroGrad()
	var loss float64
	for k := 0; k < t.Cfg.Accum; k++ {
		b, err := next(t.rng)
		if err != nil {
			return StepStats{}, err
		}
		m.SetDropoutSeed(t.Cfg.Seed*0x9e3779b97f4a7c15 ^ uint64(t.Step)<<20 ^ uint64(k))
		l, err := m.Forward(ctx, b)
		if err != nil {
			return StepStats{}, err
		}
		if err := m.Backward(ctx, Cotangent{Loss: 1 / float32(t.Cfg.Accum)}); err != nil {
			return StepStats{}, err
		}
		loss += float64(l)
	}
	norm := ClipGradNorm(ps.Grads, t.Cfg.ClipNorm)
	if math.IsNaN(float64(norm)) || math.IsInf(float64(norm), 0) {
		return StepStats{}, fmt.Errorf("train: step %d: gradient norm is %v", t.Step, norm)
	}
	lr := Schedule{Warmup: t.Cfg.Warmup, Total: t.Cfg.Steps, MinFrac: t.Cfg.MinLRFrac}.LR(t.Step, t.Cfg.LR)
	if err := t.Opt.Step(ps, lr); err != nil {
		return StepStats{}, err
	}
	t.Step++
	return StepStats{Step: t.Step, Loss: float32(loss / float64(t.Cfg.Accum)), GradNorm: norm, LR: lr}, nil
}
