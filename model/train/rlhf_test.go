package train

import (
	"context"
	"math"
	"testing"
)

func TestSequenceLogProbsMatchLogits(t *testing.T) {
	ctx := context.Background()
	m, _ := NewRandom(smallConfig(), false, 3)
	randomize(m, 3)
	seqs := []Sequence{{Prompt: []int{1, 2, 3}, Completion: []int{4, 5}}, {Prompt: []int{1}, Completion: []int{6, 7, 8, 9}}}
	got, err := m.SequenceLogProbs(ctx, seqs)
	if err != nil {
		t.Fatal(err)
	}
	hidden := m.LastHidden()
	for s, sq := range seqs {
		toks := append(append([]int(nil), sq.Prompt...), sq.Completion...)
		lg, err := m.Logits(ctx, toks)
		if err != nil {
			t.Fatal(err)
		}
		var want float64
		for i := len(sq.Prompt) - 1; i+1 < len(toks); i++ {
			lp := logSoftmax64(to64(lg[i]), 1, len(lg[i]))
			want += lp[toks[i+1]]
		}
		if math.Abs(float64(got[s])-want) > 1e-4*math.Abs(want) {
			t.Errorf("sequence %d: log-prob %.6g, from the logits %.6g", s, got[s], want)
		}
	}
	if len(hidden) != len(seqs)*m.Config.Dim {
		t.Errorf("LastHidden: %d values", len(hidden))
	}
}

// A few DPO steps through the public API raise the policy's preference
// margin for the chosen completions over the reference.
func TestDPOStepRaisesMargin(t *testing.T) {
	ctx := context.Background()
	cfg := smallConfig()
	policy, _ := NewRandom(cfg, true, 4)
	if _, err := policy.AttachLoRA(LoRAConfig{Rank: 4, Alpha: 8, Targets: []string{"q", "v", "down"}, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	ref := policy.Share()
	seqs := []Sequence{ // chosen, rejected, chosen, rejected
		{Prompt: []int{1, 2}, Completion: []int{3, 4, 5}},
		{Prompt: []int{1, 2}, Completion: []int{6, 7, 8}},
		{Prompt: []int{1, 9}, Completion: []int{3, 4}},
		{Prompt: []int{1, 9}, Completion: []int{8, 7}},
	}
	refLp, err := ref.SequenceLogProbs(ctx, seqs)
	if err != nil {
		t.Fatal(err)
	}
	opt := NewAdamW(0)
	const beta = 0.5
	margin := func(lp []float32) float64 {
		var m float64
		for p := 0; p < len(seqs); p += 2 {
			m += float64((lp[p] - refLp[p]) - (lp[p+1] - refLp[p+1]))
		}
		return m / 2
	}
	var first float64
	for step := 0; step < 25; step++ {
		lp, err := policy.SequenceLogProbs(ctx, seqs)
		if err != nil {
			t.Fatal(err)
		}
		if step == 0 {
			first = margin(lp)
		}
		dL := make([]float32, len(seqs))
		for p := 0; p < len(seqs); p += 2 {
			z := beta * float64((lp[p]-refLp[p])-(lp[p+1]-refLp[p+1]))
			g := float32(-beta / (1 + math.Exp(z)) / 2) // −β·σ(−z), mean over 2 pairs
			dL[p], dL[p+1] = g, -g
		}
		policy.ZeroGrad()
		if err := policy.BackwardSeq(ctx, dL); err != nil {
			t.Fatal(err)
		}
		if err := opt.Step(policy.Trainable(), 1e-2); err != nil {
			t.Fatal(err)
		}
	}
	lp, _ := policy.SequenceLogProbs(ctx, seqs)
	if last := margin(lp); !(last > first+0.5) {
		t.Errorf("DPO margin %.3f → %.3f, want a clear rise", first, last)
	}
	// The reference really is frozen: its log-probs are unchanged.
	again, _ := ref.SequenceLogProbs(ctx, seqs)
	for i := range again {
		if again[i] != refLp[i] {
			t.Fatalf("reference log-prob %d moved: %g → %g", i, refLp[i], again[i])
		}
	}
}
