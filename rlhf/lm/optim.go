package lm

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
)

// AdamW is Adam with decoupled weight decay and global-norm clipping.
type AdamW struct {
	LR, Beta1, Beta2, Eps, WeightDecay, ClipNorm float64
	Step                                         int
	M, V                                         map[string][]float32
}

// NewAdamW returns an optimiser with the usual defaults for lr.
func NewAdamW(lr float64) *AdamW {
	return &AdamW{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, ClipNorm: 1, M: map[string][]float32{}, V: map[string][]float32{}}
}

// Update applies one step to ts (weights updated in place) at learning
// rate lr·lrScale and returns the gradient norm before clipping.
func (o *AdamW) Update(ts []Tensor, lrScale float64) float64 {
	var ss float64
	for _, t := range ts {
		for _, g := range t.G {
			ss += float64(g) * float64(g)
		}
	}
	norm := math.Sqrt(ss)
	clip := 1.0
	if o.ClipNorm > 0 && norm > o.ClipNorm {
		clip = o.ClipNorm / norm
	}
	o.Step++
	b1c := 1 - math.Pow(o.Beta1, float64(o.Step))
	b2c := 1 - math.Pow(o.Beta2, float64(o.Step))
	lr := o.LR * lrScale
	for _, t := range ts {
		m, v := o.M[t.Name], o.V[t.Name]
		if m == nil {
			m, v = make([]float32, len(t.W)), make([]float32, len(t.W))
			o.M[t.Name], o.V[t.Name] = m, v
		}
		for i, g0 := range t.G {
			g := float64(g0) * clip
			mi := o.Beta1*float64(m[i]) + (1-o.Beta1)*g
			vi := o.Beta2*float64(v[i]) + (1-o.Beta2)*g*g
			m[i], v[i] = float32(mi), float32(vi)
			w := float64(t.W[i])
			w -= lr * (mi/b1c/(math.Sqrt(vi/b2c)+o.Eps) + o.WeightDecay*w)
			t.W[i] = float32(w)
		}
	}
	return norm
}

// Sampling configures Generate.
type Sampling struct {
	Temperature float64 // 0 = greedy
	TopK        int     // 0 = whole vocabulary
	MaxTokens   int
	Stop        []int // tokens that end the reply (not included)
}

// Session decodes one token at a time with a KV cache.
type Session struct {
	m      *Model
	kc, vc [][]float32
	pos    int
}

// NewSession returns an empty decoding session on m's current weights.
func (m *Model) NewSession() *Session {
	s := &Session{m: m, kc: make([][]float32, m.Cfg.Layers), vc: make([][]float32, m.Cfg.Layers)}
	for i := range s.kc {
		s.kc[i] = make([]float32, m.Cfg.SeqLen*m.Cfg.KVDim())
		s.vc[i] = make([]float32, m.Cfg.SeqLen*m.Cfg.KVDim())
	}
	return s
}

// Step feeds one token and returns the logits of the next.
func (s *Session) Step(tok int) ([]float32, error) {
	m, c := s.m, s.m.Cfg
	if s.pos >= c.SeqLen {
		return nil, fmt.Errorf("lm: context of %d tokens is full", c.SeqLen)
	}
	if tok < 0 || tok >= c.Vocab {
		return nil, fmt.Errorf("lm: token %d out of vocabulary %d", tok, c.Vocab)
	}
	D, H, KV, hs := c.Dim, c.Hidden, c.KVDim(), c.HeadDim()
	p := m.eff
	x := append([]float32(nil), p.Embed[tok*D:(tok+1)*D]...)
	xn, r := make([]float32, D), make([]float32, 1)
	q, ao, tmp := make([]float32, D), make([]float32, D), make([]float32, D)
	a, b := make([]float32, H), make([]float32, H)
	att := make([]float32, s.pos+1)
	group := c.Heads / c.KVHeads
	scale := float32(1 / math.Sqrt(float64(hs)))
	pos := s.pos
	for li := range p.Layers {
		L := &p.Layers[li]
		rmsNorm(xn, x, L.AttnNorm, 1, D, c.NormEps, r)
		k, v := s.kc[li][pos*KV:(pos+1)*KV], s.vc[li][pos*KV:(pos+1)*KV]
		linear(q, xn, L.W[Q], 1, D, D)
		linear(k, xn, L.W[K], 1, D, KV)
		linear(v, xn, L.W[V], 1, D, KV)
		m.rope.rope(q, pos, false)
		m.rope.rope(k, pos, false)
		for i := range ao {
			ao[i] = 0
		}
		for h := 0; h < c.Heads; h++ {
			g := h / group
			qh := q[h*hs : (h+1)*hs]
			mx := float32(math.Inf(-1))
			for u := 0; u <= pos; u++ {
				ku := s.kc[li][u*KV+g*hs : u*KV+(g+1)*hs]
				var d float32
				for i := range qh {
					d += qh[i] * ku[i]
				}
				att[u] = d * scale
				if att[u] > mx {
					mx = att[u]
				}
			}
			var sum float32
			for u := 0; u <= pos; u++ {
				att[u] = exp32(att[u] - mx)
				sum += att[u]
			}
			out := ao[h*hs : (h+1)*hs]
			for u := 0; u <= pos; u++ {
				w := att[u] / sum
				vu := s.vc[li][u*KV+g*hs : u*KV+(g+1)*hs]
				for i := range out {
					out[i] += w * vu[i]
				}
			}
		}
		linear(tmp, ao, L.W[O], 1, D, D)
		for i := range x {
			x[i] += tmp[i]
		}
		rmsNorm(xn, x, L.FFNNorm, 1, D, c.NormEps, r)
		linear(a, xn, L.W[Gate], 1, D, H)
		linear(b, xn, L.W[Up], 1, D, H)
		for i := range a {
			a[i] = silu(a[i]) * b[i]
		}
		linear(tmp, a, L.W[Down], 1, H, D)
		for i := range x {
			x[i] += tmp[i]
		}
	}
	rmsNorm(xn, x, p.FinalNorm, 1, D, c.NormEps, r)
	logits := make([]float32, c.Vocab)
	linear(logits, xn, p.Cls, 1, D, c.Vocab)
	s.pos++
	return logits, nil
}

// Generate samples a continuation of prompt (which must start with BOS if
// the model expects one) and returns the new tokens.
func (m *Model) Generate(ctx context.Context, prompt []int, sc Sampling, rng *rand.Rand) ([]int, error) {
	if len(prompt) == 0 {
		return nil, fmt.Errorf("lm: empty prompt")
	}
	s := m.NewSession()
	var logits []float32
	var err error
	for _, t := range prompt {
		if logits, err = s.Step(t); err != nil {
			return nil, err
		}
	}
	var out []int
	probs := make([]float64, m.Cfg.Vocab)
	for len(out) < sc.MaxTokens && s.pos < m.Cfg.SeqLen {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		tok := sample(logits, sc, rng, probs)
		for _, st := range sc.Stop {
			if tok == st {
				return out, nil
			}
		}
		out = append(out, tok)
		if logits, err = s.Step(tok); err != nil {
			return out, err
		}
	}
	return out, nil
}

func sample(logits []float32, sc Sampling, rng *rand.Rand, probs []float64) int {
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	if sc.Temperature <= 0 {
		return best
	}
	thr := math.Inf(-1)
	if sc.TopK > 0 && sc.TopK < len(logits) {
		// k-th largest logit as threshold
		top := make([]float32, 0, sc.TopK)
		for _, v := range logits {
			if len(top) < sc.TopK {
				top = append(top, v)
				continue
			}
			mi := 0
			for j := range top {
				if top[j] < top[mi] {
					mi = j
				}
			}
			if v > top[mi] {
				top[mi] = v
			}
		}
		thr = math.Inf(1)
		for _, v := range top {
			thr = math.Min(thr, float64(v))
		}
	}
	var sum float64
	mx := float64(logits[best])
	for i, v := range logits {
		if float64(v) < thr {
			probs[i] = 0
			continue
		}
		probs[i] = math.Exp((float64(v) - mx) / sc.Temperature)
		sum += probs[i]
	}
	u := rng.Float64() * sum
	for i, p := range probs {
		u -= p
		if u <= 0 && p > 0 {
			return i
		}
	}
	return best
}
