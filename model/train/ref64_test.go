package train

// A plain float64 reference of every op and of the whole model, written
// independently of the float32 code (naive loops, no kernels), used for
// forward agreement and central finite differences.

import (
	"math"

	"github.com/hone-ai/hone/model"
)

func to64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// linear64: y (n×o) = x (n×i)·Wᵀ.
func linear64(x, w []float64, n, in, o int) []float64 {
	y := make([]float64, n*o)
	for r := 0; r < n; r++ {
		for j := 0; j < o; j++ {
			var s float64
			for k := 0; k < in; k++ {
				s += x[r*in+k] * w[j*in+k]
			}
			y[r*o+j] = s
		}
	}
	return y
}

func rmsnorm64(x, w []float64, n, d int, eps float64) []float64 {
	y := make([]float64, n*d)
	for r := 0; r < n; r++ {
		var ss float64
		for j := 0; j < d; j++ {
			ss += x[r*d+j] * x[r*d+j]
		}
		s := 1 / math.Sqrt(ss/float64(d)+eps)
		for j := 0; j < d; j++ {
			y[r*d+j] = x[r*d+j] * s * w[j]
		}
	}
	return y
}

// rope64 rotates adjacent pairs of the first rd elements of each head; row
// r is at position r mod T.
func rope64(x []float64, n, w, hd, rd, T int, base float64) []float64 {
	y := append([]float64(nil), x...)
	for r := 0; r < n; r++ {
		pos := float64(r % T)
		for h := 0; h < w; h += hd {
			for i := 0; i < rd; i += 2 {
				th := pos * math.Pow(base, -float64(i)/float64(rd))
				c, s := math.Cos(th), math.Sin(th)
				a, b := x[r*w+h+i], x[r*w+h+i+1]
				y[r*w+h+i] = a*c - b*s
				y[r*w+h+i+1] = a*s + b*c
			}
		}
	}
	return y
}

// attention64: causal attention with grouped-query heads.
func attention64(q, k, v []float64, B, T, nh, nkv, hd int) []float64 {
	qd, kvd := nh*hd, nkv*hd
	out := make([]float64, B*T*qd)
	for b := 0; b < B; b++ {
		for h := 0; h < nh; h++ {
			kh := h / (nh / nkv)
			for t := 0; t < T; t++ {
				sc := make([]float64, t+1)
				mx := math.Inf(-1)
				for j := 0; j <= t; j++ {
					var s float64
					for i := 0; i < hd; i++ {
						s += q[(b*T+t)*qd+h*hd+i] * k[(b*T+j)*kvd+kh*hd+i]
					}
					sc[j] = s / math.Sqrt(float64(hd))
					mx = math.Max(mx, sc[j])
				}
				var sum float64
				for j := range sc {
					sc[j] = math.Exp(sc[j] - mx)
					sum += sc[j]
				}
				for j := range sc {
					p := sc[j] / sum
					for i := 0; i < hd; i++ {
						out[(b*T+t)*qd+h*hd+i] += p * v[(b*T+j)*kvd+kh*hd+i]
					}
				}
			}
		}
	}
	return out
}

func swiglu64(g, u []float64) []float64 {
	y := make([]float64, len(g))
	for i := range g {
		y[i] = g[i] / (1 + math.Exp(-g[i])) * u[i]
	}
	return y
}

// logSoftmax64 returns the log-probabilities of each row.
func logSoftmax64(x []float64, n, v int) []float64 {
	y := make([]float64, n*v)
	for r := 0; r < n; r++ {
		mx := math.Inf(-1)
		for _, z := range x[r*v : (r+1)*v] {
			mx = math.Max(mx, z)
		}
		var s float64
		for _, z := range x[r*v : (r+1)*v] {
			s += math.Exp(z - mx)
		}
		l := mx + math.Log(s)
		for i := 0; i < v; i++ {
			y[r*v+i] = x[r*v+i] - l
		}
	}
	return y
}

// ref64 is the whole model in float64 over a flat parameter vector laid
// out like Model.data.
type ref64 struct {
	cfg  model.Config
	tied bool
	p    []float64
}

// loraRef64 is an adapter in float64: per (layer,target) A and B, or nil.
type loraRef64 struct {
	scale   float64
	rank    int
	dropout float32 // with seed: the same masks as the float32 code
	seed    uint64
	a, b    map[[2]int][]float64
}

// forward returns the log-probabilities (N×V) and the final normed hidden
// states (N×D) of a batch.
func (r *ref64) forward(bt *Batch, lo *loraRef64) (logp, hidden []float64) {
	cfg := r.cfg
	segs, _ := layout(cfg, r.tied)
	get := func(name string) []float64 {
		for _, s := range segs {
			if s.Name == name {
				return r.p[s.Off : s.Off+s.Len]
			}
		}
		if name == "output.weight" {
			return get2(segs, r.p, "token_embd.weight")
		}
		panic("no tensor " + name)
	}
	n, d, h, V := bt.B*bt.T, cfg.Dim, cfg.HiddenDim, cfg.VocabSize
	qd, kvd := cfg.NHeads*cfg.HeadDim, cfg.NKVHeads*cfg.HeadDim
	eps := float64(cfg.NormEps)
	emb := get("token_embd.weight")
	x := make([]float64, n*d)
	for i, t := range bt.Tokens {
		copy(x[i*d:(i+1)*d], emb[t*d:(t+1)*d])
	}
	lin := func(l, t int, xin, w []float64, in, o int) []float64 {
		y := linear64(xin, w, n, in, o)
		if lo != nil {
			if a, ok := lo.a[[2]int{l, t}]; ok {
				xd := xin
				if lo.dropout > 0 {
					xd = make([]float64, len(xin))
					for i, v := range xin {
						if dropKeep(lo.seed, l, t, i, lo.dropout) {
							xd[i] = v / (1 - float64(lo.dropout))
						}
					}
				}
				xa := linear64(xd, a, n, in, lo.rank)
				d := linear64(xa, lo.b[[2]int{l, t}], n, lo.rank, o)
				for i := range y {
					y[i] += lo.scale * d[i]
				}
			}
		}
		return y
	}
	for l := 0; l < cfg.NLayers; l++ {
		p := "blk." + itoa(l) + "."
		an := rmsnorm64(x, get(p+"attn_norm.weight"), n, d, eps)
		q := rope64(lin(l, tQ, an, get(p+"attn_q.weight"), d, qd), n, qd, cfg.HeadDim, cfg.RopeDim, bt.T, float64(cfg.RopeBase))
		k := rope64(lin(l, tK, an, get(p+"attn_k.weight"), d, kvd), n, kvd, cfg.HeadDim, cfg.RopeDim, bt.T, float64(cfg.RopeBase))
		v := lin(l, tV, an, get(p+"attn_v.weight"), d, kvd)
		ao := attention64(q, k, v, bt.B, bt.T, cfg.NHeads, cfg.NKVHeads, cfg.HeadDim)
		o := lin(l, tO, ao, get(p+"attn_output.weight"), qd, d)
		for i := range x {
			x[i] += o[i]
		}
		fn := rmsnorm64(x, get(p+"ffn_norm.weight"), n, d, eps)
		g := lin(l, tGate, fn, get(p+"ffn_gate.weight"), d, h)
		u := lin(l, tUp, fn, get(p+"ffn_up.weight"), d, h)
		dn := lin(l, tDown, swiglu64(g, u), get(p+"ffn_down.weight"), h, d)
		for i := range x {
			x[i] += dn[i]
		}
	}
	hidden = rmsnorm64(x, get("output_norm.weight"), n, d, eps)
	logits := linear64(hidden, get("output.weight"), n, d, V)
	return logSoftmax64(logits, n, V), hidden
}

func get2(segs []Segment, p []float64, name string) []float64 {
	for _, s := range segs {
		if s.Name == name {
			return p[s.Off : s.Off+s.Len]
		}
	}
	panic("no tensor " + name)
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
