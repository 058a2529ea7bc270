package rlhf

import (
	"context"
	"strings"
	"testing"

	"github.com/hone-ai/hone/model/train"
)

// shrink moves an update back along its line until the drift on the
// validation text is within the target: for a fresh adapter by scaling B
// (A stays as trained), for full fine-tuning every parameter; an update
// already within the target stays as trained.
func TestShrinkMovesTheUpdateBackIntoTheTarget(t *testing.T) {
	ctx := context.Background()
	base := tinyBase(t, 30)
	pairs, _ := tinyPrefs(tinySeqs(24, 31))
	var text []Seq // the rejected replies: the update makes them less likely
	for _, pr := range pairs {
		text = append(text, Seq{pr.Prompt, pr.Rejected})
	}
	for _, tt := range []struct {
		name string
		lora train.LoRAConfig
	}{
		{"lora", train.LoRAConfig{Rank: 2, Alpha: 4}},
		{"full", train.LoRAConfig{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPolicy(base, tt.lora, 1)
			if err != nil {
				t.Fatal(err)
			}
			line := startUpdate(p)
			before := append([]float32(nil), p.Trainable().Params...)
			if _, err := TrainDPO(ctx, p, base, pairs, DPOConfig{Beta: 0.1}, Optim{LR: 2e-2, Epochs: 4, BatchSize: 4, Seed: 3}); err != nil {
				t.Fatal(err)
			}
			line.finish()
			after := append([]float32(nil), p.Trainable().Params...)
			ref, err := lmLoss(ctx, base, text)
			if err != nil {
				t.Fatal(err)
			}
			l1, err := lmLoss(ctx, p, text)
			if err != nil {
				t.Fatal(err)
			}
			full := (l1 - ref) / ref
			if full <= 0.01 {
				t.Fatalf("the update moved the LM loss by %+.4f: too little to test", full)
			}

			// Within the target: nothing moves.
			a, d, err := shrink(ctx, line, p, lmText{seqs: text}, ref, 2*full, 1, nil)
			if err != nil || a != 1 || d != full {
				t.Fatalf("target over the drift: α %g, drift %g, %v; want 1, %g", a, d, err, full)
			}

			// An update that ended within the target and may stretch goes
			// on along its line to the nearest α where the drift crosses
			// the target: here the update's first half as trained, which
			// stretches back out towards the whole (relative α 2). Further
			// out the drift on this toy text falls again (at α 3 it is near
			// 0), so a search that only looked at its far end, or bisected
			// the whole range, would go past the crossing.
			mid := make([]float32, len(after))
			for i := range mid {
				mid[i] = after[i]
				if line.along[i] {
					mid[i] = before[i] + 0.5*(after[i]-before[i])
				}
			}
			half := &updateLine{params: line.params, before: line.before, after: mid, along: line.along}
			half.set(1)
			lh, err := lmLoss(ctx, p, text)
			if err != nil {
				t.Fatal(err)
			}
			dh := (lh - ref) / ref
			if dh >= full {
				t.Fatalf("the update's first half moved the drift %+.4f, the whole %+.4f: the test needs it to grow", dh, full)
			}
			within := (dh + full) / 2
			a, d, err = shrink(ctx, half, p, lmText{seqs: text}, ref, within, 4, nil)
			if err != nil {
				t.Fatal(err)
			}
			if a <= 1 || a >= 2 || d > within || d < dh {
				t.Fatalf("stretched: α %g, drift %+.4f (%+.4f at α 1, %+.4f at 2): want 1 < α < 2, drift ≤ %+.4f", a, d, dh, full, within)
			}
			if l, err := lmLoss(ctx, p, text); err != nil || (l-ref)/ref != d {
				t.Errorf("stretched: the policy's drift %+.4f, %v; shrink said %+.4f", (l-ref)/ref, err, d)
			}
			half.set(a + stretchStep/(1<<shrinkSteps))
			if l, _ := lmLoss(ctx, p, text); (l-ref)/ref <= within {
				t.Errorf("stretched: α %g + %g/%d is still within the target: the search stopped short", a, stretchStep, 1<<shrinkSteps)
			}

			aStretch, dStretch := a, d

			target := full / 4
			a, d, err = shrink(ctx, line, p, lmText{seqs: text}, ref, target, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			if a <= 0 || a >= 1 || d > target {
				t.Fatalf("α %g, drift %+.4f (was %+.4f): want 0 < α < 1 and drift ≤ %+.4f", a, d, full, target)
			}
			if l, err := lmLoss(ctx, p, text); err != nil || (l-ref)/ref != d {
				t.Errorf("the policy's drift %+.4f, %v; shrink said %+.4f", (l-ref)/ref, err, d)
			}
			// The next step out along the line is over the target.
			line.set(a + 1.0/(1<<shrinkSteps))
			if l, _ := lmLoss(ctx, p, text); (l-ref)/ref <= target {
				t.Errorf("α %g + 1/%d is still within the target: the search stopped short", a, 1<<shrinkSteps)
			}
			line.set(a)
			ps := p.Trainable()
			for _, s := range ps.Segs {
				isB := strings.HasSuffix(s.Name, ".lora_b")
				for i := s.Off; i < s.Off+s.Len; i++ {
					want := before[i] + float32(a)*(after[i]-before[i])
					if tt.lora.Rank > 0 && !isB {
						want = after[i] // A stays as trained
					}
					if ps.Params[i] != want {
						t.Fatalf("%s[%d] = %g, want %g", s.Name, i-s.Off, ps.Params[i], want)
					}
				}
			}
			// A second bound (the lab's KL) that reads over where the
			// drift is over the target stops the fit where the target
			// does, with the target itself out of reach; shrinking and
			// stretching alike.
			overAt := func(bound float64) func(context.Context, float64) (bool, error) {
				return func(ctx context.Context, _ float64) (bool, error) {
					l, err := lmLoss(ctx, p, text)
					return (l-ref)/ref > bound, err
				}
			}
			if a2, d2, err := shrink(ctx, line, p, lmText{seqs: text}, ref, 2*full, 1, overAt(target)); err != nil || a2 != a || d2 != d {
				t.Errorf("bounded by over: α %g, drift %+.4f, %v; by the target: α %g, drift %+.4f", a2, d2, err, a, d)
			}
			if a2, d2, err := shrink(ctx, half, p, lmText{seqs: text}, ref, 2*full, 4, overAt(within)); err != nil || a2 != aStretch || d2 != dStretch {
				t.Errorf("stretched, bounded by over: α %g, drift %+.4f, %v; by the target: α %g, drift %+.4f", a2, d2, err, aStretch, dStretch)
			}
			// At α 0 the policy is where the update started: the base.
			line.set(0)
			if l, err := lmLoss(ctx, p, text); err != nil || l != ref {
				t.Errorf("α 0: LM loss %g, %v; want the base's %g", l, err, ref)
			}
		})
	}
}
