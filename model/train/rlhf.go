package train

import (
	"context"
	"errors"
	"fmt"
)

// Sequence is a prompt and the completion scored given it.
type Sequence struct {
	Prompt, Completion []int
}

// LMBatch builds a next-token batch from token sequences: sequence s
// contributes Tokens = seq[:len-1], Targets = seq[1:], truncated to T
// positions and padded (token 0, target -1). T = 0 takes the longest.
func LMBatch(seqs [][]int, T int) (*Batch, error) {
	if len(seqs) == 0 {
		return nil, errors.New("train: lm batch: no sequences")
	}
	if T <= 0 {
		for _, s := range seqs {
			T = max(T, len(s)-1)
		}
	}
	if T <= 0 {
		return nil, errors.New("train: lm batch: sequences need at least two tokens")
	}
	b := &Batch{B: len(seqs), T: T, Tokens: make([]int, len(seqs)*T), Targets: make([]int, len(seqs)*T), Lens: make([]int, len(seqs))}
	for s, seq := range seqs {
		if len(seq) < 2 {
			return nil, fmt.Errorf("train: lm batch: sequence %d has %d tokens, need 2", s, len(seq))
		}
		n := min(len(seq)-1, T)
		b.Lens[s] = n
		for i := 0; i < T; i++ {
			j := s*T + i
			if i < n {
				b.Tokens[j], b.Targets[j] = seq[i], seq[i+1]
			} else {
				b.Targets[j] = -1
			}
		}
	}
	return b, nil
}

// CompletionBatch builds a batch where only completion tokens count: each
// sequence is Prompt+Completion, and the target at position i is token
// i+1 when that token belongs to the completion. Longer than T, the prompt
// loses its oldest tokens first, then the completion its last. T = 0 takes
// the longest sequence.
func CompletionBatch(seqs []Sequence, T int) (*Batch, error) {
	if len(seqs) == 0 {
		return nil, errors.New("train: completion batch: no sequences")
	}
	if T <= 0 {
		for _, s := range seqs {
			T = max(T, len(s.Prompt)+len(s.Completion))
		}
	}
	b := &Batch{B: len(seqs), T: T, Tokens: make([]int, len(seqs)*T), Targets: make([]int, len(seqs)*T), Lens: make([]int, len(seqs))}
	for s, sq := range seqs {
		if len(sq.Prompt) == 0 {
			return nil, fmt.Errorf("train: completion batch: sequence %d has an empty prompt (start it with BOS)", s)
		}
		p, c := sq.Prompt, sq.Completion
		if len(c) > T-1 {
			c = c[:T-1]
		}
		if len(p)+len(c) > T {
			p = p[len(p)+len(c)-T:]
		}
		L := len(p) + len(c)
		b.Lens[s] = L
		for i := 0; i < T; i++ {
			j := s*T + i
			b.Targets[j] = -1
			switch {
			case i < len(p):
				b.Tokens[j] = p[i]
			case i < L:
				b.Tokens[j] = c[i-len(p)]
			}
			if i+1 >= len(p) && i+1 < L {
				b.Targets[j] = c[i+1-len(p)]
			}
		}
	}
	return b, nil
}

// SequenceLogProbs runs Forward on a completion batch of seqs (T: the
// longest) and returns log p(Completion | Prompt) per sequence. The
// activations stay for BackwardSeq.
func (m *Model) SequenceLogProbs(ctx context.Context, seqs []Sequence) ([]float32, error) {
	b, err := CompletionBatch(seqs, 0)
	if err != nil {
		return nil, err
	}
	if _, err := m.Forward(ctx, b); err != nil {
		return nil, err
	}
	return m.SeqLogProbs(), nil
}

// BackwardSeq backpropagates dLogp[b] = ∂objective/∂(log-probability of
// sequence b) from the last Forward (see SequenceLogProbs).
func (m *Model) BackwardSeq(ctx context.Context, dLogp []float32) error {
	return m.Backward(ctx, Cotangent{SeqLogp: dLogp})
}

// TokenLogProbs returns (a copy of) the log-probability of the target at
// each of the last Forward's B×T positions, 0 where there is no target.
func (m *Model) TokenLogProbs() []float32 {
	if m.a == nil || m.batch == nil {
		return nil
	}
	return append([]float32(nil), m.a.logp[:m.batch.B*m.batch.T]...)
}

// SeqLogProbs returns each sequence's sum of target log-probabilities from
// the last Forward.
func (m *Model) SeqLogProbs() []float32 {
	if m.a == nil || m.batch == nil {
		return nil
	}
	b := m.batch
	out := make([]float32, b.B)
	for i, t := range b.Targets {
		if t >= 0 {
			out[i/b.T] += m.a.logp[i]
		}
	}
	return out
}

// LastHidden returns the final hidden state (after the output norm: the
// classifier's input) at each sequence's last real position, B×Dim, from
// the last Forward — the input of a reward head. Its gradient goes in
// Cotangent.Hidden.
func (m *Model) LastHidden() []float32 {
	if m.a == nil || m.batch == nil {
		return nil
	}
	b, d := m.batch, m.Config.Dim
	out := make([]float32, b.B*d)
	for s := 0; s < b.B; s++ {
		i := b.last(s)
		copy(out[s*d:(s+1)*d], m.a.xn[i*d:(i+1)*d])
	}
	return out
}

// TokenKL returns the exact KL(m‖ref) = Σ_v p(v)·(log p(v) − log q(v)) of
// the next-token distributions at every position with a target (B×T, 0
// elsewhere), where ref's last Forward ran on the same batch. Call it
// before Backward, which consumes m's logits.
func (m *Model) TokenKL(ref *Model) ([]float32, error) {
	if !m.fwdOK {
		return nil, errors.New("train: token kl: no forward pass (or already consumed by Backward)")
	}
	if err := m.sameBatch(ref); err != nil {
		return nil, err
	}
	V := m.Config.VocabSize
	a, ra := m.a, ref.a
	out := make([]float32, m.batch.B*m.batch.T)
	parallelFor(len(a.sel), 4, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row, rrow := a.logit[r*V:(r+1)*V], ra.logit[r*V:(r+1)*V]
			var kl float64
			for i, p := range row {
				if p > 0 {
					kl += float64(p) * float64(safeLog(p)-safeLog(rrow[i]))
				}
			}
			out[a.sel[r]] = float32(kl)
		}
	})
	return out, nil
}

// SeqKL sums TokenKL over each sequence.
func (m *Model) SeqKL(ref *Model) ([]float32, error) {
	tk, err := m.TokenKL(ref)
	if err != nil {
		return nil, err
	}
	out := make([]float32, m.batch.B)
	for i, v := range tk {
		out[i/m.batch.T] += v
	}
	return out, nil
}

// StepFLOPs counts the floating-point operations of one Forward plus
// Backward over B×T tokens with M target positions, as this package
// computes them (matrix products only: causal attention is computed as
// full T×T products, and frozen bases skip their weight gradients).
func (m *Model) StepFLOPs(B, T, M int) float64 {
	c := m.Config
	n := float64(B * T)
	d, h := float64(c.Dim), float64(c.HiddenDim)
	qd, kvd := float64(c.NHeads*c.HeadDim), float64(c.NKVHeads*c.HeadDim)
	perTok := d*qd + 2*d*kvd + qd*d + 3*d*h // multiply-adds of the block's linears
	passes := 2.0                           // backward input gradients
	if m.trainBase {
		passes = 3 // plus weight gradients
	}
	f := float64(c.NLayers) * 2 * n * perTok * passes
	f += 2 * float64(M) * float64(c.VocabSize) * d * passes
	f += float64(c.NLayers) * float64(B*c.NHeads) * float64(T*T) * float64(c.HeadDim) * 2 * 6 // 2 products forward, 4 backward
	if m.loraActive() {
		r := float64(m.lora.Config.Rank)
		for _, lt := range m.lora.Layers[0] {
			if lt != nil {
				f += float64(c.NLayers) * 6 * n * r * float64(lt.In+lt.Out)
			}
		}
	}
	return f
}

// MaskedBatch builds a batch from token sequences with a mask saying which
// tokens are learned: the target at position i is seq[i+1] when
// mask[i+1] is set (supervised fine-tuning: assistant tokens only).
// Sequences longer than T+1 are cut at T+1 tokens; T = 0 takes the longest.
func MaskedBatch(seqs [][]int, masks [][]bool, T int) (*Batch, error) {
	if len(seqs) == 0 || len(seqs) != len(masks) {
		return nil, fmt.Errorf("train: masked batch: %d sequences, %d masks", len(seqs), len(masks))
	}
	if T <= 0 {
		for _, s := range seqs {
			T = max(T, len(s)-1)
		}
	}
	if T <= 0 {
		return nil, errors.New("train: masked batch: sequences need at least two tokens")
	}
	b := &Batch{B: len(seqs), T: T, Tokens: make([]int, len(seqs)*T), Targets: make([]int, len(seqs)*T), Lens: make([]int, len(seqs))}
	for s, seq := range seqs {
		if len(masks[s]) != len(seq) {
			return nil, fmt.Errorf("train: masked batch: sequence %d has %d tokens and %d mask values", s, len(seq), len(masks[s]))
		}
		if len(seq) < 2 {
			return nil, fmt.Errorf("train: masked batch: sequence %d has %d tokens, need 2", s, len(seq))
		}
		n := min(len(seq)-1, T)
		b.Lens[s] = n
		for i := 0; i < T; i++ {
			j := s*T + i
			b.Targets[j] = -1
			if i < n {
				b.Tokens[j] = seq[i]
				if masks[s][i+1] {
					b.Targets[j] = seq[i+1]
				}
			}
		}
	}
	return b, nil
}
