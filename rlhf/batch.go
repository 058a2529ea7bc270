package rlhf

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/hone-ai/hone/model/train"
)

// Sequences run through the training model (package train) as B×T
// batches: prompt + completion, padded to the longest in the batch, only
// completion tokens counted. A pass over many sequences is cut into
// chunks whose activations fit activationBudget; sequences of similar
// length share a chunk (less padding), and results come back in the
// callers' order.

// activationBudget bounds the memory of one forward pass's activations
// (bytes); see tokenBudget.
const activationBudget = 512 << 20

// tokenBudget is how many batch positions (B×T) fit activationBudget for
// m with sequences of T positions: per position, each block keeps about
// 5·dim + 2·(q + kv widths) + 3·hidden floats plus heads·T attention
// probabilities, and a counted position its vocabulary-wide logits.
func tokenBudget(m *train.Model, T, budget int) int {
	c := m.Config
	qd, kvd := c.NHeads*c.HeadDim, c.NKVHeads*c.HeadDim
	per := c.NLayers*(5*c.Dim+2*qd+2*kvd+3*c.HiddenDim+c.NHeads*T) + 6*c.Dim + c.VocabSize
	if lr := m.LoRA(); lr != nil {
		per += c.NLayers * 7 * lr.Config.Rank
	}
	return max(T, budget/(4*per))
}

// seqLen is the number of positions s takes in a batch (capped at the
// model's context).
func seqLen(m *train.Model, s Seq) int {
	n := len(s.Prompt) + len(s.Completion)
	if c := m.Config.ContextLen; c > 0 && n > c {
		n = c
	}
	return n
}

// chunks splits the indices of seqs into batches whose activations fit
// budget bytes, each holding sequences of similar length (sorted by
// length, ties by index, so the split depends only on the data).
func chunks(m *train.Model, seqs []Seq, budget int) [][]int {
	idx := make([]int, len(seqs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return seqLen(m, seqs[a]) - seqLen(m, seqs[b]) })
	var out [][]int
	var cur []int
	T := 0
	for _, i := range idx {
		L := max(seqLen(m, seqs[i]), 1)
		nT := max(T, L)
		if len(cur) > 0 && (len(cur)+1)*nT > tokenBudget(m, nT, budget) {
			out = append(out, cur)
			cur, nT = nil, L
		}
		cur, T = append(cur, i), nT
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// batchOf builds the batch of seqs[idx…]: completion tokens are the
// targets when targets is set; otherwise nothing is counted (no logits
// are computed: a reward model reads only the last hidden state).
func batchOf(m *train.Model, seqs []Seq, idx []int, targets bool) (*train.Batch, error) {
	ts := make([]train.Sequence, len(idx))
	T := 0
	for k, i := range idx {
		if len(seqs[i].Prompt) == 0 {
			return nil, errors.New("rlhf: a sequence has an empty prompt (start it with BOS)")
		}
		ts[k] = train.Sequence{Prompt: seqs[i].Prompt, Completion: seqs[i].Completion}
		T = max(T, seqLen(m, seqs[i]))
	}
	b, err := train.CompletionBatch(ts, T)
	if err != nil {
		return nil, err
	}
	if !targets {
		for i := range b.Targets {
			b.Targets[i] = -1
		}
	}
	return b, nil
}

// forEachChunk runs m forward on every chunk of seqs and calls fn with
// the chunk's indices after each pass (m's outputs then describe it).
func forEachChunk(ctx context.Context, m *train.Model, seqs []Seq, targets bool, fn func(idx []int, b *train.Batch) error) error {
	for _, idx := range chunks(m, seqs, activationBudget) {
		b, err := batchOf(m, seqs, idx, targets)
		if err != nil {
			return err
		}
		if _, err := m.Forward(ctx, b); err != nil {
			return err
		}
		if err := fn(idx, b); err != nil {
			return err
		}
	}
	return nil
}

// seqLogProbs returns log p(completion | prompt) of each sequence under m.
func seqLogProbs(ctx context.Context, m *train.Model, seqs []Seq) ([]float64, error) {
	out := make([]float64, len(seqs))
	err := forEachChunk(ctx, m, seqs, true, func(idx []int, _ *train.Batch) error {
		for k, lp := range m.SeqLogProbs() {
			out[idx[k]] = float64(lp)
		}
		return nil
	})
	return out, err
}

// lastHidden returns the final hidden state at each sequence's last token.
func lastHidden(ctx context.Context, m *train.Model, seqs []Seq) ([][]float32, error) {
	out := make([][]float32, len(seqs))
	d := m.Config.Dim
	err := forEachChunk(ctx, m, seqs, false, func(idx []int, _ *train.Batch) error {
		h := m.LastHidden()
		for k, i := range idx {
			out[i] = h[k*d : (k+1)*d : (k+1)*d]
		}
		return nil
	})
	return out, err
}

// lmLoss is the language-model loss of held-out text: the mean per-token
// negative log-likelihood of every token of each sequence (prompt and
// completion, as one document) after its first. The prompt counts:
// a language model's loss on a text is over all of it, and that is what
// shows damage to the model's language rather than only the shift of its
// replies that the KL already measures.
func lmLoss(ctx context.Context, m *train.Model, seqs []Seq) (float64, error) {
	return lmText{seqs: seqs}.loss(ctx, m)
}

// meanSeqKL is the mean over seqs (sampled from policy) of the sequence
// KL Σ_t KL(policy(·|ctx_t) ‖ ref(·|ctx_t)), exact per token, in nats.
func meanSeqKL(ctx context.Context, policy, ref *train.Model, seqs []Seq) (float64, error) {
	if len(seqs) == 0 {
		return 0, nil
	}
	var total float64
	err := forEachChunk(ctx, policy, seqs, true, func(_ []int, b *train.Batch) error {
		if _, err := ref.Forward(ctx, b); err != nil {
			return err
		}
		kl, err := policy.SeqKL(ref)
		if err != nil {
			return err
		}
		for _, v := range kl {
			total += float64(v)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return total / float64(len(seqs)), nil
}

// seqGrad turns the sequences' log-probabilities and last hidden states
// into the loss's derivatives: coefs[i] = ∂L/∂logp_i, dHidden nil or
// ∂L/∂h_i.
type seqGrad func(logps []float64, hidden [][]float32) (coefs []float64, dHidden [][]float32, err error)

// backprop adds to m's trainable gradients the gradient of a loss that
// couples the sequences (DPO pairs, RLOO groups, KTO's batch): forward,
// fn on every log-probability and hidden state, backward. A batch within
// the token budget takes one forward; a larger one is cut into chunks,
// run forward once for fn and again, chunk by chunk, for the backward
// (the same chunks, so the same numbers). wantLP false counts no tokens
// (fn gets zero log-probabilities: a reward model's loss reads hidden
// states only). dropoutSeed fixes LoRA dropout masks for both passes.
func backprop(ctx context.Context, m *train.Model, seqs []Seq, wantLP bool, dropoutSeed uint64, fn seqGrad) error {
	return backpropWithin(ctx, m, seqs, wantLP, dropoutSeed, activationBudget, fn)
}

// backpropWithin is backprop with activations bounded by budget bytes.
func backpropWithin(ctx context.Context, m *train.Model, seqs []Seq, wantLP bool, dropoutSeed uint64, budget int, fn seqGrad) error {
	if len(seqs) == 0 {
		return errors.New("rlhf: backprop: no sequences")
	}
	m.SetTraining(true)
	defer m.SetTraining(false)
	m.SetDropoutSeed(dropoutSeed)
	cs := chunks(m, seqs, budget)
	bs := make([]*train.Batch, len(cs))
	for k, idx := range cs {
		var err error
		if bs[k], err = batchOf(m, seqs, idx, wantLP); err != nil {
			return err
		}
	}
	d := m.Config.Dim
	logps := make([]float64, len(seqs))
	hidden := make([][]float32, len(seqs))
	collect := func(idx []int) {
		h := m.LastHidden()
		lp := m.SeqLogProbs()
		for k, i := range idx {
			logps[i] = float64(lp[k])
			hidden[i] = h[k*d : (k+1)*d : (k+1)*d]
		}
	}
	for k, idx := range cs {
		if _, err := m.Forward(ctx, bs[k]); err != nil {
			return err
		}
		collect(idx)
	}
	coefs, dh, err := fn(logps, hidden)
	if err != nil {
		return err
	}
	if len(coefs) != len(seqs) || (dh != nil && len(dh) != len(seqs)) {
		return fmt.Errorf("rlhf: backprop: %d coefficients for %d sequences", len(coefs), len(seqs))
	}
	for k, idx := range cs {
		if len(cs) > 1 {
			if _, err := m.Forward(ctx, bs[k]); err != nil {
				return err
			}
		}
		var cot train.Cotangent
		if wantLP {
			cot.SeqLogp = make([]float32, len(idx))
			for j, i := range idx {
				cot.SeqLogp[j] = float32(coefs[i])
			}
		}
		if dh != nil {
			cot.Hidden = make([]float32, len(idx)*d)
			for j, i := range idx {
				if dh[i] != nil {
					copy(cot.Hidden[j*d:(j+1)*d], dh[i])
				}
			}
		}
		if err := m.Backward(ctx, cot); err != nil {
			return err
		}
	}
	return nil
}
