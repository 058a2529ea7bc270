package rlhf

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/hone-ai/hone/model/train"
)

// updateLine is the straight line in weight space from a policy before
// an update to the policy after it: at α the policy computes W₀ + α·ΔW,
// where ΔW is what the update changed (WARP's interpolation towards the
// initialisation, Ramé et al. 2024). For a LoRA adapter the line runs
// along its B matrices, so that from a fresh adapter (B = 0) it scales
// ΔW = B·A exactly; for full fine-tuning, along every parameter.
type updateLine struct {
	params        []float32 // the trainable parameters, changed in place
	before, after []float32
	along         []bool // per parameter: on the line (else left at after)
}

// startUpdate records the policy's trainable parameters before an update.
func startUpdate(m *train.Model) *updateLine {
	ps := m.Trainable()
	u := &updateLine{params: ps.Params, before: append([]float32(nil), ps.Params...)}
	u.along = make([]bool, len(ps.Params))
	lora := m.LoRA() != nil && len(ps.Params) == len(m.LoRA().Data())
	for _, s := range ps.Segs {
		on := !lora || strings.HasSuffix(s.Name, ".lora_b")
		for i := s.Off; i < s.Off+s.Len; i++ {
			u.along[i] = on
		}
	}
	return u
}

// finish records the parameters after the update.
func (u *updateLine) finish() { u.after = append([]float32(nil), u.params...) }

// set moves the policy to α on the line (1: the update as trained).
func (u *updateLine) set(alpha float64) {
	a := float32(alpha)
	for i, on := range u.along {
		if on && alpha != 1 {
			u.params[i] = u.before[i] + a*(u.after[i]-u.before[i])
		} else {
			u.params[i] = u.after[i]
		}
	}
}

// shrinkSteps is how many halvings shrink's search takes (α to 1/256).
// An update that ran to its end unchecked may come back to α 0.1 (KTO on
// replies under 15 words, default model), where 1/64 is a sixth of α and
// left the drift up to a tenth short of the target.
const shrinkSteps = 8

// stretchStep is how far out along its line shrink carries an update
// that ended within its target before it checks the drift again.
const stretchStep = 0.25

// shrink moves policy back along its update (u) to the largest α in
// (0, 1] at which its language-model loss on text is up at most target
// (relative) over ref, the reference's loss on text, searching by
// bisection, and returns α and the drift there.
// Along the line the drift grows about as α² while what the update
// learnt grows about as α, so the policy gives up less of what it
// learnt than it gives back of the drift (on the default model, KTO on
// the period rater: α 0.8 kept 86% approval and took the held-out drift
// from +4.8% to +3.7%).
//
// An update that ended within target stays where it is when maxAlpha ≤
// 1; with maxAlpha > 1 it is carried on along its line, up to maxAlpha,
// to the first α where the drift reaches target — extrapolation from the policy
// before the update through the one after it (ExPO, Zheng et al. 2024):
// an update that a guard stopped early, or that ran out of steps, spends
// the budget it left.
//
// over, when not nil, is a second bound checked at each α whose drift
// is within target (the lab's KL to the base: LabConfig.KLTo), with the
// policy set at that α: an α it reports over counts as over target.
func shrink(ctx context.Context, u *updateLine, policy *train.Model, text lmText, ref, target, maxAlpha float64, over func(ctx context.Context, alpha float64) (bool, error)) (alpha, drift float64, err error) {
	at := func(a float64) (float64, bool, error) {
		u.set(a)
		d, err := lmDrift(ctx, policy, text, ref)
		if err != nil {
			return 0, false, fmt.Errorf("shrink: %w", err)
		}
		if d > target {
			return d, false, nil
		}
		if over != nil {
			o, err := over(ctx, a)
			if err != nil {
				return 0, false, fmt.Errorf("shrink: at α %.3g: %w", a, err)
			}
			return d, !o, nil
		}
		return d, true, nil
	}
	d, ok, err := at(1)
	if err != nil {
		return 0, 0, err
	}
	if ok {
		if maxAlpha <= 1 {
			return 1, d, nil
		}
		// Out in quarter steps to the first α over target (the drift
		// need not grow monotonically this far along: the nearest
		// crossing is the one to stop at), then bisect that step.
		lo, dlo := 1.0, d
		for lo < maxAlpha {
			hi := math.Min(lo+stretchStep, maxAlpha)
			dh, ok, err := at(hi)
			if err != nil {
				return 0, 0, err
			}
			if !ok {
				if lo, dlo, err = bisect(at, lo, hi, dlo); err != nil {
					return 0, 0, err
				}
				break
			}
			lo, dlo = hi, dh
		}
		u.set(lo)
		return lo, dlo, nil
	}
	lo, dlo, err := bisect(at, 0, 1, 0)
	if err != nil {
		return 0, 0, err
	}
	if lo == 0 { // even a small step is over: the update's start
		d, _, err := at(0)
		return 0, d, err
	}
	u.set(lo)
	return lo, dlo, nil
}

// bisect narrows [lo, hi], lo within the bounds (drift dlo) and hi
// over them, by shrinkSteps halvings and returns the last α within and
// its drift.
func bisect(at func(float64) (float64, bool, error), lo, hi, dlo float64) (float64, float64, error) {
	for range shrinkSteps {
		mid := (lo + hi) / 2
		d, ok, err := at(mid)
		if err != nil {
			return 0, 0, err
		}
		if ok {
			lo, dlo = mid, d
		} else {
			hi = mid
		}
	}
	return lo, dlo, nil
}
