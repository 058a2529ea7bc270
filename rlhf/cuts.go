package rlhf

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Sentence cuts. A rated reply cut after one of its sentences, and ended
// there with the stop token it ended with, is a reply the policy could
// have given by stopping at that point. The reward model, trained on the
// ratings, scores every cut; where it tells a cut and its whole reply
// apart by at least a margin in its probability of approval, the two make
// a preference pair, the cut chosen or rejected. Such a pair differs at a
// single decision, stop here or go on, and nothing else, so DPO learns
// where a reply should end from it without pushing down the sentences the
// two share; and it reaches the prompts whose two rated replies were
// judged alike (the replies to a definition a length rater rejects both
// of), which give no pair of their own. It is step-level preference data
// (Step-DPO, Lai et al. 2024) with the reward model as the judge of the
// steps.

// decoder turns token ids back into text.
type decoder interface {
	Decode(ids []int) string
}

// scorer is a reward model: a score per sequence, σ(score) its
// probability of approval.
type scorer interface {
	Scores(ctx context.Context, seqs []Seq) ([]float64, error)
}

// cutPairs returns the pairs between each reply in replies (one that
// ended on a token in stop) and its cuts that rm judges apart by more
// than margin (probability of approval), a reply's cuts in order, the replies
// in theirs. A cut ends after a token whose text holds '.', '?' or '!'
// when the next token's does not, before the reply's last sentence.
func cutPairs(ctx context.Context, rm scorer, tok decoder, replies []Seq, stop []int, margin float64) ([]Pair, error) {
	var cuts, whole []Seq
	var from []int // cuts[j] is a cut of whole[from[j]]
	for _, r := range replies {
		c := r.Completion
		if len(c) < 3 || !slices.Contains(stop, c[len(c)-1]) {
			continue
		}
		ends := make([]bool, len(c)-1) // each token decoded once
		for k, id := range c[:len(c)-1] {
			ends[k] = strings.ContainsAny(tok.Decode([]int{id}), ".?!")
		}
		w := len(whole)
		whole = append(whole, r)
		for k := 0; k < len(c)-2; k++ {
			if ends[k] && !ends[k+1] {
				cut := append(slices.Clone(c[:k+1]), c[len(c)-1])
				cuts = append(cuts, Seq{Prompt: r.Prompt, Completion: cut})
				from = append(from, w)
			}
		}
	}
	if len(cuts) == 0 {
		return nil, nil
	}
	sc, err := rm.Scores(ctx, cuts)
	if err != nil {
		return nil, fmt.Errorf("cuts: %w", err)
	}
	sw, err := rm.Scores(ctx, whole)
	if err != nil {
		return nil, fmt.Errorf("cuts: %w", err)
	}
	var out []Pair
	for j, cut := range cuts {
		w := whole[from[j]]
		pc, pw := sigmoid(sc[j]), sigmoid(sw[from[j]])
		switch {
		case pc-pw > margin:
			out = append(out, Pair{Prompt: cut.Prompt, Chosen: cut.Completion, Rejected: w.Completion})
		case pw-pc > margin:
			out = append(out, Pair{Prompt: cut.Prompt, Chosen: w.Completion, Rejected: cut.Completion})
		}
	}
	return out, nil
}

// unpairedSeqs is the sequences of xs.
func unpairedSeqs(xs []Unpaired) []Seq {
	out := make([]Seq, len(xs))
	for i, x := range xs {
		out[i] = x.Seq
	}
	return out
}
