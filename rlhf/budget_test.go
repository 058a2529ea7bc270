package rlhf

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/hone-ai/hone/model/train"
)

// guardRun is a tiny DPO or KTO run to put a Guard on: n items in its
// data, a fresh adapter on the base for each policy.
type guardRun struct {
	name   string
	n      int
	run    func(p *train.Model, o Optim) ([]Metrics, error)
	policy func(t *testing.T) *train.Model
}

func guardRuns(t *testing.T, seed uint64) []guardRun {
	ctx := context.Background()
	base := tinyBase(t, seed)
	pairs, thumbs := tinyPrefs(tinySeqs(24, seed+1))
	policy := func(t *testing.T) *train.Model {
		p, err := NewPolicy(base, train.LoRAConfig{Rank: 2, Alpha: 4}, 1)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	return []guardRun{
		{"dpo", len(pairs), func(p *train.Model, o Optim) ([]Metrics, error) {
			return TrainDPO(ctx, p, base, pairs, DPOConfig{Beta: 0.1}, o)
		}, policy},
		{"kto", len(thumbs), func(p *train.Model, o Optim) ([]Metrics, error) {
			return TrainKTO(ctx, p, base, thumbs, KTOConfig{Beta: 0.1}, o)
		}, policy},
	}
}

// The budget guard stops a run at its first failing check and leaves the
// parameters where the last passing check saw them, for every algorithm
// that takes a Guard.
func TestGuardStopsAndRollsBack(t *testing.T) {
	for _, a := range guardRuns(t, 20) {
		t.Run(a.name, func(t *testing.T) {
			p := a.policy(t)
			var atPass []float32
			o := Optim{LR: 5e-3, Epochs: 4, BatchSize: 4, Seed: 5, GuardEvery: 2}
			o.Guard = func(_ context.Context, step int) (bool, error) {
				if step <= 4 {
					atPass = slices.Clone(p.Trainable().Params)
					return true, nil
				}
				return false, nil // the check after step 6 fails
			}
			hist, err := a.run(p, o)
			if err != nil {
				t.Fatal(err)
			}
			if len(hist) != 6 {
				t.Fatalf("ran %d steps, want a stop after 6", len(hist))
			}
			if got := hist[len(hist)-1]["budget/stopped_at"]; got != 6 {
				t.Errorf("budget/stopped_at = %v, want 6", got)
			}
			if !slices.Equal(p.Trainable().Params, atPass) {
				t.Error("parameters are not those of the last passing check (step 4)")
			}
		})
	}
}

// A failed budget check with retries left rolls the parameters back and
// goes on at half the learning rate; once the retries are spent, the next
// failure stops the run where the last passing check left it.
func TestGuardRetriesAtHalfTheStep(t *testing.T) {
	for _, a := range guardRuns(t, 22) {
		t.Run(a.name, func(t *testing.T) {
			p := a.policy(t)
			var atPass []float32
			o := Optim{LR: 5e-3, Epochs: 8, BatchSize: 4, Seed: 5, GuardEvery: 2, GuardRetries: 1}
			total := len(o.withDefaults().plan(a.n))
			if total < 12 {
				t.Fatalf("%d steps: too few for the test", total)
			}
			o.Guard = func(_ context.Context, step int) (bool, error) {
				switch step {
				case 6, 10: // the first failure is retried, the second stops
					return false, nil
				}
				atPass = slices.Clone(p.Trainable().Params)
				return true, nil
			}
			hist, err := a.run(p, o)
			if err != nil {
				t.Fatal(err)
			}
			if len(hist) != 10 {
				t.Fatalf("ran %d steps, want a stop after 10", len(hist))
			}
			if got := hist[5]["budget/retry_at"]; got != 6 {
				t.Errorf("budget/retry_at = %v after step 6, want 6", got)
			}
			if got := hist[9]["budget/stopped_at"]; got != 10 {
				t.Errorf("budget/stopped_at = %v, want 10", got)
			}
			for step := 4; step < 8; step++ {
				want := o.LR * lrScale(step, total, 0)
				if step >= 6 {
					want /= 2
				}
				if got := hist[step]["learning_rate"]; math.Abs(got-want) > 1e-6*want {
					t.Errorf("learning rate of step %d = %g, want %g", step, got, want)
				}
			}
			if !slices.Equal(p.Trainable().Params, atPass) {
				t.Error("parameters are not those of the last passing check (step 8)")
			}
		})
	}
}

// The LM loss of held-out text counts every token after the first, the
// prompt's too: moving tokens from completion to prompt does not change it;
// docNLL's reply part is the completion's own NLL.
func TestLMLossCountsWholeText(t *testing.T) {
	ctx := context.Background()
	m := tinyBase(t, 30)
	seqs := tinySeqs(10, 31)
	var moved []Seq
	for _, s := range seqs {
		all := append(append([]int{}, s.Prompt...), s.Completion...)
		k := 1 + (len(all)-1)/2
		moved = append(moved, Seq{all[:k], all[k:]})
	}
	a, err := lmLoss(ctx, m, seqs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := lmLoss(ctx, m, moved)
	if err != nil {
		t.Fatal(err)
	}
	if d := a - b; d > 1e-5 || d < -1e-5 {
		t.Errorf("lm loss %v vs %v after moving the prompt/completion boundary", a, b)
	}
	// Each sequence's reply part is its completion's NLL.
	d, err := docNLL(ctx, m, seqs)
	if err != nil {
		t.Fatal(err)
	}
	lps, err := seqLogProbs(ctx, m, seqs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range seqs {
		if diff := d.reply[i] + lps[i]; diff > 1e-4 || diff < -1e-4 || d.reply[i] > d.nll[i]+1e-9 {
			t.Errorf("sequence %d: reply NLL %v, completion log-prob %v, whole %v", i, d.reply[i], lps[i], d.nll[i])
		}
	}
}

func TestBuiltinChatPrompts(t *testing.T) {
	ps, err := BuiltinChatPrompts(240)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 240 {
		t.Fatalf("%d prompts, want 240", len(ps))
	}
	again, _ := BuiltinChatPrompts(240)
	if !slices.Equal(ps, again) {
		t.Error("two calls gave different prompts")
	}
	seen := map[string]bool{}
	var ko, en int
	for _, p := range ps {
		if seen[p] {
			t.Errorf("duplicate prompt %q", p)
		}
		seen[p] = true
		if strings.IndexFunc(p, func(r rune) bool { return unicode.Is(unicode.Hangul, r) }) >= 0 {
			ko++
		} else {
			en++
		}
	}
	if ko < 60 || en < 60 {
		t.Errorf("%d Korean and %d English prompts: want both languages", ko, en)
	}
}

// The anchor term holds the policy's likelihood of the reference's own
// replies: the same DPO run moves it less with the anchor than without,
// while the preferences are still learned.
func TestAnchorHoldsReferenceReplies(t *testing.T) {
	ctx := context.Background()
	base := tinyBase(t, 40)
	pairs, _ := tinyPrefs(tinySeqs(24, 41))
	var ps [][]int
	for _, p := range pairs {
		ps = append(ps, p.Prompt, p.Prompt, p.Prompt)
	}
	comps, err := Sampler{Temperature: 1, MaxTokens: 8}.sampleFrom(ctx, base, ps, 42)
	if err != nil {
		t.Fatal(err)
	}
	ref := make([]Seq, len(ps))
	tokens := 0
	for i := range ps {
		ref[i] = Seq{ps[i], comps[i]}
		tokens += len(comps[i])
	}
	nll := func(m *train.Model) float64 {
		lp, err := seqLogProbs(ctx, m, ref)
		if err != nil {
			t.Fatal(err)
		}
		s := 0.0
		for _, v := range lp {
			s -= v
		}
		return s / float64(tokens)
	}
	margin := func(m *train.Model) float64 {
		var s []Seq
		for _, p := range pairs {
			s = append(s, Seq{p.Prompt, p.Chosen}, Seq{p.Prompt, p.Rejected})
		}
		lp, err := seqLogProbs(ctx, m, s)
		if err != nil {
			t.Fatal(err)
		}
		d := 0.0
		for i := 0; i < len(lp); i += 2 {
			d += lp[i] - lp[i+1]
		}
		return d / float64(len(pairs))
	}
	before, m0 := nll(base), margin(base)
	rise := map[float64]float64{}
	for _, coef := range []float64{0, 2} {
		p, err := NewPolicy(base, train.LoRAConfig{Rank: 4, Alpha: 8}, 1)
		if err != nil {
			t.Fatal(err)
		}
		o := Optim{LR: 1e-2, Epochs: 8, BatchSize: 4, Seed: 5, Anchor: ref, AnchorCoef: coef}
		hist, err := TrainDPO(ctx, p, base, pairs, DPOConfig{Beta: 0.1}, o)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := hist[0]["anchor/kl"]; ok != (coef > 0) {
			t.Errorf("anchor %v: anchor/kl reported: %v", coef, ok)
		}
		rise[coef] = nll(p) - before
		if m := margin(p); m <= m0+1 {
			t.Errorf("anchor %v: chosen−rejected log-prob margin %.2f → %.2f: the preferences were not learned", coef, m0, m)
		}
		t.Logf("anchor %v: NLL of the reference's replies %+.3f nats/token, margin %.2f → %.2f", coef, rise[coef], m0, margin(p))
	}
	if rise[2] >= rise[0]/2 {
		t.Errorf("NLL of the reference's replies rose %.3f with the anchor, %.3f without: want less than half", rise[2], rise[0])
	}
}

// anchorFixture is a tiny base, a dozen sequences to anchor and a fresh
// LoRA policy on the base.
func anchorFixture(t *testing.T) (base *train.Model, seqs []Seq, p *train.Model) {
	t.Helper()
	base = tinyBase(t, 50)
	p, err := NewPolicy(base, train.LoRAConfig{Rank: 2, Alpha: 4}, 1)
	if err != nil {
		t.Fatal(err)
	}
	return base, tinySeqs(12, 51), p
}

// moveAway adds noise to params, moving the policy off its reference.
func moveAway(params []float32) {
	r := rand.New(rand.NewPCG(52, 1))
	for i := range params {
		params[i] += float32(r.NormFloat64() * 0.5)
	}
}

// The anchor's gradient is zero while the policy equals the reference
// (it holds, it does not sharpen), and pulls once the policy has moved.
func TestAnchorZeroAtReference(t *testing.T) {
	ctx := context.Background()
	base, seqs, p := anchorFixture(t)
	for _, mp := range []float64{0, 0.5} {
		st := newStepper(p, Optim{BatchSize: 8, Seed: 3, Anchor: seqs, AnchorCoef: 1, AnchorMinProb: mp}.withDefaults(), 4)
		m := Metrics{}
		if err := st.anchorStep(ctx, base, 0, m); err != nil {
			t.Fatal(err)
		}
		if n := train.GradNorm(p.Trainable().Grads); n != 0 || m["anchor/kl"] != 0 {
			t.Errorf("min prob %v: at the reference: gradient norm %v, anchor/kl %v; want 0", mp, n, m["anchor/kl"])
		}
	}
	ps := p.Trainable()
	moveAway(ps.Params)
	st := newStepper(p, Optim{BatchSize: 8, Seed: 3, Anchor: seqs, AnchorCoef: 1}.withDefaults(), 4)
	m := Metrics{}
	if err := st.anchorStep(ctx, base, 0, m); err != nil {
		t.Fatal(err)
	}
	if n := train.GradNorm(ps.Grads); n == 0 || m["anchor/kl"] <= 0 {
		t.Errorf("moved policy: gradient norm %v, anchor/kl %v; want both positive", n, m["anchor/kl"])
	}
}

// AnchorAt overrides AnchorMinProb position by position: −1 everywhere
// frees every position (no pull, nothing measured), +1 everywhere holds
// every position as AnchorMinProb 0 does, whatever AnchorMinProb says.
func TestAnchorAt(t *testing.T) {
	ctx := context.Background()
	base, seqs, p := anchorFixture(t)
	ps := p.Trainable()
	moveAway(ps.Params)
	at := func(v int8) [][]int8 {
		out := make([][]int8, len(seqs))
		for i, s := range seqs {
			out[i] = make([]int8, len(s.Completion))
			for j := range out[i] {
				out[i][j] = v
			}
		}
		return out
	}
	run := func(minProb float64, anchorAt [][]int8) (float64, float64) {
		clear(ps.Grads)
		st := newStepper(p, Optim{BatchSize: 8, Seed: 3, Anchor: seqs, AnchorCoef: 1, AnchorMinProb: minProb, AnchorAt: anchorAt}.withDefaults(), 4)
		m := Metrics{}
		if err := st.anchorStep(ctx, base, 0, m); err != nil {
			t.Fatal(err)
		}
		return float64(train.GradNorm(ps.Grads)), m["anchor/kl"]
	}
	if n, kl := run(0, at(-1)); n != 0 || kl != 0 {
		t.Errorf("every position free: gradient norm %v, anchor/kl %v; want 0", n, kl)
	}
	n0, kl0 := run(0, nil)
	n1, kl1 := run(0.999999, at(1))
	if kl0 <= 0 || n1 != n0 || kl1 != kl0 {
		t.Errorf("every position held: gradient norm %v, anchor/kl %v; want those of min prob 0: %v, %v", n1, kl1, n0, kl0)
	}
	st := newStepper(p, Optim{BatchSize: 8, Seed: 3, Anchor: seqs, AnchorCoef: 1, AnchorAt: at(1)[:3]}.withDefaults(), 4)
	if err := st.anchorStep(ctx, base, 0, Metrics{}); err == nil || !strings.Contains(err.Error(), "AnchorAt") {
		t.Errorf("overrides for 3 of %d sequences: error %v, want one naming AnchorAt", len(seqs), err)
	}
	if n, kl := run(0.999999, nil); kl >= kl0 {
		t.Errorf("min prob 0.999999 without AnchorAt: anchor/kl %v (gradient norm %v); want less than every position's %v", kl, n, kl0)
	}
}

// cutAnchors frees the decision after a sentence where the reward model
// tells the cut and the reply apart, and holds it where it does not.
func TestCutAnchors(t *testing.T) {
	p := []int{0, 5}
	replies := []Seq{
		{Prompt: p, Completion: []int{10, 11, 1, 12, 2, 13, 1, 9}}, // cut after "." short (apart), after "!" long (alike)
		{Prompt: p, Completion: []int{10, 9}},
	}
	got, err := cutAnchors(context.Background(), lenRater{n: 4}, cutVocab{}, replies, []int{9}, false, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int8{{0, 0, 0, -1, 0, 1, 0, 0}, nil}
	if len(got) != 2 || !slices.Equal(got[0], want[0]) || got[1] != nil {
		t.Errorf("anchor overrides %v, want %v", got, want)
	}
}
