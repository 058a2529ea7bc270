package rlhf

import (
	"context"
	"fmt"
	"strings"

	"github.com/hone-ai/hone/model/train"
)

// GateConfig bounds what a candidate policy may do before promotion.
type GateConfig struct {
	// MinRewardGain: mean reward-model score of the candidate's held-out
	// replies minus the reference's must be at least this (default 0:
	// "held-out reward up" means strictly above).
	MinRewardGain float64 `json:"min_reward_gain"`
	// MaxKL: mean sequence KL to the reference on the candidate's
	// held-out replies, nats (default 5).
	MaxKL float64 `json:"max_kl"`
	// MaxLMLossIncrease: relative increase of the language-model loss on
	// held-out text (default 0.05 = 5%).
	MaxLMLossIncrease float64 `json:"max_lm_loss_increase"`
	// MinLengthRatio, MaxLengthRatio bound the candidate's mean reply
	// length relative to the reference's (defaults 0.5 and 2).
	MinLengthRatio float64 `json:"min_length_ratio"`
	MaxLengthRatio float64 `json:"max_length_ratio"`
	// Samples is the number of replies per held-out prompt (default 2).
	Samples int `json:"samples"`
}

// DefaultGates are the gates' defaults.
func DefaultGates() GateConfig {
	return GateConfig{MinRewardGain: 0, MaxKL: 5, MaxLMLossIncrease: 0.05, MinLengthRatio: 0.5, MaxLengthRatio: 2, Samples: 2}
}

// GateResult is one gate's verdict.
type GateResult struct {
	Name  string  `json:"name"`
	Pass  bool    `json:"pass"`
	Value float64 `json:"value"`
	Bound string  `json:"bound"`
}

func (g GateResult) String() string {
	v := "pass"
	if !g.Pass {
		v = "FAIL"
	}
	return fmt.Sprintf("%s %s: %.4g (bound %s)", g.Name, v, g.Value, g.Bound)
}

// GateInput is what the gates evaluate on.
type GateInput struct {
	Prompts [][]int // held-out prompts
	Text    []Seq   // held-out text for the LM loss
	RM      *RewardModel
	// Sampler draws the replies the reward and length gates read; with
	// KeepStop (as the job sets it) the reward model sees them end as the
	// ratings it learnt from did, and the length gate counts the reply's
	// own tokens.
	Sampler Sampler
	Seed    uint64
}

// Evaluation holds the measured figures behind the gates.
type Evaluation struct {
	RewardRef, RewardTuned float64
	KL                     float64
	LMLossRef, LMLossTuned float64
	LengthRef, LengthTuned float64
	Gates                  []GateResult
}

// Failed names the gates that failed.
func (e *Evaluation) Failed() []string {
	var out []string
	for _, g := range e.Gates {
		if !g.Pass {
			out = append(out, g.Name)
		}
	}
	return out
}

// Summary is one line per gate.
func (e *Evaluation) Summary() string {
	var lines []string
	for _, g := range e.Gates {
		lines = append(lines, g.String())
	}
	return strings.Join(lines, "\n")
}

// EvaluateGates samples held-out replies from the reference and the
// candidate with the same seeds and checks every gate.
func EvaluateGates(ctx context.Context, cand, ref *train.Model, in GateInput, gc GateConfig) (*Evaluation, error) {
	def := DefaultGates()
	if gc.MaxKL == 0 {
		gc.MaxKL = def.MaxKL
	}
	if gc.MaxLMLossIncrease == 0 {
		gc.MaxLMLossIncrease = def.MaxLMLossIncrease
	}
	if gc.MinLengthRatio == 0 {
		gc.MinLengthRatio = def.MinLengthRatio
	}
	if gc.MaxLengthRatio == 0 {
		gc.MaxLengthRatio = def.MaxLengthRatio
	}
	if gc.Samples <= 0 {
		gc.Samples = def.Samples
	}
	if len(in.Prompts) == 0 {
		return nil, fmt.Errorf("gates: no held-out prompts")
	}
	var ps [][]int
	for _, p := range in.Prompts {
		for k := 0; k < gc.Samples; k++ {
			ps = append(ps, p)
		}
	}
	ev := &Evaluation{}
	sample := func(m *train.Model) ([]Seq, float64, error) {
		comps, err := in.Sampler.sampleFrom(ctx, m, ps, in.Seed^0x9a7e)
		if err != nil {
			return nil, 0, err
		}
		seqs := make([]Seq, len(ps))
		n := 0
		for i := range ps {
			seqs[i] = Seq{ps[i], comps[i]}
			n += len(in.Sampler.Reply(comps[i]))
		}
		return seqs, float64(n) / float64(len(ps)), nil
	}
	refSeqs, lr, err := sample(ref)
	if err != nil {
		return nil, err
	}
	candSeqs, lc, err := sample(cand)
	if err != nil {
		return nil, err
	}
	ev.LengthRef, ev.LengthTuned = lr, lc
	if in.RM != nil {
		rs, err := in.RM.Scores(ctx, refSeqs)
		if err != nil {
			return nil, err
		}
		cs, err := in.RM.Scores(ctx, candSeqs)
		if err != nil {
			return nil, err
		}
		ev.RewardRef, ev.RewardTuned = mean(rs), mean(cs)
		gain := ev.RewardTuned - ev.RewardRef
		pass := gain > gc.MinRewardGain || (gc.MinRewardGain < 0 && gain >= gc.MinRewardGain)
		ev.Gates = append(ev.Gates, GateResult{Name: "reward", Pass: pass, Value: gain, Bound: fmt.Sprintf("> %g", gc.MinRewardGain)})
	}
	if ev.KL, err = meanSeqKL(ctx, cand, ref, candSeqs); err != nil {
		return nil, err
	}
	ev.Gates = append(ev.Gates, GateResult{Name: "kl", Pass: ev.KL <= gc.MaxKL, Value: ev.KL, Bound: fmt.Sprintf("<= %g nats", gc.MaxKL)})
	text := in.Text
	if len(text) == 0 {
		text = refSeqs
	}
	if ev.LMLossRef, err = lmLoss(ctx, ref, text); err != nil {
		return nil, err
	}
	if ev.LMLossTuned, err = lmLoss(ctx, cand, text); err != nil {
		return nil, err
	}
	rel := (ev.LMLossTuned - ev.LMLossRef) / ev.LMLossRef
	ev.Gates = append(ev.Gates, GateResult{Name: "lm_loss", Pass: rel <= gc.MaxLMLossIncrease, Value: rel, Bound: fmt.Sprintf("<= %g relative", gc.MaxLMLossIncrease)})
	ratio := 1.0 // both empty
	switch {
	case lr > 0:
		ratio = lc / lr
	case lc > 0:
		ratio = lc // from nothing to something: compared as if the reference had 1 token
	}
	ev.Gates = append(ev.Gates, GateResult{Name: "length", Pass: ratio >= gc.MinLengthRatio && ratio <= gc.MaxLengthRatio, Value: ratio,
		Bound: fmt.Sprintf("[%g, %g] × reference", gc.MinLengthRatio, gc.MaxLengthRatio)})
	return ev, nil
}

func mean(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}
