package model

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/hone-ai/hone/model/ggml"
	"github.com/hone-ai/hone/model/kernels"
)

// ErrContextFull is matched (errors.Is) by the error Eval returns when the
// tokens would not fit in the context window. See the package
// documentation for the rule.
var ErrContextFull = errors.New("model: context window full")

// ContextFullError gives the numbers behind an ErrContextFull.
type ContextFullError struct {
	Pos        int // positions already in the session
	N          int // tokens asked to evaluate
	ContextLen int // the model's window
}

func (e *ContextFullError) Error() string {
	return fmt.Sprintf("model: context window full: %d positions used + %d new > %d", e.Pos, e.N, e.ContextLen)
}

// Is makes errors.Is(err, ErrContextFull) true.
func (e *ContextFullError) Is(target error) bool { return target == ErrContextFull }

// prefillBatch is the most tokens one forward pass carries through the
// layers together; longer prompts go in chunks of this size.
const prefillBatch = 128

// Session is one sequence being evaluated: its KV cache and position. A
// Session is not safe for concurrent use; a Model may have many Sessions.
type Session struct {
	m      *Model
	pos    int
	tokens []int // the tokens at positions 0…pos-1
	// kv cache per layer, laid out [pos][KVDim]; grown on demand up to
	// ContextLen positions.
	k, v   [][]float32
	capPos int

	sc *scratch
}

// scratch holds the activations of one forward pass of up to n tokens.
type scratch struct {
	n                  int
	x, xb, q, att, out []float32
	hb, hb2            []float32
	cos, sin           []float32 // RoPE table for n positions
	scores             [][]float32
	emb                []float32
}

// NewSession returns an empty session on m. Its KV cache grows as it is
// used, up to Config.ContextLen positions.
func (m *Model) NewSession() *Session {
	return &Session{m: m, k: make([][]float32, m.Config.NLayers), v: make([][]float32, m.Config.NLayers)}
}

// Model returns the model the session runs on.
func (s *Session) Model() *Model { return s.m }

// Pos is the number of positions in the KV cache: the next token is
// evaluated at this position.
func (s *Session) Pos() int { return s.pos }

// Reset empties the session (keeping its memory for reuse).
func (s *Session) Reset() { s.pos, s.tokens = 0, s.tokens[:0] }

// Tokens returns the tokens in the session, position by position. The
// slice is the session's: do not modify it.
func (s *Session) Tokens() []int { return s.tokens[:s.pos:s.pos] }

// Truncate drops every position from n on, so that the next Eval
// continues from position n. It lets a caller reuse a common prefix. n is
// clamped to [0, Pos()].
func (s *Session) Truncate(n int) {
	if n < 0 {
		n = 0
	}
	if n < s.pos {
		s.pos = n
		s.tokens = s.tokens[:n]
	}
}

// Eval runs tokens through the model at positions Pos()…Pos()+len-1,
// adding them to the KV cache, and returns the logits (VocabSize values)
// of the last token. The returned slice is the caller's. Several tokens
// are processed as a batched prefill. On error (bad token, context full,
// cancellation) the session keeps its previous position.
func (s *Session) Eval(ctx context.Context, tokens []int) ([]float32, error) {
	return s.eval(ctx, tokens, nil)
}

// eval is Eval writing the logits into dst when it has room (Generate
// reuses one buffer), else into a new slice.
func (s *Session) eval(ctx context.Context, tokens []int, dst []float32) ([]float32, error) {
	if err := s.check(tokens); err != nil {
		return nil, err
	}
	start := s.pos
	var logits []float32
	for i := 0; i < len(tokens); i += prefillBatch {
		j := min(i+prefillBatch, len(tokens))
		out, err := s.forward(ctx, tokens[i:j], j == len(tokens), false, dst)
		if err != nil {
			s.pos = start
			return nil, err
		}
		logits = out
	}
	s.tokens = append(s.tokens, tokens...)
	return logits, nil
}

// EvalAll is Eval returning the logits of every token: row i holds the
// prediction for the token after tokens[i].
func (s *Session) EvalAll(ctx context.Context, tokens []int) ([][]float32, error) {
	if err := s.check(tokens); err != nil {
		return nil, err
	}
	start := s.pos
	v := s.m.Config.VocabSize
	flat := make([]float32, len(tokens)*v)
	for i := 0; i < len(tokens); i += prefillBatch {
		j := min(i+prefillBatch, len(tokens))
		out, err := s.forward(ctx, tokens[i:j], true, true, nil)
		if err != nil {
			s.pos = start
			return nil, err
		}
		copy(flat[i*v:], out)
	}
	s.tokens = append(s.tokens, tokens...)
	rows := make([][]float32, len(tokens))
	for i := range rows {
		rows[i] = flat[i*v : (i+1)*v : (i+1)*v]
	}
	return rows, nil
}

// Logits evaluates tokens from position 0 in a fresh session and returns
// the logits of every position (row i predicts token i+1).
func (m *Model) Logits(ctx context.Context, tokens []int) ([][]float32, error) {
	return m.NewSession().EvalAll(ctx, tokens)
}

func (s *Session) check(tokens []int) error {
	if len(tokens) == 0 {
		return errNoTokens
	}
	c := &s.m.Config
	for i, t := range tokens {
		if t < 0 || t >= c.VocabSize {
			return fmt.Errorf("model: token %d at index %d out of range [0, %d)", t, i, c.VocabSize)
		}
	}
	if s.pos+len(tokens) > c.ContextLen {
		return &ContextFullError{Pos: s.pos, N: len(tokens), ContextLen: c.ContextLen}
	}
	return nil
}

// reserve grows the KV cache to hold at least n positions.
func (s *Session) reserve(n int) {
	if n <= s.capPos {
		return
	}
	c := &s.m.Config
	newCap := max(n, 2*s.capPos, 64)
	newCap = min(newCap, c.ContextLen)
	kvDim := c.KVDim()
	for l := range s.k {
		nk := make([]float32, newCap*kvDim)
		nv := make([]float32, newCap*kvDim)
		copy(nk, s.k[l][:s.pos*kvDim])
		copy(nv, s.v[l][:s.pos*kvDim])
		s.k[l], s.v[l] = nk, nv
	}
	s.capPos = newCap
}

func (s *Session) scratchFor(n int) *scratch {
	if s.sc != nil && s.sc.n >= n {
		return s.sc
	}
	c := &s.m.Config
	workers := attnWorkers()
	sc := &scratch{
		n:   n,
		x:   make([]float32, n*c.Dim),
		xb:  make([]float32, n*c.Dim),
		q:   make([]float32, n*c.QDim()),
		att: make([]float32, n*c.QDim()),
		out: make([]float32, n*c.Dim),
		hb:  make([]float32, n*c.HiddenDim),
		hb2: make([]float32, n*c.HiddenDim),
		cos: make([]float32, n*c.RopeDim/2),
		sin: make([]float32, n*c.RopeDim/2),
		emb: make([]float32, c.Dim),
	}
	sc.scores = make([][]float32, workers)
	for i := range sc.scores {
		sc.scores[i] = make([]float32, c.ContextLen)
	}
	s.sc = sc
	return sc
}

func attnWorkers() int { return max(1, min(runtime.GOMAXPROCS(0), 8)) }

// forward evaluates one batch of tokens at s.pos and advances it. It
// returns the logits of the last token, of every token (all), or nil
// (!wantLogits), in dst when it is large enough.
func (s *Session) forward(ctx context.Context, tokens []int, wantLogits, all bool, dst []float32) ([]float32, error) {
	m := s.m
	c := &m.Config
	w := &m.Weights
	n := len(tokens)
	pos0 := s.pos
	s.reserve(pos0 + n)
	sc := s.scratchFor(n)
	dim, qDim, kvDim, hid := c.Dim, c.QDim(), c.KVDim(), c.HiddenDim

	x := sc.x[:n*dim]
	for i, t := range tokens {
		if err := embedRow(w.Embed, t, x[i*dim:(i+1)*dim]); err != nil {
			return nil, err
		}
	}
	m.ropeTable(sc, pos0, n)

	xb, q, att, out := sc.xb[:n*dim], sc.q[:n*qDim], sc.att[:n*qDim], sc.out[:n*dim]
	hb, hb2 := sc.hb[:n*hid], sc.hb2[:n*hid]
	for l := range w.Layers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ly := &w.Layers[l]
		for i := 0; i < n; i++ {
			kernels.RMSNorm(xb[i*dim:(i+1)*dim], x[i*dim:(i+1)*dim], ly.AttnNorm, c.NormEps)
		}
		kc := s.k[l][pos0*kvDim : (pos0+n)*kvDim]
		vc := s.v[l][pos0*kvDim : (pos0+n)*kvDim]
		kernels.MatMul(q, ly.Wq, xb, n)
		kernels.MatMul(kc, ly.Wk, xb, n)
		kernels.MatMul(vc, ly.Wv, xb, n)
		for i := 0; i < n; i++ {
			m.applyRoPE(q[i*qDim:(i+1)*qDim], sc, i)
			m.applyRoPE(kc[i*kvDim:(i+1)*kvDim], sc, i)
		}
		s.attention(sc, l, pos0, n, q, att)
		kernels.MatMul(out, ly.Wo, att, n)
		addTo(x, out)

		for i := 0; i < n; i++ {
			kernels.RMSNorm(xb[i*dim:(i+1)*dim], x[i*dim:(i+1)*dim], ly.FFNNorm, c.NormEps)
		}
		kernels.MatMul(hb, ly.WGate, xb, n)
		kernels.MatMul(hb2, ly.WUp, xb, n)
		kernels.SwiGLU(hb, hb, hb2)
		kernels.MatMul(out, ly.WDown, hb, n)
		addTo(x, out)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.pos = pos0 + n
	if !wantLogits {
		return nil, nil
	}
	first := n - 1
	if all {
		first = 0
	}
	rows := n - first
	for i := first; i < n; i++ {
		kernels.RMSNorm(xb[i*dim:(i+1)*dim], x[i*dim:(i+1)*dim], w.OutNorm, c.NormEps)
	}
	logits := dst
	if len(logits) < rows*c.VocabSize {
		logits = make([]float32, rows*c.VocabSize)
	}
	logits = logits[:rows*c.VocabSize]
	kernels.MatMul(logits, w.Output, xb[first*dim:n*dim], rows)
	return logits, nil
}

// embedRow writes row t of the embedding into dst.
func embedRow(e *kernels.Matrix, t int, dst []float32) error {
	if e.Type == ggml.F32 {
		copy(dst, e.F32[t*e.Cols:(t+1)*e.Cols])
		return nil
	}
	rb, err := e.Type.RowBytes(e.Cols)
	if err != nil {
		return fmt.Errorf("token_embd: %w", err)
	}
	if err := ggml.Dequantize(e.Type, e.Data[t*rb:(t+1)*rb], dst); err != nil {
		return fmt.Errorf("token_embd row %d: %w", t, err)
	}
	return nil
}

func addTo(dst, src []float32) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] += src[i]
	}
}

// ropeTable fills the cos/sin table for positions pos0…pos0+n-1.
func (m *Model) ropeTable(sc *scratch, pos0, n int) {
	half := len(m.rope)
	for i := 0; i < n; i++ {
		p := float64(pos0 + i)
		for j, f := range m.rope {
			sn, cs := math.Sincos(p * f)
			sc.cos[i*half+j] = float32(cs)
			sc.sin[i*half+j] = float32(sn)
		}
	}
}

// applyRoPE rotates adjacent pairs of the first RopeDim elements of every
// head of x (GGML "normal" mode, as llama2.c) for batch row i.
func (m *Model) applyRoPE(x []float32, sc *scratch, i int) {
	hd := m.Config.HeadDim
	half := len(m.rope)
	cs := sc.cos[i*half : (i+1)*half]
	sn := sc.sin[i*half : (i+1)*half]
	for h := 0; h+hd <= len(x); h += hd {
		v := x[h : h+2*half]
		for j := 0; j < half; j++ {
			x0, x1 := v[2*j], v[2*j+1]
			v[2*j] = x0*cs[j] - x1*sn[j]
			v[2*j+1] = x0*sn[j] + x1*cs[j]
		}
	}
}

// attention computes causal grouped-query attention for the n batch rows
// at positions pos0…, reading the layer's KV cache (which already holds the
// batch's keys and values), writing att (n×QDim). Heads run in parallel.
func (s *Session) attention(sc *scratch, layer, pos0, n int, q, att []float32) {
	c := &s.m.Config
	nh := c.NHeads
	workers := min(len(sc.scores), nh)
	// Small jobs are not worth a goroutine: decode on a small model (6 heads
	// of 48 over a few hundred positions) runs faster on one core than
	// paying a fork/join per layer.
	if n*nh*(pos0+n)*c.HeadDim < 1<<18 {
		workers = 1
	}
	if n > 1 {
		// Prefill: each head's scores as one matrix product.
		need := n * (pos0 + n)
		for w := 0; w < workers; w++ {
			if len(sc.scores[w]) < need {
				sc.scores[w] = make([]float32, need)
			}
		}
	}
	do := func(buf []float32, lo, hi int) {
		for h := lo; h < hi; h++ {
			if n == 1 {
				s.attnDecode(buf, layer, pos0, h, q, att)
			} else {
				s.attnPrefill(buf, layer, pos0, n, h, q, att)
			}
		}
	}
	if workers <= 1 {
		do(sc.scores[0], 0, nh)
		return
	}
	var wg sync.WaitGroup
	per := (nh + workers - 1) / workers
	for wkr := 0; wkr < workers; wkr++ {
		lo, hi := wkr*per, min((wkr+1)*per, nh)
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func(buf []float32) {
			defer wg.Done()
			do(buf, lo, hi)
		}(sc.scores[wkr])
	}
	wg.Wait()
}

// attnDecode is attention of head h for the single token at pos0.
func (s *Session) attnDecode(scores []float32, layer, pos0, h int, q, att []float32) {
	c := &s.m.Config
	hd, kvDim := c.HeadDim, c.KVDim()
	kvOff := (h / (c.NHeads / c.NKVHeads)) * hd
	scale := float32(1 / math.Sqrt(float64(hd)))
	kl, vl := s.k[layer], s.v[layer]
	qh := q[h*hd : (h+1)*hd]
	npos := pos0 + 1
	sc := scores[:npos]
	last := (npos-1)*kvDim + kvOff + hd
	kernels.MatVecStrided(sc, kl[kvOff:last], kvDim, qh)
	kernels.Scale(sc, scale)
	kernels.Softmax(sc)
	kernels.MatTVecStrided(att[h*hd:(h+1)*hd], vl[kvOff:last], kvDim, sc)
}

// attnPrefill is causal attention of head h for the n batch rows at
// positions pos0…pos0+n-1: S = scale·Q·Kᵀ (n×P), masked softmax by row,
// then out = S·V, both as matrix products over the strided KV cache.
func (s *Session) attnPrefill(scores []float32, layer, pos0, n, h int, q, att []float32) {
	c := &s.m.Config
	hd, kvDim, qDim := c.HeadDim, c.KVDim(), c.QDim()
	kvOff := (h / (c.NHeads / c.NKVHeads)) * hd
	scale := float32(1 / math.Sqrt(float64(hd)))
	P := pos0 + n
	S := scores[:n*P]
	kl, vl := s.k[layer][kvOff:P*kvDim], s.v[layer][kvOff:P*kvDim]
	kernels.Sgemm(false, true, n, P, hd, scale, q[h*hd:], qDim, kl, kvDim, 0, S, P)
	for i := 0; i < n; i++ {
		row := S[i*P : (i+1)*P]
		kernels.Softmax(row[:pos0+i+1])
		clear(row[pos0+i+1:])
	}
	kernels.Sgemm(false, false, n, hd, P, 1, S, P, vl, kvDim, 0, att[h*hd:], qDim)
}
