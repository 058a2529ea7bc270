package rlhf

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*(1+math.Abs(b)) }

// numGrad is the central finite difference of f at x[i].
func numGrad(f func([]float64) float64, x []float64, i int) float64 {
	const h = 1e-6
	old := x[i]
	x[i] = old + h
	fp := f(x)
	x[i] = old - h
	fm := f(x)
	x[i] = old
	return (fp - fm) / (2 * h)
}

func TestDPOLossHandComputed(t *testing.T) {
	// m = (−1 − −2) − (−3 − −2.5) = 1.5; values from Python with TRL's formula.
	b := DPOBatch{PolicyChosen: []float64{-1}, RefChosen: []float64{-2}, PolicyRejected: []float64{-3}, RefRejected: []float64{-2.5}}
	for _, tc := range []struct {
		eps, want float64
	}{{0, 0.620957047789532}, {0.2, 0.6509570477895321}} {
		r, err := DPOLoss(DPOConfig{Beta: 0.1, LabelSmoothing: tc.eps}, b)
		if err != nil {
			t.Fatal(err)
		}
		if !near(r.Loss, tc.want, 1e-12) {
			t.Errorf("eps %g: loss %v, want %v", tc.eps, r.Loss, tc.want)
		}
		if !near(r.Metrics["rewards/chosen"], 0.1, 1e-12) || !near(r.Metrics["rewards/rejected"], -0.05, 1e-12) ||
			!near(r.Metrics["rewards/margins"], 0.15, 1e-12) || r.Metrics["rewards/accuracies"] != 1 {
			t.Errorf("metrics %v", r.Metrics)
		}
	}
}

func TestLossGradientsMatchFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randv := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = -20 * rng.Float64()
		}
		return v
	}
	const n = 6
	for _, cfg := range []DPOConfig{{Beta: 0.3, LabelSmoothing: 0.1}, {Beta: 0.2, RPOAlpha: 0.7}} {
		t.Run(fmt.Sprintf("dpo%+v", cfg), func(t *testing.T) {
			b := DPOBatch{PolicyChosen: randv(n), PolicyRejected: randv(n), RefChosen: randv(n), RefRejected: randv(n),
				ChosenTokens: []int{3, 9, 1, 14, 6, 2}}
			r, err := DPOLoss(cfg, b)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i++ {
				fc := func(x []float64) float64 { b.PolicyChosen = x; r, _ := DPOLoss(cfg, b); return r.Loss }
				if g := numGrad(fc, b.PolicyChosen, i); !near(r.GradChosen[i], g, 1e-5) {
					t.Errorf("chosen[%d]: %v vs numeric %v", i, r.GradChosen[i], g)
				}
				fr := func(x []float64) float64 { b.PolicyRejected = x; r, _ := DPOLoss(cfg, b); return r.Loss }
				if g := numGrad(fr, b.PolicyRejected, i); !near(r.GradRejected[i], g, 1e-5) {
					t.Errorf("rejected[%d]: %v vs numeric %v", i, r.GradRejected[i], g)
				}
			}
		})
	}
	t.Run("kto", func(t *testing.T) {
		b := KTOBatch{Policy: randv(n), Ref: randv(n), Desirable: []bool{true, false, true, true, false, true},
			KLPolicy: randv(n), KLRef: randv(n)}
		cfg := KTOConfig{Beta: 0.5}
		r, _ := KTOLoss(cfg, b)
		for i := 0; i < n; i++ {
			f := func(x []float64) float64 { b.Policy = x; r, _ := KTOLoss(cfg, b); return r.Loss }
			if g := numGrad(f, b.Policy, i); !near(r.Grad[i], g, 1e-5) {
				t.Errorf("policy[%d]: %v vs numeric %v", i, r.Grad[i], g)
			}
		}
	})
	t.Run("rloo", func(t *testing.T) {
		b := RLOOBatch{Policy: randv(n), Ref: randv(n), Scores: randv(n)}
		cfg := RLOOConfig{K: 3, Beta: 0.05}
		r, _ := RLOOLoss(cfg, b)
		// The advantages are detached: the gradient is −adv/n, the
		// derivative of the surrogate with the advantages held fixed.
		for i := 0; i < n; i++ {
			if !near(r.Grad[i], -r.Advantages[i]/n, 1e-12) {
				t.Errorf("grad[%d] %v", i, r.Grad[i])
			}
		}
	})
	t.Run("bradley-terry", func(t *testing.T) {
		c, rj := randv(n), randv(n)
		_, gc, gr, _, _ := BradleyTerryLoss(c, rj)
		for i := 0; i < n; i++ {
			f := func(x []float64) float64 { l, _, _, _, _ := BradleyTerryLoss(x, rj); return l }
			if g := numGrad(f, c, i); !near(gc[i], g, 1e-5) {
				t.Errorf("chosen[%d]: %v vs %v", i, gc[i], g)
			}
			f = func(x []float64) float64 { l, _, _, _, _ := BradleyTerryLoss(c, x); return l }
			if g := numGrad(f, rj, i); !near(gr[i], g, 1e-5) {
				t.Errorf("rejected[%d]: %v vs %v", i, gr[i], g)
			}
		}
	})
	t.Run("logistic", func(t *testing.T) {
		s := randv(n)
		for i := range s {
			s[i] += 10
		}
		up := []bool{true, false, false, true, true, false}
		for _, w := range [][2]float64{{1, 1}, {3, 0.6}} {
			_, g, _, _ := weightedLogisticLoss(s, up, w[0], w[1])
			for i := 0; i < n; i++ {
				f := func(x []float64) float64 { l, _, _, _ := weightedLogisticLoss(x, up, w[0], w[1]); return l }
				if gn := numGrad(f, s, i); !near(g[i], gn, 1e-5) {
					t.Errorf("weights %v: score[%d]: %v vs %v", w, i, g[i], gn)
				}
			}
		}
		// One weight for both labels scales the loss and leaves the
		// accuracy alone.
		l, _, m, _ := LogisticLoss(s, up)
		if lw, _, mw, _ := weightedLogisticLoss(s, up, 2, 2); !near(lw, 2*l, 1e-12) || mw["accuracy"] != m["accuracy"] {
			t.Errorf("weights 2, 2: loss %v (want %v), accuracy %v (want %v)", lw, 2*l, mw["accuracy"], m["accuracy"])
		}
	})
}

func TestThumbWeights(t *testing.T) {
	for _, tc := range []struct {
		nUp, nDown  int
		wUp, wDown  float64
		equalShares bool
		name        string
	}{
		{30, 470, 500.0 / 60, 500.0 / 940, true, "one approval in seventeen"},
		{250, 250, 1, 1, true, "even labels keep their weight"},
		{400, 100, 500.0 / 800, 500.0 / 200, true, "mostly approvals"},
		{0, 10, 1, 1, false, "no approvals: unweighted"},
		{10, 0, 1, 1, false, "no rejections: unweighted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wUp, wDown := ThumbWeights(tc.nUp, tc.nDown)
			if !near(wUp, tc.wUp, 1e-12) || !near(wDown, tc.wDown, 1e-12) {
				t.Fatalf("ThumbWeights(%d, %d) = %v, %v, want %v, %v", tc.nUp, tc.nDown, wUp, wDown, tc.wUp, tc.wDown)
			}
			if !tc.equalShares {
				return
			}
			if up, down := wUp*float64(tc.nUp), wDown*float64(tc.nDown); !near(up, down, 1e-9) {
				t.Errorf("shares %v and %v differ", up, down)
			}
			if mean := (wUp*float64(tc.nUp) + wDown*float64(tc.nDown)) / float64(tc.nUp+tc.nDown); !near(mean, 1, 1e-12) {
				t.Errorf("mean weight %v, want 1", mean)
			}
		})
	}
}

func TestKTOLossHandComputed(t *testing.T) {
	// z0 = mean(−2 − −2.5, −3 − −3.1) = 0.3; logratios +1 (up) and −1 (down).
	b := KTOBatch{Policy: []float64{-1, -4}, Ref: []float64{-2, -3}, Desirable: []bool{true, false},
		KLPolicy: []float64{-2, -3}, KLRef: []float64{-2.5, -3.1}}
	r, err := KTOLoss(KTOConfig{Beta: 0.1}, b)
	if err != nil {
		t.Fatal(err)
	}
	if !near(r.Loss, 0.47502641797314576, 1e-12) || !near(r.KL, 0.3, 1e-12) {
		t.Errorf("loss %v kl %v", r.Loss, r.KL)
	}
	// A negative KL estimate is clamped to 0.
	b.KLRef = []float64{0, 0}
	r, _ = KTOLoss(KTOConfig{Beta: 0.1}, b)
	if r.KL != 0 {
		t.Errorf("kl %v, want clamp to 0", r.KL)
	}
}

func TestKTOWeightsBalanced(t *testing.T) {
	for _, tc := range []struct{ nD, nU int }{{10, 10}, {10, 100}, {100, 10}, {12, 10}, {1, 999}, {500, 3}} {
		lD, lU := KTOWeights(tc.nD, tc.nU)
		ratio := lD * float64(tc.nD) / (lU * float64(tc.nU))
		if ratio < 1-1e-9 || ratio > 4.0/3+1e-9 {
			t.Errorf("%d/%d: ratio %v outside [1, 4/3]", tc.nD, tc.nU, ratio)
		}
		mean := (lD*float64(tc.nD) + lU*float64(tc.nU)) / float64(tc.nD+tc.nU)
		if !near(mean, 1, 1e-12) {
			t.Errorf("%d/%d: mean weight %v", tc.nD, tc.nU, mean)
		}
	}
}

func TestKTOEpochs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		nD, nU int
		epochs int
		want   int
	}{
		{"balanced labels keep every pass", 250, 250, 6, 6},
		{"one approval in eight", 60, 440, 6, 2},   // λ_D ≈ 4.2
		{"seven in ten approved", 350, 150, 6, 5},  // λ_U ≈ 1.43
		{"three in four approved", 380, 120, 6, 4}, // λ_U ≈ 1.79
		{"a handful of approvals", 3, 497, 6, 1},   // λ_D ≈ 83
		{"no passes stays none", 60, 440, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lD, lU := KTOWeights(tc.nD, tc.nU)
			got := KTOEpochs(tc.epochs, lD, lU)
			if got != tc.want {
				t.Fatalf("KTOEpochs(%d, %.3f, %.3f) = %d, want %d", tc.epochs, lD, lU, got, tc.want)
			}
			if w := max(lD, lU); tc.epochs > 0 && got > 1 && float64(got-1)*w >= float64(tc.epochs) {
				t.Errorf("%d passes: one fewer would already weigh %.2f ≥ %d", got, float64(got-1)*w, tc.epochs)
			}
		})
	}
}

func TestRLOOLeaveOneOutBaseline(t *testing.T) {
	// One prompt, k=3, β=0: advantages are score − mean(others).
	r, err := RLOOLoss(RLOOConfig{K: 3}, RLOOBatch{Policy: []float64{-1, -2, -3}, Ref: []float64{-1, -2, -3}, Scores: []float64{1, 2, 6}})
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{1 - 4, 2 - 3.5, 6 - 1.5}
	for i := range want {
		if !near(r.Advantages[i], want[i], 1e-12) {
			t.Errorf("adv[%d] = %v, want %v", i, r.Advantages[i], want[i])
		}
	}
	// With β>0 the KL penalty enters the reward: kl = 1 for sample 0.
	r, _ = RLOOLoss(RLOOConfig{K: 2, Beta: 0.5}, RLOOBatch{Policy: []float64{-1, -2}, Ref: []float64{-2, -2}, Scores: []float64{1, 1}})
	if !near(r.Metrics["objective/kl"], 0.5, 1e-12) || !near(r.Advantages[0], -0.5, 1e-12) || !near(r.Metrics["objective/rlhf_reward"], 0.75, 1e-12) {
		t.Errorf("metrics %v adv %v", r.Metrics, r.Advantages)
	}
	// RewardProb: the rewards are σ(score), 0.5 and 0.75 here.
	r, _ = RLOOLoss(RLOOConfig{K: 2, RewardProb: true}, RLOOBatch{Policy: []float64{-1, -2}, Ref: []float64{-1, -2}, Scores: []float64{0, math.Log(3)}})
	if !near(r.Advantages[0], -0.25, 1e-12) || !near(r.Advantages[1], 0.25, 1e-12) || !near(r.Metrics["objective/rlhf_reward"], 0.625, 1e-12) {
		t.Errorf("reward prob: metrics %v adv %v", r.Metrics, r.Advantages)
	}
}

func TestBradleyTerryHandComputed(t *testing.T) {
	l, _, _, m, err := BradleyTerryLoss([]float64{2, 0}, []float64{1, 1})
	if err != nil {
		t.Fatal(err)
	}
	if !near(l, 0.8132616875182228, 1e-12) || m["accuracy"] != 0.5 {
		t.Errorf("loss %v metrics %v", l, m)
	}
}

func TestLossesRefuseBadInput(t *testing.T) {
	if _, err := DPOLoss(DPOConfig{Beta: 0.1}, DPOBatch{PolicyChosen: []float64{1}}); err == nil {
		t.Error("dpo: mismatched lengths accepted")
	}
	if _, err := DPOLoss(DPOConfig{Beta: 0}, DPOBatch{PolicyChosen: []float64{1}, PolicyRejected: []float64{1}, RefChosen: []float64{1}, RefRejected: []float64{1}}); err == nil {
		t.Error("dpo: beta 0 accepted")
	}
	if _, err := KTOLoss(KTOConfig{Beta: 0.1}, KTOBatch{}); err == nil {
		t.Error("kto: empty batch accepted")
	}
	if _, err := RLOOLoss(RLOOConfig{K: 1}, RLOOBatch{Policy: []float64{1}, Ref: []float64{1}, Scores: []float64{1}}); err == nil {
		t.Error("rloo: k=1 accepted")
	}
	if _, err := RLOOLoss(RLOOConfig{K: 2}, RLOOBatch{Policy: []float64{1, 2, 3}, Ref: []float64{1, 2, 3}, Scores: []float64{1, 2, 3}}); err == nil {
		t.Error("rloo: batch not a multiple of k accepted")
	}
}

func TestECE(t *testing.T) {
	// Perfectly calibrated bins → 0; always-confident-wrong → 1.
	if e := ECE([]float64{0.25, 0.25, 0.25, 0.25}, []bool{true, false, false, false}, 10); !near(e, 0, 1e-12) {
		t.Errorf("ece %v", e)
	}
	if e := ECE([]float64{1, 1}, []bool{false, false}, 10); !near(e, 1, 1e-12) {
		t.Errorf("ece %v", e)
	}
}
