package rlhf

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
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

// scoreCache is a scorer that scores each distinct sequence once: DPO's
// pairs and its anchor judge the cuts of much the same replies.
type scoreCache struct {
	rm   scorer
	seen map[string]float64
}

func newScoreCache(rm scorer) *scoreCache {
	return &scoreCache{rm: rm, seen: map[string]float64{}}
}

// seqKey is s's tokens as a map key, the prompt's apart from the
// completion's.
func seqKey(s Seq) string {
	b := make([]byte, 0, 4*(len(s.Prompt)+len(s.Completion)+1))
	for _, t := range s.Prompt {
		b = binary.AppendUvarint(b, uint64(t)+1)
	}
	b = append(b, 0)
	for _, t := range s.Completion {
		b = binary.AppendUvarint(b, uint64(t)+1)
	}
	return string(b)
}

func (c *scoreCache) Scores(ctx context.Context, seqs []Seq) ([]float64, error) {
	keys := make([]string, len(seqs))
	var miss []Seq
	want := map[string]bool{}
	for i, s := range seqs {
		keys[i] = seqKey(s)
		if _, ok := c.seen[keys[i]]; !ok && !want[keys[i]] {
			want[keys[i]] = true
			miss = append(miss, s)
		}
	}
	if len(miss) > 0 {
		sc, err := c.rm.Scores(ctx, miss)
		if err != nil {
			return nil, err
		}
		for i, s := range miss {
			c.seen[seqKey(s)] = sc[i]
		}
	}
	out := make([]float64, len(seqs))
	for i, k := range keys {
		out[i] = c.seen[k]
	}
	return out, nil
}

// judgedCut is a rated reply's cut after one of its sentences, with the
// reward model's probability of approval of the cut and of the reply.
type judgedCut struct {
	whole      Seq
	reply      int  // whole is replies[reply]
	at         int  // the cut keeps whole.Completion[:at+1], then stop
	stop       int  // the stop token whole ended with, or stop[0] when it was cut off
	cutOff     bool // whole was cut off at its length limit (no stop token)
	pCut, pAll float64
}

// seq is the cut as a reply: the sentences it keeps and the stop token.
func (c judgedCut) seq() Seq {
	w := c.whole.Completion
	return Seq{Prompt: c.whole.Prompt, Completion: append(slices.Clone(w[:c.at+1]), c.stop)}
}

// judged is the cut as the reward model judges it: as its rated replies
// were, with the stop token where they ended on one and without where
// they were cut off. A reward model trained on replies cut off at the
// length limit has seldom seen one end on the stop token, and what it
// makes of one is a guess of its own: on stories260K's period rater,
// seed 2, the plain reward model told 908 of the 984 cuts ended on it
// apart from their stories, the balanced one 75; judged as rated, 874.
func (c judgedCut) judged() Seq {
	if c.cutOff {
		return Seq{Prompt: c.whole.Prompt, Completion: c.whole.Completion[:c.at+1]}
	}
	return c.seq()
}

// judgeCuts cuts each reply in replies that ended on a token in stop
// after each of its sentences but the last, and with cutOff each reply
// cut off at its length limit (no stop token) after each of its
// sentences that more followed, ended with stop[0]; it has rm score the
// cuts (each as judged) and the replies cut: a reply's cuts in order, the replies in
// theirs. A cut ends after a token whose text holds '.', '?' or '!' when
// the next token's does not.
func judgeCuts(ctx context.Context, rm scorer, tok decoder, replies []Seq, stop []int, cutOff bool) ([]judgedCut, error) {
	var cuts []judgedCut
	var cutSeqs []Seq
	for i, r := range replies {
		c := r.Completion
		if len(c) < 3 || len(stop) == 0 {
			continue
		}
		body, end, last, off := c[:len(c)-1], c[len(c)-1], len(c)-3, false
		if !slices.Contains(stop, end) {
			if !cutOff {
				continue
			}
			body, end, last, off = c, stop[0], len(c)-2, true
		}
		ends := make([]bool, len(body)) // each token decoded once
		for k, id := range body {
			ends[k] = strings.ContainsAny(tok.Decode([]int{id}), ".?!")
		}
		for k := 0; k <= last; k++ {
			if ends[k] && !ends[k+1] {
				cuts = append(cuts, judgedCut{whole: r, reply: i, at: k, stop: end, cutOff: off})
				cutSeqs = append(cutSeqs, cuts[len(cuts)-1].judged())
			}
		}
	}
	if len(cuts) == 0 {
		return nil, nil
	}
	sc, err := rm.Scores(ctx, cutSeqs)
	if err != nil {
		return nil, fmt.Errorf("cuts: %w", err)
	}
	// The replies that were cut, scored once each.
	var whole []Seq
	at := make(map[int]int)
	for _, c := range cuts {
		if _, ok := at[c.reply]; !ok {
			at[c.reply] = len(whole)
			whole = append(whole, c.whole)
		}
	}
	sw, err := rm.Scores(ctx, whole)
	if err != nil {
		return nil, fmt.Errorf("cuts: %w", err)
	}
	for j := range cuts {
		cuts[j].pCut, cuts[j].pAll = sigmoid(sc[j]), sigmoid(sw[at[cuts[j].reply]])
	}
	return cuts, nil
}

// cutPairs returns the pairs between each reply in replies and its cuts
// (judgeCuts) that rm judges apart by more than margin (probability of
// approval), the better of the two chosen.
func cutPairs(ctx context.Context, rm scorer, tok decoder, replies []Seq, stop []int, cutOff bool, margin float64) ([]Pair, error) {
	cuts, err := judgeCuts(ctx, rm, tok, replies, stop, cutOff)
	if err != nil {
		return nil, err
	}
	var out []Pair
	for _, c := range cuts {
		cut, w := c.seq(), c.whole
		switch {
		case c.pCut-c.pAll > margin:
			out = append(out, Pair{Prompt: cut.Prompt, Chosen: cut.Completion, Rejected: w.Completion})
		case c.pAll-c.pCut > margin:
			out = append(out, Pair{Prompt: cut.Prompt, Chosen: w.Completion, Rejected: cut.Completion})
		}
	}
	return out, nil
}

// cutAnchors returns Optim.AnchorAt for the anchor's replies: at each
// cut of a reply (judgeCuts), the decision to stop there or go on — the
// position that predicts the token after the cut — goes free (−1) when
// rm tells the cut and the reply apart by more than margin, and is held
// (+1) when it does not: there the rater does not care whether the reply
// goes on, and a policy that stopped more often anyway would spend LM
// loss on the reference's replies for nothing. Every other position
// follows AnchorMinProb.
func cutAnchors(ctx context.Context, rm scorer, tok decoder, replies []Seq, stop []int, cutOff bool, margin float64) ([][]int8, error) {
	cuts, err := judgeCuts(ctx, rm, tok, replies, stop, cutOff)
	if err != nil {
		return nil, err
	}
	out := make([][]int8, len(replies))
	for _, c := range cuts {
		if out[c.reply] == nil {
			out[c.reply] = make([]int8, len(replies[c.reply].Completion))
		}
		v := int8(1)
		if math.Abs(c.pCut-c.pAll) > margin {
			v = -1
		}
		out[c.reply][c.at+1] = v
	}
	return out, nil
}

// countAnchorAt counts the positions AnchorAt frees and holds.
func countAnchorAt(at [][]int8) (freed, held int) {
	for _, a := range at {
		for _, v := range a {
			switch {
			case v < 0:
				freed++
			case v > 0:
				held++
			}
		}
	}
	return freed, held
}

// unpairedSeqs is the sequences of xs.
func unpairedSeqs(xs []Unpaired) []Seq {
	out := make([]Seq, len(xs))
	for i, x := range xs {
		out[i] = x.Seq
	}
	return out
}

// stopBranches returns, for each sampled reply in samples (one that ended
// on a token in stop), its decisions to stop after one of its sentences
// but the last (judgeCuts), as pairs of branches from the same context —
// the prompt and the reply up to the cut: the stop token the reply ended
// with (stops), and what the reply said from there on (tails) — with the
// reward model's advantage of the first over the second: its probability
// of approval of the cut less that of the whole reply. RLOO follows its
// own samples' whole-reply advantages; these score the branch each reply
// passed by at each sentence end against the one it took, as a DPO pair
// of a cut and its reply does, so a policy learns where to stop from the
// samples that went on, and stopping rises against what followed rather
// than against every other token.
func stopBranches(ctx context.Context, rm scorer, tok decoder, samples []Seq, stop []int, cutOff bool) (stops, tails []Seq, adv []float64, err error) {
	cuts, err := judgeCuts(ctx, rm, tok, samples, stop, cutOff)
	if err != nil {
		return nil, nil, nil, err
	}
	stops, tails, adv = make([]Seq, len(cuts)), make([]Seq, len(cuts)), make([]float64, len(cuts))
	for i, c := range cuts {
		w := c.whole.Completion
		p := append(slices.Clone(c.whole.Prompt), w[:c.at+1]...)
		stops[i] = Seq{Prompt: p, Completion: []int{c.stop}}
		tails[i] = Seq{Prompt: p, Completion: slices.Clone(w[c.at+1:])}
		adv[i] = c.pCut - c.pAll
	}
	return stops, tails, adv, nil
}
