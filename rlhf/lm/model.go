package lm

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// LoRAConfig says which linear layers get adapters and their rank/alpha.
type LoRAConfig struct {
	Rank    int
	Alpha   float32
	Targets []Linear // nil = all seven
}

// adapter is one LoRA pair: ΔW = (alpha/rank)·B·A, A rank×in, B out×rank.
type adapter struct {
	A, B []float32
}

// Model is a trainable Llama: frozen base weights, optional LoRA adapters
// and the merged weights the forward pass uses.
type Model struct {
	Cfg   Config
	Base  *Params // frozen when adapters are used; trained in place otherwise
	eff   *Params // base + merged adapters (== Base without adapters)
	lora  [][numLinear]*adapter
	rank  int
	scale float32
	rope  *ropeTable
}

// New builds a model on p (which it owns from now on) without adapters.
func New(cfg Config, p *Params) (*Model, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.SeqLen <= 0 {
		cfg.SeqLen = 512
	}
	if cfg.NormEps == 0 {
		cfg.NormEps = 1e-5
	}
	return &Model{Cfg: cfg, Base: p, eff: p, rope: newRope(cfg, cfg.SeqLen)}, nil
}

// WithLoRA returns a model sharing m's base weights with fresh adapters
// (A random from seed, B zero: the new model starts equal to m).
func (m *Model) WithLoRA(lc LoRAConfig, seed uint64) (*Model, error) {
	if lc.Rank <= 0 {
		return nil, fmt.Errorf("lm: lora rank %d must be positive", lc.Rank)
	}
	if lc.Alpha == 0 {
		lc.Alpha = float32(lc.Rank)
	}
	targets := lc.Targets
	if targets == nil {
		targets = []Linear{Q, K, V, O, Gate, Down, Up}
	}
	rng := rand.New(rand.NewPCG(seed, 0x10a))
	n := &Model{Cfg: m.Cfg, Base: m.eff, rope: m.rope, rank: lc.Rank, scale: lc.Alpha / float32(lc.Rank)}
	n.lora = make([][numLinear]*adapter, m.Cfg.Layers)
	for i := range n.lora {
		for _, l := range targets {
			o, in := m.Cfg.shape(l)
			a := &adapter{A: make([]float32, lc.Rank*in), B: make([]float32, o*lc.Rank)}
			bound := 1 / math.Sqrt(float64(in))
			for j := range a.A {
				a.A[j] = float32((2*rng.Float64() - 1) * bound)
			}
			n.lora[i][l] = a
		}
	}
	n.eff = n.Base.clone()
	n.Merge()
	return n, nil
}

// HasLoRA reports whether m trains adapters (rather than all weights).
func (m *Model) HasLoRA() bool { return m.lora != nil }

// Merge recomputes the merged weights from the base and the adapters;
// call it after changing the adapters.
func (m *Model) Merge() {
	if m.lora == nil {
		return
	}
	for i := range m.lora {
		for l, a := range m.lora[i] {
			dst := m.eff.Layers[i].W[l]
			copy(dst, m.Base.Layers[i].W[l])
			if a == nil {
				continue
			}
			o, in := m.Cfg.shape(Linear(l))
			blas32.Gemm(blas.NoTrans, blas.NoTrans, m.scale,
				blas32.General{Rows: o, Cols: m.rank, Stride: m.rank, Data: a.B},
				blas32.General{Rows: m.rank, Cols: in, Stride: in, Data: a.A}, 1,
				blas32.General{Rows: o, Cols: in, Stride: in, Data: dst})
		}
	}
}

// Merged returns the weights the model computes with (base + adapters).
// The result must not be modified.
func (m *Model) Merged() *Params { return m.eff }

// Tensor is one named trainable array with its gradient.
type Tensor struct {
	Name string
	W, G []float32
}

// Grads accumulates gradients for a model's trainable parameters.
type Grads struct {
	full *Params // dense gradient of every weight the backward needs
	m    *Model
}

// NewGrads returns zeroed gradient buffers for m.
func (m *Model) NewGrads() *Grads {
	g := &Grads{full: newParams(m.Cfg, m.eff.Tied), m: m}
	if m.lora != nil {
		// Only the adapted linears need dense gradients.
		g.full.Embed, g.full.Cls, g.full.FinalNorm = nil, nil, nil
		for i := range g.full.Layers {
			g.full.Layers[i].AttnNorm, g.full.Layers[i].FFNNorm = nil, nil
			for l := range g.full.Layers[i].W {
				if m.lora[i][l] == nil {
					g.full.Layers[i].W[l] = nil
				}
			}
		}
	}
	return g
}

// Zero clears g.
func (g *Grads) Zero() {
	z := func(s []float32) {
		for i := range s {
			s[i] = 0
		}
	}
	z(g.full.Embed)
	if !g.full.Tied {
		z(g.full.Cls)
	}
	z(g.full.FinalNorm)
	for _, l := range g.full.Layers {
		z(l.AttnNorm)
		z(l.FFNNorm)
		for _, w := range l.W {
			z(w)
		}
	}
}

// add accumulates o into g.
func (g *Grads) add(o *Grads) {
	a := func(d, s []float32) {
		for i := range d {
			d[i] += s[i]
		}
	}
	a(g.full.Embed, o.full.Embed)
	if !g.full.Tied {
		a(g.full.Cls, o.full.Cls)
	}
	a(g.full.FinalNorm, o.full.FinalNorm)
	for i := range g.full.Layers {
		a(g.full.Layers[i].AttnNorm, o.full.Layers[i].AttnNorm)
		a(g.full.Layers[i].FFNNorm, o.full.Layers[i].FFNNorm)
		for l := range g.full.Layers[i].W {
			a(g.full.Layers[i].W[l], o.full.Layers[i].W[l])
		}
	}
}

// Trainable returns the trainable tensors with their gradients projected
// from g: the LoRA A and B matrices (dA = s·Bᵀ·dW, dB = s·dW·Aᵀ) or, for a
// model without adapters, every weight.
func (m *Model) Trainable(g *Grads) []Tensor {
	var ts []Tensor
	if m.lora == nil {
		ts = append(ts, Tensor{"token_embd", m.Base.Embed, g.full.Embed})
		if !m.Base.Tied {
			ts = append(ts, Tensor{"output", m.Base.Cls, g.full.Cls})
		}
		ts = append(ts, Tensor{"output_norm", m.Base.FinalNorm, g.full.FinalNorm})
		for i, l := range m.Base.Layers {
			gl := g.full.Layers[i]
			ts = append(ts, Tensor{fmt.Sprintf("blk.%d.attn_norm", i), l.AttnNorm, gl.AttnNorm},
				Tensor{fmt.Sprintf("blk.%d.ffn_norm", i), l.FFNNorm, gl.FFNNorm})
			for k := range l.W {
				ts = append(ts, Tensor{fmt.Sprintf("blk.%d.%s", i, LinearNames[k]), l.W[k], gl.W[k]})
			}
		}
		return ts
	}
	for i := range m.lora {
		for l, a := range m.lora[i] {
			if a == nil {
				continue
			}
			o, in := m.Cfg.shape(Linear(l))
			dW := g.full.Layers[i].W[l]
			dA := make([]float32, len(a.A))
			dB := make([]float32, len(a.B))
			// dA = s·Bᵀ·dW (rank×in), dB = s·dW·Aᵀ (o×rank)
			blas32.Gemm(blas.Trans, blas.NoTrans, m.scale,
				blas32.General{Rows: o, Cols: m.rank, Stride: m.rank, Data: a.B},
				blas32.General{Rows: o, Cols: in, Stride: in, Data: dW}, 0,
				blas32.General{Rows: m.rank, Cols: in, Stride: in, Data: dA})
			blas32.Gemm(blas.NoTrans, blas.Trans, m.scale,
				blas32.General{Rows: o, Cols: in, Stride: in, Data: dW},
				blas32.General{Rows: m.rank, Cols: in, Stride: in, Data: a.A}, 0,
				blas32.General{Rows: o, Cols: m.rank, Stride: m.rank, Data: dB})
			name := fmt.Sprintf("blk.%d.%s.weight", i, LinearNames[l])
			ts = append(ts, Tensor{name + ".lora_a", a.A, dA}, Tensor{name + ".lora_b", a.B, dB})
		}
	}
	return ts
}

// Adapters returns the LoRA tensors (name, data, out, in) in llama.cpp's
// naming, for saving; nil without adapters. The alpha is Alpha().
func (m *Model) Adapters() []Tensor {
	if m.lora == nil {
		return nil
	}
	return m.Trainable(m.NewGrads())
}

// LoRAShape returns rank and alpha of the adapters.
func (m *Model) LoRAShape() (rank int, alpha float32) { return m.rank, m.scale * float32(m.rank) }

// layerCache keeps one block's activations for the backward.
type layerCache struct {
	x0, xn1, r1, q, k, v, att, ao, x1, xn2, r2, a, b, h []float32
}

// fwd is a sequence's forward pass.
type fwd struct {
	T      int
	tokens []int
	layers []layerCache
	xL, rf []float32
	xf     []float32 // final normed hidden states, T×Dim
}

// forward runs tokens through the merged weights keeping activations.
func (m *Model) forward(tokens []int) (*fwd, error) {
	c := m.Cfg
	T := len(tokens)
	if T == 0 || T > c.SeqLen {
		return nil, fmt.Errorf("lm: sequence of %d tokens (context %d)", T, c.SeqLen)
	}
	D, H, KV, hs := c.Dim, c.Hidden, c.KVDim(), c.HeadDim()
	p := m.eff
	f := &fwd{T: T, tokens: tokens, layers: make([]layerCache, c.Layers)}
	x := make([]float32, T*D)
	for t, tok := range tokens {
		if tok < 0 || tok >= c.Vocab {
			return nil, fmt.Errorf("lm: token %d out of vocabulary %d", tok, c.Vocab)
		}
		copy(x[t*D:(t+1)*D], p.Embed[tok*D:(tok+1)*D])
	}
	group := c.Heads / c.KVHeads
	scale := float32(1 / math.Sqrt(float64(hs)))
	for li := range p.Layers {
		L := &p.Layers[li]
		lc := &f.layers[li]
		lc.x0 = x
		lc.xn1, lc.r1 = make([]float32, T*D), make([]float32, T)
		rmsNorm(lc.xn1, x, L.AttnNorm, T, D, c.NormEps, lc.r1)
		lc.q, lc.k, lc.v = make([]float32, T*D), make([]float32, T*KV), make([]float32, T*KV)
		linear(lc.q, lc.xn1, L.W[Q], T, D, D)
		linear(lc.k, lc.xn1, L.W[K], T, D, KV)
		linear(lc.v, lc.xn1, L.W[V], T, D, KV)
		for t := 0; t < T; t++ {
			m.rope.rope(lc.q[t*D:(t+1)*D], t, false)
			m.rope.rope(lc.k[t*KV:(t+1)*KV], t, false)
		}
		lc.att = make([]float32, c.Heads*T*T)
		lc.ao = make([]float32, T*D)
		for h := 0; h < c.Heads; h++ {
			g := h / group
			for t := 0; t < T; t++ {
				qt := lc.q[t*D+h*hs : t*D+(h+1)*hs]
				row := lc.att[(h*T+t)*T : (h*T+t)*T+t+1]
				mx := float32(math.Inf(-1))
				for u := 0; u <= t; u++ {
					ku := lc.k[u*KV+g*hs : u*KV+(g+1)*hs]
					var s float32
					for i := range qt {
						s += qt[i] * ku[i]
					}
					row[u] = s * scale
					if row[u] > mx {
						mx = row[u]
					}
				}
				var sum float32
				for u := range row {
					row[u] = exp32(row[u] - mx)
					sum += row[u]
				}
				out := lc.ao[t*D+h*hs : t*D+(h+1)*hs]
				for u := range row {
					row[u] /= sum
					vu := lc.v[u*KV+g*hs : u*KV+(g+1)*hs]
					for i := range out {
						out[i] += row[u] * vu[i]
					}
				}
			}
		}
		lc.x1 = make([]float32, T*D)
		linear(lc.x1, lc.ao, L.W[O], T, D, D)
		for i := range lc.x1 {
			lc.x1[i] += x[i]
		}
		lc.xn2, lc.r2 = make([]float32, T*D), make([]float32, T)
		rmsNorm(lc.xn2, lc.x1, L.FFNNorm, T, D, c.NormEps, lc.r2)
		lc.a, lc.b, lc.h = make([]float32, T*H), make([]float32, T*H), make([]float32, T*H)
		linear(lc.a, lc.xn2, L.W[Gate], T, D, H)
		linear(lc.b, lc.xn2, L.W[Up], T, D, H)
		for i := range lc.h {
			lc.h[i] = silu(lc.a[i]) * lc.b[i]
		}
		x2 := make([]float32, T*D)
		linear(x2, lc.h, L.W[Down], T, H, D)
		for i := range x2 {
			x2[i] += lc.x1[i]
		}
		x = x2
	}
	f.xL = x
	f.xf, f.rf = make([]float32, T*D), make([]float32, T)
	rmsNorm(f.xf, x, p.FinalNorm, T, D, c.NormEps, f.rf)
	return f, nil
}

// logits computes the logits of rows [from, to) of f (n×Vocab).
func (m *Model) logits(f *fwd, from, to int) []float32 {
	D, V := m.Cfg.Dim, m.Cfg.Vocab
	n := to - from
	out := make([]float32, n*V)
	linear(out, f.xf[from*D:to*D], m.eff.Cls, n, D, V)
	return out
}

// logSoftmax turns row into log-probabilities in place.
func logSoftmax(row []float32) {
	mx := float32(math.Inf(-1))
	for _, v := range row {
		if v > mx {
			mx = v
		}
	}
	var s float64
	for _, v := range row {
		s += float64(exp32(v - mx))
	}
	lse := mx + float32(math.Log(s))
	for i := range row {
		row[i] -= lse
	}
}

// Example is a token sequence whose completion starts at Start (≥ 1): the
// completion's log-probability is Σ_{t≥Start} log p(tokens[t] | tokens[:t]).
type Example struct {
	Tokens []int
	Start  int
}

func (e Example) check() error {
	if e.Start < 1 || e.Start > len(e.Tokens) {
		return fmt.Errorf("lm: completion start %d outside sequence of %d tokens", e.Start, len(e.Tokens))
	}
	return nil
}

// completionLogProbs returns the log-softmax rows predicting the completion
// tokens (row r predicts tokens[Start+r]).
func (m *Model) completionLogProbs(f *fwd, start int) []float32 {
	if start >= f.T {
		return nil
	}
	lp := m.logits(f, start-1, f.T-1)
	V := m.Cfg.Vocab
	for r := 0; r < f.T-start; r++ {
		logSoftmax(lp[r*V : (r+1)*V])
	}
	return lp
}

// LogProb returns the completion's log-probability, its per-token terms
// and the final hidden state of the last token.
func (m *Model) LogProb(e Example) (sum float64, perToken []float64, last []float32, err error) {
	if err := e.check(); err != nil {
		return 0, nil, nil, err
	}
	f, err := m.forward(e.Tokens)
	if err != nil {
		return 0, nil, nil, err
	}
	lp := m.completionLogProbs(f, e.Start)
	V := m.Cfg.Vocab
	perToken = make([]float64, f.T-e.Start)
	for r := range perToken {
		perToken[r] = float64(lp[r*V+e.Tokens[e.Start+r]])
		sum += perToken[r]
	}
	D := m.Cfg.Dim
	return sum, perToken, append([]float32(nil), f.xf[(f.T-1)*D:f.T*D]...), nil
}

// Dists returns the log-probability rows over the vocabulary predicting
// each completion token (len(Tokens)−Start rows of Vocab).
func (m *Model) Dists(e Example) ([]float32, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	f, err := m.forward(e.Tokens)
	if err != nil {
		return nil, err
	}
	return m.completionLogProbs(f, e.Start), nil
}

// Backward runs e forward and back, accumulating into g the gradient of a
// loss L whose derivative is coef with respect to the completion's
// log-probability and dHidden (nil or Dim values) with respect to the last
// token's final hidden state. It returns the log-probability.
func (m *Model) Backward(e Example, coef float64, dHidden []float32, g *Grads) (float64, error) {
	ps, err := m.forwardPass(e, coef != 0)
	if err != nil {
		return 0, err
	}
	m.backwardPass(ps, coef, dHidden, g)
	return ps.logp, nil
}

// pass is a forward pass kept for a backward: activations, the
// completion's log-softmax rows and its log-probability.
type pass struct {
	e    Example
	f    *fwd
	lp   []float32
	logp float64
}

func (m *Model) forwardPass(e Example, needLP bool) (*pass, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	f, err := m.forward(e.Tokens)
	if err != nil {
		return nil, err
	}
	ps := &pass{e: e, f: f}
	if needLP {
		ps.lp = m.completionLogProbs(f, e.Start)
		nV := m.Cfg.Vocab
		for r := 0; r < f.T-e.Start; r++ {
			ps.logp += float64(ps.lp[r*nV+e.Tokens[e.Start+r]])
		}
	}
	return ps, nil
}

// hidden returns the pass's last final hidden state.
func (ps *pass) hidden(d int) []float32 {
	return ps.f.xf[(ps.f.T-1)*d : ps.f.T*d]
}

// backwardPass backpropagates coef·∂logp and dHidden·∂h_last from a kept
// forward pass into g. It consumes the pass.
func (m *Model) backwardPass(ps *pass, coef float64, dHidden []float32, g *Grads) {
	e, f := ps.e, ps.f
	c := m.Cfg
	T, D, H, KV, hs, nV := f.T, c.Dim, c.Hidden, c.KVDim(), c.HeadDim(), c.Vocab
	p, gp := m.eff, g.full
	dxf := make([]float32, T*D)
	if n := T - e.Start; n > 0 && coef != 0 && ps.lp != nil {
		lp := ps.lp
		// dL/dlogits = coef·(onehot − softmax)
		for r := 0; r < n; r++ {
			row := lp[r*nV : (r+1)*nV]
			y := e.Tokens[e.Start+r]
			for i, v := range row {
				row[i] = -float32(coef) * exp32(v)
			}
			row[y] += float32(coef)
		}
		ps.lp = nil
		var dCls []float32
		if gp.Cls != nil {
			dCls = gp.Cls
		}
		linearBack(dxf[(e.Start-1)*D:(T-1)*D], dCls, lp, f.xf[(e.Start-1)*D:(T-1)*D], p.Cls, n, D, nV)
	}
	if dHidden != nil {
		last := dxf[(T-1)*D : T*D]
		for i := range last {
			last[i] += dHidden[i]
		}
	}
	dx := make([]float32, T*D)
	rmsNormBack(dx, gp.FinalNorm, dxf, f.xL, p.FinalNorm, f.rf, T, D)
	group := c.Heads / c.KVHeads
	scale := float32(1 / math.Sqrt(float64(hs)))
	for li := c.Layers - 1; li >= 0; li-- {
		L, G, lc := &p.Layers[li], &gp.Layers[li], &f.layers[li]
		// FFN: x2 = x1 + h·W2ᵀ
		dh := make([]float32, T*H)
		linearBack(dh, G.W[Down], dx, lc.h, L.W[Down], T, H, D)
		da, db := make([]float32, T*H), make([]float32, T*H)
		for i := range dh {
			a := lc.a[i]
			s := 1 / (1 + exp32(-a))
			db[i] = dh[i] * a * s
			da[i] = dh[i] * lc.b[i] * s * (1 + a*(1-s))
		}
		dxn2 := make([]float32, T*D)
		linearBack(dxn2, G.W[Gate], da, lc.xn2, L.W[Gate], T, D, H)
		linearBack(dxn2, G.W[Up], db, lc.xn2, L.W[Up], T, D, H)
		dx1 := dx // residual: dx1 = dx + norm backward
		rmsNormBack(dx1, G.FFNNorm, dxn2, lc.x1, L.FFNNorm, lc.r2, T, D)
		// attention: x1 = x0 + ao·Woᵀ
		dao := make([]float32, T*D)
		linearBack(dao, G.W[O], dx1, lc.ao, L.W[O], T, D, D)
		dq, dk, dv := make([]float32, T*D), make([]float32, T*KV), make([]float32, T*KV)
		dp := make([]float32, T)
		for h := 0; h < c.Heads; h++ {
			gk := h / group
			for t := 0; t < T; t++ {
				row := lc.att[(h*T+t)*T : (h*T+t)*T+t+1]
				do := dao[t*D+h*hs : t*D+(h+1)*hs]
				var sum float32
				for u := range row {
					vu := lc.v[u*KV+gk*hs : u*KV+(gk+1)*hs]
					dvu := dv[u*KV+gk*hs : u*KV+(gk+1)*hs]
					var s float32
					for i := range do {
						s += do[i] * vu[i]
						dvu[i] += row[u] * do[i]
					}
					dp[u] = s
					sum += row[u] * s
				}
				qt := lc.q[t*D+h*hs : t*D+(h+1)*hs]
				dqt := dq[t*D+h*hs : t*D+(h+1)*hs]
				for u := range row {
					ds := row[u] * (dp[u] - sum) * scale
					if ds == 0 {
						continue
					}
					ku := lc.k[u*KV+gk*hs : u*KV+(gk+1)*hs]
					dku := dk[u*KV+gk*hs : u*KV+(gk+1)*hs]
					for i := range qt {
						dqt[i] += ds * ku[i]
						dku[i] += ds * qt[i]
					}
				}
			}
		}
		for t := 0; t < T; t++ {
			m.rope.rope(dq[t*D:(t+1)*D], t, true)
			m.rope.rope(dk[t*KV:(t+1)*KV], t, true)
		}
		dxn1 := make([]float32, T*D)
		linearBack(dxn1, G.W[Q], dq, lc.xn1, L.W[Q], T, D, D)
		linearBack(dxn1, G.W[K], dk, lc.xn1, L.W[K], T, D, KV)
		linearBack(dxn1, G.W[V], dv, lc.xn1, L.W[V], T, D, KV)
		rmsNormBack(dx1, G.AttnNorm, dxn1, lc.x0, L.AttnNorm, lc.r1, T, D)
		dx = dx1
	}
	if gp.Embed != nil {
		for t, tok := range e.Tokens {
			row := gp.Embed[tok*D : (tok+1)*D]
			for i := range row {
				row[i] += dx[t*D+i]
			}
		}
	}
}

// workers is how many sequences run at once.
func workers(n int) int {
	w := runtime.GOMAXPROCS(0)
	if w > n {
		w = n
	}
	if w < 1 {
		w = 1
	}
	return w
}

// parallel runs fn(i) for i in [0, n) on a few goroutines; worker index w
// lets fn use per-worker buffers. The first error wins.
func parallel(ctx context.Context, n int, fn func(w, i int) error) error {
	nw := workers(n)
	var wg sync.WaitGroup
	errs := make([]error, nw)
	next := make(chan int)
	for w := 0; w < nw; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := range next {
				if errs[w] == nil {
					errs[w] = fn(w, i)
				}
			}
		}(w)
	}
	var err error
	for i := 0; i < n; i++ {
		if err = ctx.Err(); err != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err != nil {
		return err
	}
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// LogProbs returns the completion log-probabilities of a batch.
func (m *Model) LogProbs(ctx context.Context, exs []Example) ([]float64, error) {
	out := make([]float64, len(exs))
	err := parallel(ctx, len(exs), func(_, i int) error {
		lp, _, _, err := m.LogProb(exs[i])
		out[i] = lp
		return err
	})
	return out, err
}

// Hidden returns the last token's final hidden state of each sequence.
func (m *Model) Hidden(ctx context.Context, exs []Example) ([][]float32, error) {
	out := make([][]float32, len(exs))
	D := m.Cfg.Dim
	err := parallel(ctx, len(exs), func(_, i int) error {
		f, err := m.forward(exs[i].Tokens)
		if err != nil {
			return err
		}
		out[i] = append([]float32(nil), f.xf[(f.T-1)*D:f.T*D]...)
		return nil
	})
	return out, err
}

// BackwardBatch accumulates into g the gradients of a batch, example i
// with coefficient coefs[i] and (when dHidden is not nil) hidden-state
// gradient dHidden[i]. It returns the log-probabilities.
func (m *Model) BackwardBatch(ctx context.Context, exs []Example, coefs []float64, dHidden [][]float32, g *Grads) ([]float64, error) {
	nw := workers(len(exs))
	gs := make([]*Grads, nw)
	gs[0] = g
	for w := 1; w < nw; w++ {
		gs[w] = m.NewGrads()
	}
	out := make([]float64, len(exs))
	err := parallel(ctx, len(exs), func(w, i int) error {
		var dh []float32
		if dHidden != nil {
			dh = dHidden[i]
		}
		lp, err := m.Backward(exs[i], coefs[i], dh, gs[w])
		out[i] = lp
		return err
	})
	for w := 1; w < nw; w++ {
		g.add(gs[w])
	}
	return out, err
}

// BackwardFunc runs a batch forward keeping activations, asks fn for the
// loss derivatives given every log-probability and last hidden state
// (coefs[i] = ∂L/∂logp_i; dHidden nil or ∂L/∂h_i), and backpropagates
// them into g: one forward and one backward per sequence, for losses that
// couple sequences (DPO pairs, RLOO groups, KTO's batch).
func (m *Model) BackwardFunc(ctx context.Context, exs []Example, needLP bool,
	fn func(logps []float64, hidden [][]float32) (coefs []float64, dHidden [][]float32, err error), g *Grads) error {
	passes := make([]*pass, len(exs))
	err := parallel(ctx, len(exs), func(_, i int) error {
		ps, err := m.forwardPass(exs[i], needLP)
		passes[i] = ps
		return err
	})
	if err != nil {
		return err
	}
	logps := make([]float64, len(exs))
	hidden := make([][]float32, len(exs))
	for i, ps := range passes {
		logps[i], hidden[i] = ps.logp, ps.hidden(m.Cfg.Dim)
	}
	coefs, dh, err := fn(logps, hidden)
	if err != nil {
		return err
	}
	if len(coefs) != len(exs) || (dh != nil && len(dh) != len(exs)) {
		return fmt.Errorf("lm: %d coefficients for %d sequences", len(coefs), len(exs))
	}
	nw := workers(len(exs))
	gs := make([]*Grads, nw)
	gs[0] = g
	for w := 1; w < nw; w++ {
		gs[w] = m.NewGrads()
	}
	err = parallel(ctx, len(exs), func(w, i int) error {
		var d []float32
		if dh != nil {
			d = dh[i]
		}
		m.backwardPass(passes[i], coefs[i], d, gs[w])
		passes[i] = nil
		return nil
	})
	for w := 1; w < nw; w++ {
		g.add(gs[w])
	}
	return err
}

// Params returns the trainable tensors (the adapters, or every weight of
// a model without adapters) by name, sharing memory: writing into them
// and calling Merge changes the model.
func (m *Model) Params() map[string][]float32 {
	out := map[string][]float32{}
	if m.lora == nil {
		for _, t := range m.Trainable(m.NewGrads()) {
			out[t.Name] = t.W
		}
		return out
	}
	for i := range m.lora {
		for l, a := range m.lora[i] {
			if a == nil {
				continue
			}
			name := fmt.Sprintf("blk.%d.%s.weight", i, LinearNames[l])
			out[name+".lora_a"], out[name+".lora_b"] = a.A, a.B
		}
	}
	return out
}

// SetParams copies saved trainable tensors into the model (names and
// sizes must match Params) and re-merges.
func (m *Model) SetParams(ps map[string][]float32) error {
	own := m.Params()
	if len(ps) != len(own) {
		return fmt.Errorf("lm: %d saved tensors, model has %d", len(ps), len(own))
	}
	for name, w := range own {
		src, ok := ps[name]
		if !ok || len(src) != len(w) {
			return fmt.Errorf("lm: saved tensor %s missing or of another size", name)
		}
	}
	for name, w := range own {
		copy(w, ps[name])
	}
	m.Merge()
	return nil
}
