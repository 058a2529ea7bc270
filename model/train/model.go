package train

import (
	"context"
	"errors"
	"fmt"

	"github.com/hone-ai/hone/model"
)

// Model is a Llama-family model in float32 for training: every parameter
// in one flat buffer (P holds a view per tensor), every gradient in
// another (G), and the activations of the last Forward kept for Backward.
// A Model is not safe for concurrent use; use Share for a second reader of
// the same weights.
type Model struct {
	Config model.Config
	Tied   bool   // classifier shared with the embedding
	P      Params // views of the parameters
	G      Params // views of the gradients (empty when the base is frozen)

	data, grad []float32
	segs       []Segment
	trainBase  bool // base gradients computed in Backward

	lora     *LoRA
	loraOff  bool   // adapter attached but disabled
	training bool   // dropout active
	seed     uint64 // dropout seed (see SetDropoutSeed)

	a          *acts
	keepLogits bool   // Forward keeps raw logits (for Logits)
	batch      *Batch // batch of the last Forward
	fwdOK      bool   // activations valid for Backward
}

// Batch is B sequences of T tokens, row-major. Targets[i] is the token the
// model should predict at position i (usually Tokens[i+1]), or -1 where no
// loss is counted (padding, prompts in supervised fine-tuning). Lens[b] is
// the real length of sequence b (the rest is padding); nil means T each.
type Batch struct {
	B, T    int
	Tokens  []int
	Targets []int
	Lens    []int
}

// Validate checks the batch's shape and ids against a vocabulary size.
func (b *Batch) Validate(vocab int) error {
	if b == nil || b.B <= 0 || b.T <= 0 {
		return errors.New("train: batch: empty")
	}
	n := b.B * b.T
	if len(b.Tokens) != n || len(b.Targets) != n {
		return fmt.Errorf("train: batch: %d tokens and %d targets, want %d×%d", len(b.Tokens), len(b.Targets), b.B, b.T)
	}
	if b.Lens != nil && len(b.Lens) != b.B {
		return fmt.Errorf("train: batch: %d lengths for %d sequences", len(b.Lens), b.B)
	}
	for i, t := range b.Tokens {
		if t < 0 || t >= vocab {
			return fmt.Errorf("train: batch: token %d at %d outside vocabulary of %d", t, i, vocab)
		}
	}
	for i, t := range b.Targets {
		if t < -1 || t >= vocab {
			return fmt.Errorf("train: batch: target %d at %d outside vocabulary of %d", t, i, vocab)
		}
	}
	for i, l := range b.Lens {
		if l < 1 || l > b.T {
			return fmt.Errorf("train: batch: length %d of sequence %d outside [1,%d]", l, i, b.T)
		}
	}
	return nil
}

// last returns the index of the last real position of sequence s.
func (b *Batch) last(s int) int {
	if b.Lens != nil {
		return s*b.T + b.Lens[s] - 1
	}
	return s*b.T + b.T - 1
}

// layerActs are the saved activations of one block.
type layerActs struct {
	resIn, resMid []float32 // N×D block input, after attention
	an, fn        []float32 // N×D normed inputs of attention and FFN
	aInv, fInv    []float32 // N
	q, k, v       []float32 // after RoPE: N×qd, N×kvd, N×kvd
	att           []float32 // B×nh×T×T probabilities
	ao            []float32 // N×qd attention output
	gate, up, act []float32 // N×H
	lora          [nTargets]loraActs
}

// acts are the activations of a forward pass over B×T tokens and the
// scratch of the backward pass.
type acts struct {
	B, T  int
	rope  *ropeTable
	L     []layerActs
	resid [][]float32 // residual stream: input of each block, then the output
	res   []float32   // N×D output of the last block
	xn    []float32   // N×D final-normed hidden states
	xInv  []float32
	sel   []int     // positions with a target
	xsel  []float32 // len(sel)×D gathered hidden states
	logit []float32 // len(sel)×V probabilities (logit gradients after Backward)
	raw   []float32 // the logits themselves, kept only for Logits
	lse   []float32 // len(sel)
	logp  []float32 // N target log-probabilities (0 where no target)

	// backward scratch
	dx, dn, dxn     []float32
	dq, dao         []float32
	dk, dv          []float32
	dgate, dup, dac []float32
	dxa, dxd        []float32 // LoRA
	loraFor         *LoRA     // adapter the LoRA activations were sized for
}

func (m *Model) ensureActs(B, T int) {
	if m.a != nil && m.a.B == B && m.a.T == T && m.loraShapeOK() {
		return
	}
	// Reuse the buffers of earlier passes when they are large enough
	// (RLHF batches vary in length), reslicing them to the new shape.
	a := m.a
	if a == nil || !m.loraShapeOK() {
		a = &acts{}
	}
	cfg := m.Config
	n, d, h := B*T, cfg.Dim, cfg.HiddenDim
	qd, kvd := cfg.NHeads*cfg.HeadDim, cfg.NKVHeads*cfg.HeadDim
	if a.B != B || a.T != T || a.rope == nil || a.rope.T != T {
		a.rope = newRopeTable(T, cfg.RopeDim, cfg.RopeBase)
	}
	a.B, a.T = B, T
	f := func(p *[]float32, k int) {
		if cap(*p) < k {
			*p = make([]float32, k)
		}
		*p = (*p)[:k]
	}
	if len(a.L) != cfg.NLayers {
		a.L = make([]layerActs, cfg.NLayers)
		a.resid = make([][]float32, cfg.NLayers+1)
	}
	for i := range a.resid {
		f(&a.resid[i], n*d)
	}
	for l := range a.L {
		L := &a.L[l]
		L.resIn = a.resid[l]
		f(&L.an, n*d)
		f(&L.aInv, n)
		f(&L.q, n*qd)
		f(&L.k, n*kvd)
		f(&L.v, n*kvd)
		f(&L.att, B*cfg.NHeads*T*T)
		f(&L.ao, n*qd)
		f(&L.resMid, n*d)
		f(&L.fn, n*d)
		f(&L.fInv, n)
		f(&L.gate, n*h)
		f(&L.up, n*h)
		f(&L.act, n*h)
	}
	a.res = a.resid[cfg.NLayers]
	for _, p := range []*[]float32{&a.xn, &a.dx, &a.dn, &a.dxn} {
		f(p, n*d)
	}
	f(&a.xInv, n)
	f(&a.logp, n)
	f(&a.dq, n*qd)
	f(&a.dao, n*qd)
	f(&a.dk, n*kvd)
	f(&a.dv, n*kvd)
	f(&a.dgate, n*h)
	f(&a.dup, n*h)
	f(&a.dac, n*h)
	m.a = a
	a.loraFor = m.lora
	if m.lora == nil {
		return
	}
	r := m.lora.Config.Rank
	maxIn := 0
	for l := range m.lora.Layers {
		for t, lt := range m.lora.Layers[l] {
			if lt == nil {
				continue
			}
			la := &a.L[l].lora[t]
			f(&la.xa, n*r)
			if m.lora.Config.Dropout > 0 {
				f(&la.xd, n*lt.In)
			}
			maxIn = max(maxIn, lt.In)
		}
	}
	f(&a.dxa, n*r)
	if m.lora.Config.Dropout > 0 {
		f(&a.dxd, n*maxIn)
	}
}

// SetTraining turns LoRA dropout on or off (off by default: Forward is
// deterministic for evaluation and reference log-probabilities).
func (m *Model) SetTraining(on bool) { m.training = on }

// SetDropoutSeed fixes the dropout masks of the next Forward passes; the
// Trainer sets it from its seed and step so runs are reproducible.
func (m *Model) SetDropoutSeed(seed uint64) { m.seed = seed }

// Forward runs the model over the batch, keeps the activations for
// Backward and returns the mean negative log-likelihood of the targets (0
// when there are none). Per-token and per-sequence log-probabilities and
// the last hidden states are then available (TokenLogProbs, SeqLogProbs,
// LastHidden).
func (m *Model) Forward(ctx context.Context, b *Batch) (float32, error) {
	m.fwdOK = false
	cfg := m.Config
	if err := b.Validate(cfg.VocabSize); err != nil {
		return 0, err
	}
	m.ensureActs(b.B, b.T)
	a := m.a
	m.batch = b
	n, d, h, V := b.B*b.T, cfg.Dim, cfg.HiddenDim, cfg.VocabSize
	qd, kvd := cfg.NHeads*cfg.HeadDim, cfg.NKVHeads*cfg.HeadDim
	shape := attnShape{B: b.B, T: b.T, nh: cfg.NHeads, nkv: cfg.NKVHeads, hd: cfg.HeadDim}

	embedForward(a.L[0].resIn, m.P.Embed, b.Tokens, d)
	for l := range a.L {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		L, W := &a.L[l], &m.P.Layers[l]
		rmsnormForward(L.an, L.aInv, L.resIn, W.AttnNorm, n, d, cfg.NormEps)
		m.linear(l, tQ, L.q, L.an, n, W.Wq, qd, d)
		m.linear(l, tK, L.k, L.an, n, W.Wk, kvd, d)
		m.linear(l, tV, L.v, L.an, n, W.Wv, kvd, d)
		ropeForward(L.q, a.rope, n, qd, cfg.HeadDim)
		ropeForward(L.k, a.rope, n, kvd, cfg.HeadDim)
		attentionForward(L.ao, L.att, L.q, L.k, L.v, shape)
		m.linear(l, tO, L.resMid, L.ao, n, W.Wo, d, qd)
		addInto(L.resMid, L.resIn)
		rmsnormForward(L.fn, L.fInv, L.resMid, W.FFNNorm, n, d, cfg.NormEps)
		m.linear(l, tGate, L.gate, L.fn, n, W.WGate, h, d)
		m.linear(l, tUp, L.up, L.fn, n, W.WUp, h, d)
		swigluForward(L.act, L.gate, L.up)
		out := a.resid[l+1]
		m.linear(l, tDown, out, L.act, n, W.WDown, d, h)
		addInto(out, L.resMid)
	}
	rmsnormForward(a.xn, a.xInv, a.res, m.P.OutNorm, n, d, cfg.NormEps)

	// Logits only where a target is counted.
	a.sel = a.sel[:0]
	for i, t := range b.Targets {
		if t >= 0 {
			a.sel = append(a.sel, i)
		}
	}
	M := len(a.sel)
	a.xsel = grow(a.xsel, M*d)
	a.logit = grow(a.logit, M*V)
	a.lse = grow(a.lse, M)
	selTargets := make([]int, M)
	for r, i := range a.sel {
		copy(a.xsel[r*d:(r+1)*d], a.xn[i*d:(i+1)*d])
		selTargets[r] = b.Targets[i]
	}
	clear(a.logp)
	var loss float64
	if M > 0 {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		linearForward(a.logit, a.xsel, m.P.Output, M, d, V, false)
		if m.keepLogits {
			a.raw = append(a.raw[:0], a.logit...)
		}
		lp := make([]float32, M)
		softmaxRows(a.lse, lp, a.logit, selTargets, M, V)
		for r, i := range a.sel {
			a.logp[i] = lp[r]
			loss -= float64(lp[r])
		}
		loss /= float64(M)
	}
	m.fwdOK = true
	return float32(loss), nil
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

func addInto(dst, src []float32) {
	parallelFor(len(dst), 8192, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			dst[i] += src[i]
		}
	})
}

// Cotangent says how the objective depends on what Forward produced; the
// terms add up. Backward(ctx, Cotangent{Loss: 1}) is plain training on the
// mean loss.
type Cotangent struct {
	// Loss is ∂objective/∂(mean loss returned by Forward).
	Loss float32
	// TokenLogp[i] is ∂objective/∂logp(target at position i) (B×T; only
	// positions with a target matter). Nil for none.
	TokenLogp []float32
	// SeqLogp[b] is ∂objective/∂(sum of sequence b's target
	// log-probabilities) — what DPO, KTO and RLOO produce. Nil for none.
	SeqLogp []float32
	// SeqKL[b] is ∂objective/∂(Σ over sequence b's targets of the exact
	// per-token KL(policy‖Ref)); Ref must have run Forward on the same
	// batch since. Nil for none.
	SeqKL []float32
	// TokenKL[i] is ∂objective/∂(the exact KL(policy‖Ref) of the
	// next-token distributions at position i) (B×T; only positions with a
	// target matter); Ref as for SeqKL. Nil for none.
	TokenKL []float32
	Ref     *Model
	// Hidden is ∂objective/∂LastHidden() (B×Dim), for a reward head. Nil
	// for none.
	Hidden []float32
}

// Backward propagates c through the activations of the last Forward,
// adding to the gradients of the trainable parameters (the adapter when a
// LoRA is attached and enabled, else the whole base). Call ZeroGrad before
// accumulating a new step. Backward consumes the saved logits: call it once
// per Forward, after reading what you need (log-probabilities, KL).
func (m *Model) Backward(ctx context.Context, c Cotangent) error {
	if !m.fwdOK {
		return errors.New("train: backward without a forward pass")
	}
	if !m.trainBase && !m.loraActive() {
		return errors.New("train: backward on a model with nothing to train (frozen base, no adapter)")
	}
	m.fwdOK = false
	b, a, cfg := m.batch, m.a, m.Config
	n, d, h, V := b.B*b.T, cfg.Dim, cfg.HiddenDim, cfg.VocabSize
	qd, kvd := cfg.NHeads*cfg.HeadDim, cfg.NKVHeads*cfg.HeadDim
	shape := attnShape{B: b.B, T: b.T, nh: cfg.NHeads, nkv: cfg.NKVHeads, hd: cfg.HeadDim}
	M := len(a.sel)
	if c.TokenLogp != nil && len(c.TokenLogp) != n {
		return fmt.Errorf("train: backward: %d token coefficients for %d positions", len(c.TokenLogp), n)
	}
	if c.SeqLogp != nil && len(c.SeqLogp) != b.B {
		return fmt.Errorf("train: backward: %d sequence coefficients for %d sequences", len(c.SeqLogp), b.B)
	}
	if c.Hidden != nil && len(c.Hidden) != b.B*d {
		return fmt.Errorf("train: backward: hidden gradient of %d values, want %d", len(c.Hidden), b.B*d)
	}
	var klCoef, refProbs []float32
	if c.SeqKL != nil || c.TokenKL != nil {
		if c.SeqKL != nil && len(c.SeqKL) != b.B {
			return fmt.Errorf("train: backward: %d KL coefficients for %d sequences", len(c.SeqKL), b.B)
		}
		if c.TokenKL != nil && len(c.TokenKL) != n {
			return fmt.Errorf("train: backward: %d token KL coefficients for %d positions", len(c.TokenKL), n)
		}
		if err := m.sameBatch(c.Ref); err != nil {
			return err
		}
		klCoef = make([]float32, M)
		for r, i := range a.sel {
			if c.SeqKL != nil {
				klCoef[r] = c.SeqKL[i/b.T]
			}
			if c.TokenKL != nil {
				klCoef[r] += c.TokenKL[i]
			}
		}
		refProbs = c.Ref.a.logit
	}

	// Head: logits → final hidden states.
	clear(a.dxn)
	if M > 0 {
		g := make([]float32, M)
		selT := make([]int, M)
		for r, i := range a.sel {
			v := -c.Loss / float32(M)
			if c.TokenLogp != nil {
				v += c.TokenLogp[i]
			}
			if c.SeqLogp != nil {
				v += c.SeqLogp[i/b.T]
			}
			g[r], selT[r] = v, b.Targets[i]
		}
		softmaxBackward(a.logit, g, selT, klCoef, refProbs, M, V)
		dlog := a.logit[:M*V]
		if m.trainBase {
			linearBackwardWeight(m.G.Output, dlog, a.xsel, M, d, V)
		}
		dxsel := make([]float32, M*d)
		linearBackwardInput(dxsel, dlog, m.P.Output, M, d, V, false)
		for r, i := range a.sel {
			copy(a.dxn[i*d:(i+1)*d], dxsel[r*d:(r+1)*d])
		}
	}
	if c.Hidden != nil {
		for s := 0; s < b.B; s++ {
			i := b.last(s)
			dst, src := a.dxn[i*d:(i+1)*d], c.Hidden[s*d:(s+1)*d]
			for j := range dst {
				dst[j] += src[j]
			}
		}
	}
	clear(a.dx)
	rmsnormBackward(a.dx, m.gradOr(m.G.OutNorm), a.dxn, a.res, m.P.OutNorm, a.xInv, n, d)

	for l := len(a.L) - 1; l >= 0; l-- {
		if err := ctx.Err(); err != nil {
			return err
		}
		L, W := &a.L[l], &m.P.Layers[l]
		var G *LayerParams
		if m.trainBase {
			G = &m.G.Layers[l]
		}
		// FFN: out = resMid + down(swiglu(gate(fn), up(fn))).
		m.linearBack(l, tDown, a.dac, a.dx, L.act, n, W.WDown, pick(G, func(g *LayerParams) []float32 { return g.WDown }), d, h, false)
		swigluBackward(a.dgate, a.dup, a.dac, L.gate, L.up)
		m.linearBack(l, tGate, a.dn, a.dgate, L.fn, n, W.WGate, pick(G, func(g *LayerParams) []float32 { return g.WGate }), h, d, false)
		m.linearBack(l, tUp, a.dn, a.dup, L.fn, n, W.WUp, pick(G, func(g *LayerParams) []float32 { return g.WUp }), h, d, true)
		rmsnormBackward(a.dx, pick(G, func(g *LayerParams) []float32 { return g.FFNNorm }), a.dn, L.resMid, W.FFNNorm, L.fInv, n, d)
		// Attention: resMid = resIn + o(attn(rope(q(an)), rope(k(an)), v(an))).
		m.linearBack(l, tO, a.dao, a.dx, L.ao, n, W.Wo, pick(G, func(g *LayerParams) []float32 { return g.Wo }), d, qd, false)
		clear(a.dk)
		clear(a.dv)
		attentionBackward(a.dq, a.dk, a.dv, a.dao, L.att, L.q, L.k, L.v, shape)
		ropeBackward(a.dq, a.rope, n, qd, cfg.HeadDim)
		ropeBackward(a.dk, a.rope, n, kvd, cfg.HeadDim)
		// The saved q, k are rotated; the weight gradients need the
		// unrotated inputs an, which is what linearBack uses.
		m.linearBack(l, tQ, a.dn, a.dq, L.an, n, W.Wq, pick(G, func(g *LayerParams) []float32 { return g.Wq }), qd, d, false)
		m.linearBack(l, tK, a.dn, a.dk, L.an, n, W.Wk, pick(G, func(g *LayerParams) []float32 { return g.Wk }), kvd, d, true)
		m.linearBack(l, tV, a.dn, a.dv, L.an, n, W.Wv, pick(G, func(g *LayerParams) []float32 { return g.Wv }), kvd, d, true)
		rmsnormBackward(a.dx, pick(G, func(g *LayerParams) []float32 { return g.AttnNorm }), a.dn, L.resIn, W.AttnNorm, L.aInv, n, d)
	}
	if m.trainBase {
		embedBackward(m.G.Embed, a.dx, b.Tokens, d)
	}
	return nil
}

func pick(g *LayerParams, f func(*LayerParams) []float32) []float32 {
	if g == nil {
		return nil
	}
	return f(g)
}

func (m *Model) gradOr(g []float32) []float32 {
	if !m.trainBase {
		return nil
	}
	return g
}

// sameBatch checks that ref's last forward ran on m's batch.
func (m *Model) sameBatch(ref *Model) error {
	if ref == nil || ref.a == nil || ref.batch == nil || !ref.fwdOK {
		return errors.New("train: reference model has no forward pass")
	}
	rb, b := ref.batch, m.batch
	if rb.B != b.B || rb.T != b.T || ref.Config.VocabSize != m.Config.VocabSize || len(ref.a.sel) != len(m.a.sel) {
		return errors.New("train: reference model's last forward ran on another batch")
	}
	for i := range b.Targets {
		if b.Targets[i] != rb.Targets[i] || b.Tokens[i] != rb.Tokens[i] {
			return errors.New("train: reference model's last forward ran on another batch")
		}
	}
	return nil
}

// ZeroGrad clears the gradients of the trainable parameters.
func (m *Model) ZeroGrad() {
	if m.loraActive() {
		clear(m.lora.grad)
	}
	if m.trainBase {
		clear(m.grad)
	}
}

// linear computes out = x·Wᵀ for target t of layer l, plus the LoRA term
// when an adapter covers it.
func (m *Model) linear(l, t int, out, x []float32, n int, w []float32, o, in int) {
	linearForward(out, x, w, n, in, o, false)
	if lt := m.loraTensor(l, t); lt != nil {
		m.loraForward(lt, &m.a.L[l].lora[t], l, t, out, x, n)
	}
}

// linearBack sets (or adds to, when accumulate) dx from dy, and adds to dw
// (nil: frozen) and to the adapter's gradients.
func (m *Model) linearBack(l, t int, dx, dy, x []float32, n int, w, dw []float32, o, in int, accumulate bool) {
	if dw != nil {
		linearBackwardWeight(dw, dy, x, n, in, o)
	}
	linearBackwardInput(dx, dy, w, n, in, o, accumulate)
	if lt := m.loraTensor(l, t); lt != nil {
		m.loraBackward(lt, &m.a.L[l].lora[t], l, t, dx, dy, x, n)
	}
}
