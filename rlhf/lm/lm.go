// Package lm is the small differentiable Llama the rlhf package trains:
// float32 weights, a full-sequence forward that keeps its activations, the
// matching backward (every op's backward beside its forward), LoRA
// adapters on the linear layers, AdamW, sequence log-probabilities, exact
// per-token KL against a reference and the final hidden state for a
// reward head, plus a KV-cache decoder for sampling.
//
// It exists because rlhf needs gradients of sequence log-probabilities
// with per-sequence coefficients, which the shared training core
// (model/train) was still being written against when rlhf was; it is
// written for the small models hone's lab and tests use and reads the
// weights the engine loads (FromWeights) or a llama2.c checkpoint itself.
package lm

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// Config is the shape of the model.
type Config struct {
	Dim, Hidden, Layers, Heads, KVHeads, Vocab, SeqLen int
	RopeBase, NormEps                                  float32
}

// HeadDim is the width of one attention head.
func (c Config) HeadDim() int { return c.Dim / c.Heads }

// KVDim is the width of the keys and values of all KV heads.
func (c Config) KVDim() int { return c.KVHeads * c.HeadDim() }

func (c Config) validate() error {
	if c.Dim <= 0 || c.Hidden <= 0 || c.Layers <= 0 || c.Heads <= 0 || c.KVHeads <= 0 || c.Vocab <= 0 {
		return fmt.Errorf("lm: bad config %+v", c)
	}
	if c.Dim%c.Heads != 0 || c.Heads%c.KVHeads != 0 || c.HeadDim()%2 != 0 {
		return fmt.Errorf("lm: heads %d / kv heads %d do not divide dim %d evenly", c.Heads, c.KVHeads, c.Dim)
	}
	return nil
}

// Linear names the linear layers LoRA can adapt.
type Linear int

// The linear layers of a block, in GGUF naming order.
const (
	Q Linear = iota
	K
	V
	O
	Gate // w1
	Down // w2
	Up   // w3
	numLinear
)

// LinearNames are the GGUF tensor names of the linear layers.
var LinearNames = [numLinear]string{"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_down", "ffn_up"}

// Layer holds one block's parameters. W[l] is out×in, row-major.
type Layer struct {
	AttnNorm, FFNNorm []float32
	W                 [numLinear][]float32
}

// Params are all the weights of a model.
type Params struct {
	Embed     []float32 // Vocab×Dim
	Layers    []Layer
	FinalNorm []float32
	Cls       []float32 // Vocab×Dim; the same slice as Embed when tied
	Tied      bool
}

// shape returns (out, in) of linear l.
func (c Config) shape(l Linear) (int, int) {
	switch l {
	case Q, O:
		return c.Dim, c.Dim
	case K, V:
		return c.KVDim(), c.Dim
	case Gate, Up:
		return c.Hidden, c.Dim
	default: // Down
		return c.Dim, c.Hidden
	}
}

// newParams allocates zeroed parameters of cfg's shape.
func newParams(c Config, tied bool) *Params {
	p := &Params{Embed: make([]float32, c.Vocab*c.Dim), FinalNorm: make([]float32, c.Dim), Tied: tied}
	if tied {
		p.Cls = p.Embed
	} else {
		p.Cls = make([]float32, c.Vocab*c.Dim)
	}
	p.Layers = make([]Layer, c.Layers)
	for i := range p.Layers {
		p.Layers[i].AttnNorm = make([]float32, c.Dim)
		p.Layers[i].FFNNorm = make([]float32, c.Dim)
		for l := Linear(0); l < numLinear; l++ {
			o, in := c.shape(l)
			p.Layers[i].W[l] = make([]float32, o*in)
		}
	}
	return p
}

// clone deep-copies p.
func (p *Params) clone() *Params {
	q := &Params{Embed: append([]float32(nil), p.Embed...), FinalNorm: append([]float32(nil), p.FinalNorm...), Tied: p.Tied}
	if p.Tied {
		q.Cls = q.Embed
	} else {
		q.Cls = append([]float32(nil), p.Cls...)
	}
	q.Layers = make([]Layer, len(p.Layers))
	for i, l := range p.Layers {
		q.Layers[i].AttnNorm = append([]float32(nil), l.AttnNorm...)
		q.Layers[i].FFNNorm = append([]float32(nil), l.FFNNorm...)
		for j := range l.W {
			q.Layers[i].W[j] = append([]float32(nil), l.W[j]...)
		}
	}
	return q
}

// linear computes out = x·Wᵀ (x: n×in, W: o×in, out: n×o).
func linear(out, x, w []float32, n, in, o int) {
	blas32.Gemm(blas.NoTrans, blas.Trans, 1,
		blas32.General{Rows: n, Cols: in, Stride: in, Data: x},
		blas32.General{Rows: o, Cols: in, Stride: in, Data: w}, 0,
		blas32.General{Rows: n, Cols: o, Stride: o, Data: out})
}

// linearBack accumulates dx += dy·W and, when dw is not nil, dW += dyᵀ·x.
func linearBack(dx, dw, dy, x, w []float32, n, in, o int) {
	if dx != nil {
		blas32.Gemm(blas.NoTrans, blas.NoTrans, 1,
			blas32.General{Rows: n, Cols: o, Stride: o, Data: dy},
			blas32.General{Rows: o, Cols: in, Stride: in, Data: w}, 1,
			blas32.General{Rows: n, Cols: in, Stride: in, Data: dx})
	}
	if dw != nil {
		blas32.Gemm(blas.Trans, blas.NoTrans, 1,
			blas32.General{Rows: n, Cols: o, Stride: o, Data: dy},
			blas32.General{Rows: n, Cols: in, Stride: in, Data: x}, 1,
			blas32.General{Rows: o, Cols: in, Stride: in, Data: dw})
	}
}

// rmsNorm writes y = x·r·w row by row and returns r = 1/sqrt(mean(x²)+eps).
func rmsNorm(y, x, w []float32, n, d int, eps float32, r []float32) {
	for t := 0; t < n; t++ {
		xt := x[t*d : (t+1)*d]
		var ss float64
		for _, v := range xt {
			ss += float64(v) * float64(v)
		}
		rt := float32(1 / math.Sqrt(ss/float64(d)+float64(eps)))
		r[t] = rt
		yt := y[t*d : (t+1)*d]
		for i, v := range xt {
			yt[i] = v * rt * w[i]
		}
	}
}

// rmsNormBack accumulates dx and (when dw is not nil) dw for y = x·r·w.
func rmsNormBack(dx, dw, dy, x, w, r []float32, n, d int) {
	for t := 0; t < n; t++ {
		xt, dyt, dxt := x[t*d:(t+1)*d], dy[t*d:(t+1)*d], dx[t*d:(t+1)*d]
		rt := r[t]
		var s float64
		for i := range xt {
			s += float64(dyt[i]) * float64(w[i]) * float64(xt[i])
			if dw != nil {
				dw[i] += dyt[i] * xt[i] * rt
			}
		}
		c := float32(s) * rt * rt * rt / float32(d)
		for i := range xt {
			dxt[i] += dyt[i]*w[i]*rt - c*xt[i]
		}
	}
}

// ropeTable holds cos/sin per (position, pair) for one head width.
type ropeTable struct {
	half     int
	cos, sin []float32
}

func newRope(c Config, n int) *ropeTable {
	hs := c.HeadDim()
	rt := &ropeTable{half: hs / 2, cos: make([]float32, n*hs/2), sin: make([]float32, n*hs/2)}
	base := float64(c.RopeBase)
	if base == 0 {
		base = 10000
	}
	for p := 0; p < n; p++ {
		for j := 0; j < hs/2; j++ {
			f := 1 / math.Pow(base, float64(2*j)/float64(hs))
			a := float64(p) * f
			rt.cos[p*hs/2+j] = float32(math.Cos(a))
			rt.sin[p*hs/2+j] = float32(math.Sin(a))
		}
	}
	return rt
}

// rope rotates adjacent pairs of each head of row v (position pos);
// inverse rotates by −angle (the backward of the rotation).
func (rt *ropeTable) rope(v []float32, pos int, inverse bool) {
	hs := rt.half * 2
	cs, sn := rt.cos[pos*rt.half:(pos+1)*rt.half], rt.sin[pos*rt.half:(pos+1)*rt.half]
	for h := 0; h < len(v); h += hs {
		for j := 0; j < rt.half; j++ {
			c, s := cs[j], sn[j]
			if inverse {
				s = -s
			}
			a, b := v[h+2*j], v[h+2*j+1]
			v[h+2*j] = a*c - b*s
			v[h+2*j+1] = a*s + b*c
		}
	}
}

func silu(x float32) float32 { return x / (1 + exp32(-x)) }

// exp32 is e^x in float32 (relative error about 2e-7): Cody–Waite range
// reduction to r in [−ln2/2, ln2/2] and a degree-6 Taylor polynomial.
// math.Exp in float64 was a fifth of the training time.
func exp32(x float32) float32 {
	if x > 88 {
		x = 88
	}
	if x < -87 {
		return 0
	}
	const (
		log2e = 1.4426950408889634
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	kf := x*log2e + 0.5
	if x < 0 {
		kf = x*log2e - 0.5
	}
	k := int32(kf)
	r := x - float32(k)*ln2hi - float32(k)*ln2lo
	p := 1 + r*(1+r*(0.5+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720))))))
	return p * math.Float32frombits(uint32(k+127)<<23)
}
