package rlhf

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/hone-ai/hone/model/train"
)

// docLoss is the negative log-likelihood (nats) of each sequence of a
// text, read as lmLoss reads it (prompt and completion as one document,
// every token after the first), and how many tokens that is.
type docLoss struct {
	nll, tokens []float64
	// reply is the part of each sequence's NLL on its completion's
	// tokens (the rest is on its prompt's).
	reply []float64
}

// mean is the per-token loss over the whole text, lmLoss's figure.
func (d docLoss) mean() (float64, error) {
	return d.weightedMean(nil)
}

// weightedMean is the per-token loss with sequence i's NLL and tokens
// counted weights[i] times (nil: once each).
func (d docLoss) weightedMean(weights []float64) (float64, error) {
	if weights != nil && len(weights) != len(d.nll) {
		return 0, fmt.Errorf("lm loss: %d weights for %d sequences", len(weights), len(d.nll))
	}
	var nll, n float64
	for i := range d.nll {
		w := 1.0
		if weights != nil {
			w = weights[i]
		}
		nll += w * d.nll[i]
		n += w * d.tokens[i]
	}
	if n == 0 {
		return 0, errors.New("lm loss: no text")
	}
	return nll / n, nil
}

// lmText is a text the LM loss is measured on: sequences (prompt and
// reply as one document), sequence i counting weights[i] times (nil:
// once each), as the lab post-stratifies its budget's validation text.
type lmText struct {
	seqs    []Seq
	weights []float64
}

// loss is m's language-model loss on t: lmLoss, weighted.
func (t lmText) loss(ctx context.Context, m *train.Model) (float64, error) {
	d, err := docNLL(ctx, m, t.seqs)
	if err != nil {
		return 0, err
	}
	return d.weightedMean(t.weights)
}

// docNLL measures docLoss of seqs under m.
func docNLL(ctx context.Context, m *train.Model, seqs []Seq) (docLoss, error) {
	d := docLoss{nll: make([]float64, len(seqs)), tokens: make([]float64, len(seqs)), reply: make([]float64, len(seqs))}
	docs := make([]Seq, 0, len(seqs))
	idx := make([]int, 0, len(seqs))
	for i, s := range seqs {
		n := len(s.Prompt) + len(s.Completion)
		if n < 2 {
			continue
		}
		all := append(append(make([]int, 0, n), s.Prompt...), s.Completion...)
		docs = append(docs, Seq{Prompt: all[:1], Completion: all[1:]})
		idx = append(idx, i)
		d.tokens[i] = float64(n - 1)
	}
	// One pass gives both: position t of a document predicts its token
	// t+1, so sequence i's completion is predicted from position
	// len(Prompt)−1 on.
	err := forEachChunk(ctx, m, docs, true, func(ks []int, b *train.Batch) error {
		lp := m.TokenLogProbs()
		for r, k := range ks {
			i := idx[k]
			from := len(seqs[i].Prompt) - 1
			for t := 0; t < b.T; t++ {
				if b.Targets[r*b.T+t] < 0 {
					continue
				}
				v := -float64(lp[r*b.T+t])
				d.nll[i] += v
				if t >= from {
					d.reply[i] += v
				}
			}
		}
		return nil
	})
	if err != nil {
		return docLoss{}, fmt.Errorf("lm loss: %w", err)
	}
	return d, nil
}

// lmDrift is the relative change of m's language-model loss on text
// (lmText.loss) over ref, a reference's loss on the same text.
func lmDrift(ctx context.Context, m *train.Model, text lmText, ref float64) (float64, error) {
	l, err := text.loss(ctx, m)
	if err != nil {
		return 0, err
	}
	return (l - ref) / ref, nil
}

// drift is the relative change of the LM loss on a text between a
// reference and a policy, with its standard error over the text's
// prompts: the text is a sample of prompts (each with its replies), and
// another sample of prompts would give another figure.
type drift struct {
	Rel, SE float64
}

// relDrift is Σpolicy/Σref − 1 over per-sequence NLLs (the change of the
// mean per-token loss, since both sum the same tokens), with the
// delta-method standard error of that ratio of sums, the sequences
// grouped into clusters by prompt: prompt[i] is sequence i's (0, 1, …).
// With weights (one per prompt; nil: all 1) each prompt's sums count that
// much.
func relDrift(ref, pol []float64, prompt []int, weights []float64) (drift, error) {
	if len(ref) != len(pol) || len(ref) != len(prompt) {
		return drift{}, fmt.Errorf("drift: %d, %d and %d sequences", len(ref), len(pol), len(prompt))
	}
	var r, p []float64 // by prompt
	for i, c := range prompt {
		if c < 0 || (weights != nil && c >= len(weights)) {
			return drift{}, fmt.Errorf("drift: sequence %d: prompt %d has no weight (%d weights)", i, c, len(weights))
		}
		for len(r) <= c {
			r, p = append(r, 0), append(p, 0)
		}
		w := 1.0
		if weights != nil {
			w = weights[c]
		}
		r[c] += w * ref[i]
		p[c] += w * pol[i]
	}
	ratio, se, err := ratioOfSums(p, r)
	if err != nil {
		return drift{}, fmt.Errorf("drift: %w", err)
	}
	return drift{Rel: ratio - 1, SE: se}, nil
}

// ratioOfSums is Σnum/Σden over clusters (the sampled units: prompts,
// each with its replies) with the delta-method standard error of that
// ratio, 0 with fewer than two clusters.
func ratioOfSums(num, den []float64) (ratio, se float64, err error) {
	var N, D float64
	for i := range num {
		N += num[i]
		D += den[i]
	}
	if D <= 0 {
		return 0, 0, errors.New("nothing to divide by")
	}
	ratio = N / D
	n := float64(len(num))
	if n < 2 {
		return ratio, 0, nil
	}
	var ss float64
	for i := range num {
		d := num[i] - ratio*den[i]
		ss += d * d
	}
	return ratio, math.Sqrt(ss*n/(n-1)) / D, nil
}
