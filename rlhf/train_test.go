package rlhf

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/hone-ai/hone/model"
	"github.com/hone-ai/hone/model/train"
)

// tinyBase is a small random model (no fixtures needed) with weights large
// enough that its next-token distributions are far from uniform.
func tinyBase(t *testing.T, seed uint64) *train.Model {
	t.Helper()
	cfg := model.Config{Dim: 16, HiddenDim: 32, NLayers: 2, NHeads: 4, NKVHeads: 2, VocabSize: 40, ContextLen: 48}
	m, err := train.NewRandom(cfg, seed%2 == 0, seed)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 1))
	for i, v := range m.Data() {
		m.Data()[i] = v * 8 * float32(0.5+r.Float64())
	}
	m.SetTrainBase(false)
	return m
}

// tinySeqs returns n random prompt/completion pairs of varied lengths.
func tinySeqs(n int, seed uint64) []Seq {
	r := rand.New(rand.NewPCG(seed, 2))
	out := make([]Seq, n)
	for i := range out {
		p := make([]int, 1+r.IntN(6))
		c := make([]int, r.IntN(9))
		p[0] = 1
		for j := 1; j < len(p); j++ {
			p[j] = 3 + r.IntN(37)
		}
		for j := range c {
			c[j] = 3 + r.IntN(37)
		}
		out[i] = Seq{p, c}
	}
	return out
}

// tinyPrefs pairs consecutive sequences: sequence 2i's completion is
// preferred to (and rated up, the other down under) sequence 2i's prompt.
func tinyPrefs(seqs []Seq) ([]Pair, []Unpaired) {
	var pairs []Pair
	var thumbs []Unpaired
	for i := 0; i+1 < len(seqs); i += 2 {
		pairs = append(pairs, Pair{seqs[i].Prompt, seqs[i].Completion, seqs[i+1].Completion})
		thumbs = append(thumbs, Unpaired{seqs[i], true}, Unpaired{Seq{seqs[i].Prompt, seqs[i+1].Completion}, false})
	}
	return pairs, thumbs
}

// dpoObjective is the DPO loss of pairs (chosen 2i, rejected 2i+1) and its
// per-sequence gradient.
func dpoObjective(refLP []float64) seqGrad {
	return func(lp []float64, _ [][]float32) ([]float64, [][]float32, error) {
		var b DPOBatch
		for i := 0; i < len(lp); i += 2 {
			b.PolicyChosen = append(b.PolicyChosen, lp[i])
			b.PolicyRejected = append(b.PolicyRejected, lp[i+1])
			b.RefChosen = append(b.RefChosen, refLP[i])
			b.RefRejected = append(b.RefRejected, refLP[i+1])
		}
		r, err := DPOLoss(DPOConfig{Beta: 0.5}, b)
		if err != nil {
			return nil, nil, err
		}
		g := make([]float64, len(lp))
		for i := range r.GradChosen {
			g[2*i], g[2*i+1] = r.GradChosen[i], r.GradRejected[i]
		}
		return g, nil, nil
	}
}

// The gradient backprop assembles (log-probabilities of a batch → DPO loss
// → Cotangent.SeqLogp → the adapter) matches finite differences of the
// loss along a random direction, in one batch and cut into small chunks
// (where the chunks' two passes must give the same gradient).
func TestBackpropMatchesFiniteDifferences(t *testing.T) {
	ctx := context.Background()
	base := tinyBase(t, 3)
	seqs := tinySeqs(12, 4)
	refLP, err := seqLogProbs(ctx, base, seqs)
	if err != nil {
		t.Fatal(err)
	}
	policy, err := NewPolicy(base, train.LoRAConfig{Rank: 2, Alpha: 4}, 5)
	if err != nil {
		t.Fatal(err)
	}
	ps := policy.Trainable()
	r := rand.New(rand.NewPCG(6, 7))
	for i := range ps.Params {
		ps.Params[i] = float32(r.NormFloat64() * 0.1)
	}
	loss := func() float64 {
		lp, err := seqLogProbs(ctx, policy, seqs)
		if err != nil {
			t.Fatal(err)
		}
		var b DPOBatch
		for i := 0; i < len(lp); i += 2 {
			b.PolicyChosen, b.PolicyRejected = append(b.PolicyChosen, lp[i]), append(b.PolicyRejected, lp[i+1])
			b.RefChosen, b.RefRejected = append(b.RefChosen, refLP[i]), append(b.RefRejected, refLP[i+1])
		}
		res, err := DPOLoss(DPOConfig{Beta: 0.5}, b)
		if err != nil {
			t.Fatal(err)
		}
		return res.Metrics["loss"]
	}
	grads := map[string][]float32{}
	for _, c := range []struct {
		name   string
		budget int
	}{{"one batch", activationBudget}, {"chunked", 1}} {
		policy.ZeroGrad()
		if err := backpropWithin(ctx, policy, seqs, true, 0, c.budget, dpoObjective(refLP)); err != nil {
			t.Fatal(err)
		}
		grads[c.name] = slices.Clone(ps.Grads)
	}
	if n := len(chunks(policy, seqs, 1)); n != len(seqs) {
		t.Fatalf("budget 1 gave %d chunks, want one per sequence", n)
	}
	dir := make([]float32, len(ps.Params)) // a random unit vector
	for i := range dir {
		dir[i] = float32(r.NormFloat64())
	}
	dn := train.GradNorm(dir)
	for i := range dir {
		dir[i] /= dn
	}
	var analytic float64
	for i, g := range grads["one batch"] {
		analytic += float64(g) * float64(dir[i])
	}
	orig := slices.Clone(ps.Params)
	const eps = 3e-3
	for i := range ps.Params {
		ps.Params[i] = orig[i] + eps*dir[i]
	}
	up := loss()
	for i := range ps.Params {
		ps.Params[i] = orig[i] - eps*dir[i]
	}
	down := loss()
	copy(ps.Params, orig)
	numeric := (up - down) / (2 * eps)
	t.Logf("directional derivative: backprop %.6g, finite differences %.6g", analytic, numeric)
	if math.Abs(analytic-numeric) > 0.01*math.Abs(numeric)+1e-4 {
		t.Errorf("directional derivative: backprop %.6g, finite differences %.6g", analytic, numeric)
	}
	a, b := grads["one batch"], grads["chunked"]
	var diff, norm float64
	for i := range a {
		diff += float64(a[i]-b[i]) * float64(a[i]-b[i])
		norm += float64(a[i]) * float64(a[i])
	}
	if math.Sqrt(diff/norm) > 1e-5 {
		t.Errorf("chunked gradient differs from one batch by %.3g (relative)", math.Sqrt(diff/norm))
	}
}

// referenceSample is the plain sampling loop the Sampler must reproduce:
// a fresh session per completion.
func referenceSample(t *testing.T, e *model.Model, s Sampler, prompt []int, seed uint64) []int {
	t.Helper()
	ctx := context.Background()
	sess := e.NewSession()
	logits, err := sess.Eval(ctx, prompt)
	if err != nil {
		t.Fatal(err)
	}
	smp := model.NewSampler(model.SamplerConfig{Temperature: float32(s.Temperature), TopK: s.TopK, Seed: seed})
	var out []int
	for len(out) < s.MaxTokens && len(prompt)+len(out) < e.Config.ContextLen {
		tok := smp.Sample(logits, nil)
		if slices.Contains(s.Stop, tok) {
			break
		}
		out = append(out, tok)
		if logits, err = sess.Eval(ctx, []int{tok}); err != nil {
			break
		}
	}
	return out
}

// SampleMany is deterministic for a seed whatever the number of cores,
// reuses a prompt's prefill for its several replies without changing
// them, and honours stop tokens (keeping the one that ended a completion
// with KeepStop), MaxTokens and the context window.
func TestSampleManyDeterministic(t *testing.T) {
	ctx := context.Background()
	base := tinyBase(t, 8)
	e, err := base.Inference(nil)
	if err != nil {
		t.Fatal(err)
	}
	p1, p2 := []int{1, 5, 9}, []int{1, 7}
	long := make([]int, 44) // 4 positions left in the window
	long[0] = 1
	for i := 1; i < len(long); i++ {
		long[i] = 3 + i%30
	}
	prompts := [][]int{p1, p1, p1, p2, long, p1}
	s := Sampler{Temperature: 1, TopK: 20, MaxTokens: 10, Stop: []int{2}}
	got, err := s.SampleMany(ctx, e, prompts, 42)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range prompts {
		want := referenceSample(t, e, s, p, mix64(42, uint64(i)))
		if !slices.Equal(got[i], want) {
			t.Errorf("completion %d: %v, fresh session gives %v", i, got[i], want)
		}
		if len(got[i]) > s.MaxTokens || len(p)+len(got[i]) > e.Config.ContextLen || slices.Contains(got[i], 2) {
			t.Errorf("completion %d (%d tokens after %d): beyond the limits or contains a stop token", i, len(got[i]), len(p))
		}
	}
	if slices.Equal(got[0], got[1]) && slices.Equal(got[1], got[2]) {
		t.Errorf("three replies to one prompt are identical: %v", got[0])
	}
	old := runtime.GOMAXPROCS(1)
	again, err := s.SampleMany(ctx, e, prompts, 42)
	runtime.GOMAXPROCS(old)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if !slices.Equal(got[i], again[i]) {
			t.Errorf("completion %d differs on one core: %v vs %v", i, again[i], got[i])
		}
	}
	// KeepStop: the same completions, each that a stop token ended with
	// that token; Reply takes it off again.
	ms := Sampler{Temperature: 1, TopK: 20, MaxTokens: 10, Stop: []int{2, 3, 4, 5, 6, 7}}
	plain, err := ms.SampleMany(ctx, e, prompts, 7)
	if err != nil {
		t.Fatal(err)
	}
	ks := ms
	ks.KeepStop = true
	kept, err := ks.SampleMany(ctx, e, prompts, 7)
	if err != nil {
		t.Fatal(err)
	}
	stopped := 0
	for i := range plain {
		r := ks.Reply(kept[i])
		if !slices.Equal(r, plain[i]) {
			t.Errorf("completion %d with KeepStop: %v, reply %v; without: %v", i, kept[i], r, plain[i])
		}
		if len(kept[i]) == len(plain[i])+1 {
			stopped++
			if last := kept[i][len(kept[i])-1]; !slices.Contains(ms.Stop, last) {
				t.Errorf("completion %d ends with %d, not a stop token", i, last)
			}
		} else if len(plain[i]) < ms.MaxTokens && len(prompts[i])+len(plain[i]) < e.Config.ContextLen {
			t.Errorf("completion %d (%v) ended before its limits without a stop token: %v", i, plain[i], kept[i])
		}
	}
	if stopped == 0 {
		t.Errorf("no completion of %d ended at a stop token: %v", len(kept), kept)
	}
	if r := ms.Reply([]int{9, 2}); !slices.Equal(r, []int{9, 2}) {
		t.Errorf("Reply without KeepStop took off a token: %v", r)
	}
	// Greedy: the argmax continuation.
	g := Sampler{MaxTokens: 5}
	gr, err := g.Sample(ctx, e, p1, 9)
	if err != nil {
		t.Fatal(err)
	}
	seq := slices.Clone(p1)
	for range 5 {
		lg, err := e.Logits(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		last := lg[len(lg)-1]
		seq = append(seq, slices.Index(last, slices.Max(last)))
	}
	if !slices.Equal(gr, seq[len(p1):]) {
		t.Errorf("greedy: %v, argmax continuation %v", gr, seq[len(p1):])
	}
}

// quarterStops decodes every fourth token id as a sentence's end and the
// others as words: a tiny model's samples end sentences often.
type quarterStops struct{}

func (quarterStops) Decode(ids []int) string {
	var b strings.Builder
	for _, id := range ids {
		if id%4 == 0 {
			b.WriteString(".")
		} else {
			fmt.Fprintf(&b, " w%d", id)
		}
	}
	return b.String()
}

// A run stopped and resumed from its checkpoint ends with the same
// adapter, bit for bit, as one that ran straight through (DPO, KTO, and
// RLOO with its sampling), also when a budget check before the
// checkpoint failed and sent the run back at half the step.
func TestResumeIsBitExact(t *testing.T) {
	ctx := context.Background()
	base := tinyBase(t, 10)
	seqs := tinySeqs(24, 11)
	pairs, thumbs := tinyPrefs(seqs)
	rm, _, err := TrainRewardModel(ctx, base, RewardData{Pairs: pairs}, RewardConfig{LoRA: train.LoRAConfig{Rank: 2}}, Optim{LR: 1e-2, Epochs: 1, BatchSize: 4, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	var prompts [][]int
	for _, p := range pairs {
		prompts = append(prompts, p.Prompt)
	}
	lc := train.LoRAConfig{Rank: 2, Alpha: 4}
	algos := map[string]func(policy *train.Model, o Optim) ([]Metrics, error){
		"dpo": func(p *train.Model, o Optim) ([]Metrics, error) {
			return TrainDPO(ctx, p, base, pairs, DPOConfig{Beta: 0.1}, o)
		},
		"kto": func(p *train.Model, o Optim) ([]Metrics, error) {
			return TrainKTO(ctx, p, base, thumbs, KTOConfig{Beta: 0.1}, o)
		},
		"rloo": func(p *train.Model, o Optim) ([]Metrics, error) {
			ro := RLOOOptions{RLOOConfig: RLOOConfig{K: 2, Beta: 0.1}, PromptsPerStep: 3, Sampler: Sampler{Temperature: 1, MaxTokens: 6}}
			return TrainRLOO(ctx, p, base, rm, prompts, ro, o)
		},
		"rloo-stop-branches": func(p *train.Model, o Optim) ([]Metrics, error) {
			ro := RLOOOptions{RLOOConfig: RLOOConfig{K: 2, Beta: 0.1}, PromptsPerStep: 3, Sampler: Sampler{Temperature: 1, MaxTokens: 16, Stop: []int{9, 21, 33}, KeepStop: true}, Sentences: quarterStops{}}
			h, err := TrainRLOO(ctx, p, base, rm, prompts, ro, o)
			n := 0.0
			for _, m := range h {
				n += m["objective/stop_branches"]
			}
			if err == nil && n == 0 {
				err = errors.New("rloo: no stop branch in any step")
			}
			return h, err
		},
	}
	for _, retry := range []bool{false, true} {
		for name, run := range algos {
			if retry {
				name += "/retried"
			}
			t.Run(name, func(t *testing.T) {
				o := Optim{LR: 5e-3, Epochs: 2, BatchSize: 4, Steps: 6, Warmup: 0.2, Seed: 12}
				if retry {
					o.GuardEvery, o.GuardRetries = 3, 1
					o.Guard = func(_ context.Context, step int) (bool, error) { return step != 3, nil }
				}
				straight, err := NewPolicy(base, lc, 1)
				if err != nil {
					t.Fatal(err)
				}
				h1, err := run(straight, o)
				if err != nil {
					t.Fatal(err)
				}
				// The same run checkpointing every 3 steps: keep the first.
				var ck *TrainState
				o2 := o
				o2.CheckpointEvery = 3
				o2.Checkpoint = func(ts *TrainState) error {
					if ck == nil {
						ck = ts
					}
					return nil
				}
				again, _ := NewPolicy(base, lc, 1)
				if _, err := run(again, o2); err != nil {
					t.Fatal(err)
				}
				if ck == nil || ck.Step != 3 {
					t.Fatalf("no checkpoint at step 3: %+v", ck)
				}
				resumed, _ := NewPolicy(base, lc, 99) // other initial A: the checkpoint replaces it
				o4 := o
				o4.Resume = ck
				h2, err := run(resumed, o4)
				if err != nil {
					t.Fatal(err)
				}
				if len(h2) != len(h1) {
					t.Fatalf("resumed history has %d steps, straight %d", len(h2), len(h1))
				}
				a, b := straight.Trainable().Params, resumed.Trainable().Params
				if !slices.Equal(a, b) {
					t.Errorf("resumed adapter differs from the straight run's")
				}
				if h1[len(h1)-1]["loss"] != h2[len(h2)-1]["loss"] {
					t.Errorf("last loss %v straight, %v resumed", h1[len(h1)-1]["loss"], h2[len(h2)-1]["loss"])
				}
				if retry && (ck.Retries != 1 || h1[2]["budget/retry_at"] != 3) {
					t.Errorf("checkpoint after the failed check holds %d retries (step 3 metrics %v), want 1", ck.Retries, h1[2])
				}
			})
		}
	}
}

// With LoRA rank 0 the policy is a full copy that trains every weight;
// the base (the reference) is not touched, and DPO raises the margin.
func TestFullFineTunePolicy(t *testing.T) {
	ctx := context.Background()
	base := tinyBase(t, 14)
	before := slices.Clone(base.Data())
	seqs := tinySeqs(16, 15)
	var pairs []Pair
	for i := 0; i+1 < len(seqs); i += 2 {
		pairs = append(pairs, Pair{seqs[i].Prompt, seqs[i].Completion, seqs[i+1].Completion})
	}
	policy, err := NewPolicy(base, train.LoRAConfig{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if policy.LoRA() != nil || len(policy.Trainable().Params) != len(base.Data()) {
		t.Fatalf("rank 0: adapter %v, %d trainable parameters of %d", policy.LoRA(), len(policy.Trainable().Params), len(base.Data()))
	}
	hist, err := TrainDPO(ctx, policy, base, pairs, DPOConfig{Beta: 0.1}, Optim{LR: 1e-3, Epochs: 8, BatchSize: 8, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(base.Data(), before) {
		t.Error("training the full policy changed the base")
	}
	first, last := hist[0]["rewards/margins"], hist[len(hist)-1]["rewards/margins"]
	if !(last > first) {
		t.Errorf("DPO margin %v → %v: not raised", first, last)
	}
}
