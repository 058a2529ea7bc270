package rlhf

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/hone-ai/hone/model/train"
)

// RewardModel scores a completion: the policy's backbone (a share of its
// weights with the reward model's own LoRA adapter; the base frozen) and a
// scalar head on the final hidden state of the last token.
type RewardModel struct {
	Model *train.Model
	W     []float32 // head weights, Dim
	B     []float32 // head bias, 1 value
	// PolicyVersion is the version of the policy whose backbone this
	// reward model was trained on (0 = the base model).
	PolicyVersion int64
}

// Scores returns the reward of each sequence.
func (rm *RewardModel) Scores(ctx context.Context, seqs []Seq) ([]float64, error) {
	h, err := lastHidden(ctx, rm.Model, seqs)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(h))
	for i, hi := range h {
		out[i] = rm.score(hi)
	}
	return out, nil
}

func (rm *RewardModel) score(h []float32) float64 {
	s := float64(rm.B[0])
	for i, v := range h {
		s += float64(rm.W[i]) * float64(v)
	}
	return s
}

// RewardConfig configures reward-model training.
type RewardConfig struct {
	LoRA train.LoRAConfig // Rank 0 = frozen backbone (only the head trains)
	// BalanceThumbs gives approvals and rejections equal shares of the
	// logistic loss (ThumbWeights), so that a rater who approves one reply
	// in seventeen still teaches the head what an approval looks like.
	BalanceThumbs bool
}

// RewardData is what the reward model learns from: pairs (Bradley–Terry)
// and thumbs (logistic loss).
type RewardData struct {
	Pairs  []Pair
	Thumbs []Unpaired
}

// TrainRewardModel trains a reward model on base's backbone (base is not
// changed) and returns it with the metrics of every step.
func TrainRewardModel(ctx context.Context, base *train.Model, data RewardData, cfg RewardConfig, o Optim) (*RewardModel, []Metrics, error) {
	o = o.withDefaults()
	if len(data.Pairs)+len(data.Thumbs) == 0 {
		return nil, nil, fmt.Errorf("reward model: no pairs and no rated examples")
	}
	m := base.Share()
	if cfg.LoRA.Rank > 0 {
		lc := cfg.LoRA
		lc.Seed = o.Seed ^ 0x7e3d
		if _, err := m.AttachLoRA(lc); err != nil {
			return nil, nil, fmt.Errorf("reward model: %w", err)
		}
	}
	D := base.Config.Dim
	hd := newHead(D)
	rm := &RewardModel{Model: m, W: hd.W, B: hd.B}
	gw, gb := hd.grad[:D], hd.grad[D:]
	// One item = one pair or one thumb; batches mix both.
	nP := len(data.Pairs)
	n := nP + len(data.Thumbs)
	wUp, wDown := 1.0, 1.0
	if cfg.BalanceThumbs {
		nUp := 0
		for _, t := range data.Thumbs {
			if t.Up {
				nUp++
			}
		}
		wUp, wDown = ThumbWeights(nUp, len(data.Thumbs)-nUp)
	}
	plan := o.plan(n)
	st := newStepper(m, o, len(plan))
	st.head = hd
	var hist []Metrics
	for step, b := range plan {
		if step < o.StartStep {
			continue
		}
		if err := ctx.Err(); err != nil {
			return rm, hist, err
		}
		var seqs []Seq
		var pairIdx, thumbIdx []int
		var thumbUp []bool
		for _, i := range b {
			if i < nP {
				p := data.Pairs[i]
				pairIdx = append(pairIdx, len(seqs))
				seqs = append(seqs, Seq{p.Prompt, p.Chosen}, Seq{p.Prompt, p.Rejected})
			} else {
				thumbIdx = append(thumbIdx, len(seqs))
				thumbUp = append(thumbUp, data.Thumbs[i-nP].Up)
				seqs = append(seqs, data.Thumbs[i-nP].Seq)
			}
		}
		met := Metrics{}
		// lossGrads computes the batch loss from the last hidden states and
		// returns ∂L/∂h per sequence (the head's gradients accumulate).
		lossGrads := func(hs [][]float32) ([][]float32, error) {
			scores := make([]float64, len(hs))
			for i, h := range hs {
				scores[i] = rm.score(h)
			}
			g := make([]float64, len(seqs))
			total := 0.0
			if len(pairIdx) > 0 {
				c, r := make([]float64, len(pairIdx)), make([]float64, len(pairIdx))
				for j, k := range pairIdx {
					c[j], r[j] = scores[k], scores[k+1]
				}
				l, gc, gr, pm, err := BradleyTerryLoss(c, r)
				if err != nil {
					return nil, err
				}
				w := float64(len(pairIdx)) / float64(len(b))
				for j, k := range pairIdx {
					g[k] += w * gc[j]
					g[k+1] += w * gr[j]
				}
				total += w * l
				met["pairs/loss"], met["pairs/accuracy"], met["pairs/margin"] = l, pm["accuracy"], pm["margin"]
			}
			if len(thumbIdx) > 0 {
				s := make([]float64, len(thumbIdx))
				for j, k := range thumbIdx {
					s[j] = scores[k]
				}
				l, gs, tm, err := weightedLogisticLoss(s, thumbUp, wUp, wDown)
				if err != nil {
					return nil, err
				}
				w := float64(len(thumbIdx)) / float64(len(b))
				for j, k := range thumbIdx {
					g[k] += w * gs[j]
				}
				total += w * l
				met["thumbs/loss"], met["thumbs/accuracy"] = l, tm["accuracy"]
			}
			met["loss"] = total
			dh := make([][]float32, len(seqs))
			for i, h := range hs {
				gb[0] += float32(g[i])
				dh[i] = make([]float32, D)
				for k := range h {
					gw[k] += float32(g[i]) * h[k]
					dh[i][k] = float32(g[i]) * rm.W[k]
				}
			}
			return dh, nil
		}
		if cfg.LoRA.Rank > 0 {
			err := backprop(ctx, m, seqs, false, st.dropoutSeed(step), func(_ []float64, hs [][]float32) ([]float64, [][]float32, error) {
				dh, err := lossGrads(hs)
				return make([]float64, len(hs)), dh, err
			})
			if err != nil {
				return rm, hist, fmt.Errorf("reward model: step %d: %w", step, err)
			}
		} else {
			hs, err := lastHidden(ctx, m, seqs)
			if err != nil {
				return rm, hist, fmt.Errorf("reward model: step %d: %w", step, err)
			}
			if _, err := lossGrads(hs); err != nil {
				return rm, hist, fmt.Errorf("reward model: step %d: %w", step, err)
			}
		}
		if err := st.apply(step, met); err != nil {
			return rm, hist, fmt.Errorf("reward model: step %d: %w", step, err)
		}
		hist = append(hist, met)
		if o.OnStep != nil {
			if err := o.OnStep(step, len(plan), met); err != nil {
				return rm, hist, err
			}
		}
	}
	return rm, hist, nil
}

// RewardEval is a reward model's quality on held-out judgements.
type RewardEval struct {
	PairAccuracy float64  `json:"pair_accuracy"` // chosen scored above rejected
	Pairs        int      `json:"pairs"`
	Margin       float64  `json:"margin"`        // mean chosen − rejected score
	AUC          *float64 `json:"auc,omitempty"` // thumbs: P(score(up) > score(down)); nil with one label only
	ECE          float64  `json:"ece"`           // calibration of σ(score) on thumbs (10 bins)
	Thumbs       int      `json:"thumbs"`
}

// Evaluate measures rm on held-out pairs and thumbs.
func (rm *RewardModel) Evaluate(ctx context.Context, d RewardData) (RewardEval, error) {
	var ev RewardEval
	if len(d.Pairs) > 0 {
		seqs := make([]Seq, 0, 2*len(d.Pairs))
		for _, p := range d.Pairs {
			seqs = append(seqs, Seq{p.Prompt, p.Chosen}, Seq{p.Prompt, p.Rejected})
		}
		s, err := rm.Scores(ctx, seqs)
		if err != nil {
			return ev, err
		}
		for i := 0; i < len(s); i += 2 {
			if s[i] > s[i+1] {
				ev.PairAccuracy++
			}
			ev.Margin += s[i] - s[i+1]
		}
		ev.Pairs = len(d.Pairs)
		ev.PairAccuracy /= float64(ev.Pairs)
		ev.Margin /= float64(ev.Pairs)
	}
	if len(d.Thumbs) > 0 {
		seqs := make([]Seq, len(d.Thumbs))
		up := make([]bool, len(d.Thumbs))
		for i, t := range d.Thumbs {
			seqs[i], up[i] = t.Seq, t.Up
		}
		s, err := rm.Scores(ctx, seqs)
		if err != nil {
			return ev, err
		}
		p := make([]float64, len(s))
		for i, v := range s {
			p[i] = sigmoid(v)
		}
		ev.ECE = ECE(p, up, 10)
		if a := auc(s, up); !math.IsNaN(a) {
			ev.AUC = &a
		}
		ev.Thumbs = len(s)
	}
	return ev, nil
}

// auc is the probability that a random up example outscores a random down
// one (ties count half).
func auc(s []float64, up []bool) float64 {
	type sv struct {
		s  float64
		up bool
	}
	v := make([]sv, len(s))
	for i := range s {
		v[i] = sv{s[i], up[i]}
	}
	sort.Slice(v, func(i, j int) bool { return v[i].s < v[j].s })
	var nUp, nDown, rankSum float64
	for i := 0; i < len(v); {
		j := i
		for j < len(v) && v[j].s == v[i].s {
			j++
		}
		r := float64(i+j+1) / 2 // mean 1-based rank of the tie group
		for k := i; k < j; k++ {
			if v[k].up {
				rankSum += r
				nUp++
			} else {
				nDown++
			}
		}
		i = j
	}
	if nUp == 0 || nDown == 0 {
		return math.NaN()
	}
	return (rankSum - nUp*(nUp+1)/2) / (nUp * nDown)
}

// String is the one-line summary the commands print.
func (e RewardEval) String() string {
	s := "no held-out pairs"
	if e.Pairs > 0 {
		s = fmt.Sprintf("held-out pairwise accuracy %.1f%% (%d pairs), margin %.3f", 100*e.PairAccuracy, e.Pairs, e.Margin)
	}
	if e.AUC != nil {
		s += fmt.Sprintf(", AUC %.3f", *e.AUC)
	}
	if e.Thumbs > 0 {
		s += fmt.Sprintf(", ECE %.3f on %d rated replies", e.ECE, e.Thumbs)
	}
	return s
}
