package train

// Each operation of the Llama block, forward and backward side by side.
// Shapes: n rows (tokens) of a given width, row-major. Backward functions
// accumulate (+=) into parameter gradients and, unless said otherwise,
// into input gradients; a nil parameter gradient skips that work (frozen
// base).

import (
	"math"
	"runtime"
	"sync"

	"github.com/hone-ai/hone/model/kernels"
)

// parallelFor splits [0,n) into at most GOMAXPROCS contiguous chunks of at
// least minChunk items and runs fn on each concurrently.
func parallelFor(n, minChunk int, fn func(lo, hi int)) {
	w := runtime.GOMAXPROCS(0)
	if minChunk < 1 {
		minChunk = 1
	}
	if c := n / minChunk; c < w {
		w = c
	}
	if w <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < w; i++ {
		lo, hi := n*i/w, n*(i+1)/w
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}

// ---- embedding ----

// embedForward copies row tok[i] of emb (vocab×d) into out row i.
func embedForward(out, emb []float32, tok []int, d int) {
	for i, t := range tok {
		copy(out[i*d:(i+1)*d], emb[t*d:(t+1)*d])
	}
}

// embedBackward accumulates dout rows into the embedding gradient rows.
// Serial: repeated tokens would race.
func embedBackward(demb, dout []float32, tok []int, d int) {
	for i, t := range tok {
		dst, src := demb[t*d:(t+1)*d], dout[i*d:(i+1)*d]
		for j := range dst {
			dst[j] += src[j]
		}
	}
}

// ---- RMSNorm ----

// rmsnormForward writes out = x·inv·w per row and saves inv = 1/rms(x).
func rmsnormForward(out, inv, x, w []float32, n, d int, eps float32) {
	parallelFor(n, 16, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			xr, or := x[i*d:(i+1)*d], out[i*d:(i+1)*d]
			var ss float64
			for _, v := range xr {
				ss += float64(v) * float64(v)
			}
			s := float32(1 / math.Sqrt(ss/float64(d)+float64(eps)))
			inv[i] = s
			for j := range xr {
				or[j] = xr[j] * s * w[j]
			}
		}
	})
}

// rmsnormBackward adds the input gradient to dx and, when dw is not nil,
// the weight gradient to dw. y_j = x_j·s·w_j, s = (mean(x²)+eps)^-½:
// dx_j = s·w_j·dy_j − x_j·s³/d·Σ_k w_k·dy_k·x_k.
func rmsnormBackward(dx, dw, dy, x, w, inv []float32, n, d int) {
	parallelFor(n, 16, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			xr, dyr, dxr := x[i*d:(i+1)*d], dy[i*d:(i+1)*d], dx[i*d:(i+1)*d]
			s := inv[i]
			var dot float32
			for j := range xr {
				dot += w[j] * dyr[j] * xr[j]
			}
			c := s * s * s * dot / float32(d)
			for j := range xr {
				dxr[j] += s*w[j]*dyr[j] - c*xr[j]
			}
		}
	})
	if dw != nil {
		// Columns split across workers: every worker visits all rows.
		parallelFor(d, 32, func(lo, hi int) {
			for i := 0; i < n; i++ {
				s := inv[i]
				xr, dyr := x[i*d:(i+1)*d], dy[i*d:(i+1)*d]
				for j := lo; j < hi; j++ {
					dw[j] += dyr[j] * xr[j] * s
				}
			}
		})
	}
}

// ---- RoPE (adjacent pairs, kernels.RoPE's "normal" mode) ----

// ropeTable holds cos and sin of pos·base^(-2i/ropeDim) for positions
// [0,T) and i in [0, ropeDim/2), computed in float64 as the engine does.
// Only the first ropeDim elements of each head rotate.
type ropeTable struct {
	T, half  int
	cos, sin []float32
}

func newRopeTable(T, ropeDim int, base float32) *ropeTable {
	half := ropeDim / 2
	rt := &ropeTable{T: T, half: half, cos: make([]float32, T*half), sin: make([]float32, T*half)}
	for i := 0; i < half; i++ {
		freq := math.Pow(float64(base), -float64(2*i)/float64(ropeDim))
		for p := 0; p < T; p++ {
			s, c := math.Sincos(float64(p) * freq)
			rt.cos[p*half+i], rt.sin[p*half+i] = float32(c), float32(s)
		}
	}
	return rt
}

// ropeForward rotates, in place, every head of width headDim in rows of
// width w; row r is at position r mod T.
func ropeForward(x []float32, rt *ropeTable, n, w, headDim int) {
	ropeApply(x, rt, n, w, headDim, 1)
}

// ropeBackward rotates gradients back (the transpose of the rotation).
func ropeBackward(dx []float32, rt *ropeTable, n, w, headDim int) {
	ropeApply(dx, rt, n, w, headDim, -1)
}

func ropeApply(x []float32, rt *ropeTable, n, w, headDim int, sign float32) {
	parallelFor(n, 16, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			p := r % rt.T
			cs, sn := rt.cos[p*rt.half:(p+1)*rt.half], rt.sin[p*rt.half:(p+1)*rt.half]
			row := x[r*w : (r+1)*w]
			for h := 0; h+headDim <= w; h += headDim {
				for i := 0; i < rt.half; i++ {
					c, s := cs[i], sign*sn[i]
					x0, x1 := row[h+2*i], row[h+2*i+1]
					row[h+2*i] = x0*c - x1*s
					row[h+2*i+1] = x0*s + x1*c
				}
			}
		}
	})
}

// ---- causal attention with grouped-query heads ----

// attnShape describes a batch of B sequences of T tokens with nh query
// heads and nkv key/value heads of width hd.
type attnShape struct{ B, T, nh, nkv, hd int }

// attentionForward computes out = softmax(q·kᵀ/√hd, causal)·v per
// (sequence, head) and saves the probabilities in att (B×nh×T×T).
// q, out: (B·T)×(nh·hd); k, v: (B·T)×(nkv·hd).
func attentionForward(out, att, q, k, v []float32, s attnShape) {
	qd, kvd, T := s.nh*s.hd, s.nkv*s.hd, s.T
	grp := s.nh / s.nkv
	scale := float32(1 / math.Sqrt(float64(s.hd)))
	parallelFor(s.B*s.nh, 1, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b, h := bh/s.nh, bh%s.nh
			qo, ko := b*T*qd+h*s.hd, b*T*kvd+(h/grp)*s.hd
			a := att[bh*T*T : (bh+1)*T*T]
			kernels.Sgemm(false, true, T, T, s.hd, scale, q[qo:], qd, k[ko:], kvd, 0, a, T)
			for t := 0; t < T; t++ {
				row := a[t*T : (t+1)*T]
				kernels.Softmax(row[:t+1])
				clear(row[t+1:])
			}
			kernels.Sgemm(false, false, T, s.hd, T, 1, a, T, v[ko:], kvd, 0, out[qo:], qd)
		}
	})
}

// attentionBackward writes dq and adds dk, dv (which the caller zeroes)
// from dout. Work is split by (sequence, KV head) so that the query heads
// sharing a KV head accumulate into it without races.
func attentionBackward(dq, dk, dv, dout, att, q, k, v []float32, s attnShape) {
	qd, kvd, T := s.nh*s.hd, s.nkv*s.hd, s.T
	grp := s.nh / s.nkv
	scale := float32(1 / math.Sqrt(float64(s.hd)))
	parallelFor(s.B*s.nkv, 1, func(lo, hi int) {
		da := make([]float32, T*T)
		for bk := lo; bk < hi; bk++ {
			b, kh := bk/s.nkv, bk%s.nkv
			ko := b*T*kvd + kh*s.hd
			for h := kh * grp; h < (kh+1)*grp; h++ {
				qo := b*T*qd + h*s.hd
				a := att[(b*s.nh+h)*T*T : (b*s.nh+h+1)*T*T]
				kernels.Sgemm(false, true, T, T, s.hd, 1, dout[qo:], qd, v[ko:], kvd, 0, da, T)
				kernels.Sgemm(true, false, T, s.hd, T, 1, a, T, dout[qo:], qd, 1, dv[ko:], kvd)
				for t := 0; t < T; t++ {
					ar, dr := a[t*T:(t+1)*T], da[t*T:(t+1)*T]
					var dot float32
					for j := 0; j <= t; j++ {
						dot += ar[j] * dr[j]
					}
					for j := 0; j <= t; j++ {
						dr[j] = ar[j] * (dr[j] - dot)
					}
					clear(dr[t+1:])
				}
				kernels.Sgemm(false, false, T, s.hd, T, scale, da, T, k[ko:], kvd, 0, dq[qo:], qd)
				kernels.Sgemm(true, false, T, s.hd, T, scale, da, T, q[qo:], qd, 1, dk[ko:], kvd)
			}
		}
	})
}

// ---- SwiGLU ----

// swigluForward writes out = silu(gate)·up (kernels.SwiGLU, vectorised).
func swigluForward(out, gate, up []float32) {
	parallelFor(len(out), 4096, func(lo, hi int) {
		kernels.SwiGLU(out[lo:hi], gate[lo:hi], up[lo:hi])
	})
}

// swigluBackward writes (not adds) dgate and dup from dout.
func swigluBackward(dgate, dup, dout, gate, up []float32) {
	parallelFor(len(dout), 4096, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			g := gate[i]
			sg := 1 / (1 + expf(-g))
			silu := g * sg
			dup[i] = dout[i] * silu
			dgate[i] = dout[i] * up[i] * sg * (1 + g*(1-sg))
		}
	})
}

// ---- linear layers (matrix–matrix in both directions) ----
// kernels.Sgemm splits large products across the cores itself.

// linearForward computes out (n×o) = x (n×i)·Wᵀ, W being o×i, or adds to
// out when accumulate is set.
func linearForward(out, x, w []float32, n, in, o int, accumulate bool) {
	kernels.Sgemm(false, true, n, o, in, 1, x, in, w, in, beta(accumulate), out, o)
}

// linearBackwardInput computes dx (n×i) = dy (n×o)·W, adding to dx when
// accumulate is set.
func linearBackwardInput(dx, dy, w []float32, n, in, o int, accumulate bool) {
	kernels.Sgemm(false, false, n, in, o, 1, dy, o, w, in, beta(accumulate), dx, in)
}

// linearBackwardWeight adds dyᵀ (o×n)·x (n×i) to dw (o×i).
func linearBackwardWeight(dw, dy, x []float32, n, in, o int) {
	kernels.Sgemm(true, false, o, in, n, 1, dy, o, x, in, 1, dw, in)
}

func beta(accumulate bool) float32 {
	if accumulate {
		return 1
	}
	return 0
}

// ---- cross-entropy / log-softmax ----

// softmaxRows turns each row of logits (n×v) into probabilities in place
// (kernels.Softmax, vectorised) and records lse[r] = log Σ exp(logits) and,
// where targets[r] ≥ 0, the target's log-probability logp[r] =
// logit[target] − lse, computed from the logits so it never underflows.
func softmaxRows(lse, logp, buf []float32, targets []int, n, v int) {
	parallelFor(n, 4, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := buf[r*v : (r+1)*v]
			am := 0
			for i, x := range row {
				if x > row[am] {
					am = i
				}
			}
			mx := row[am]
			var xt float32
			t := targets[r]
			if t >= 0 {
				xt = row[t]
			}
			kernels.Softmax(row)
			// p[argmax] = 1/Σexp(x−mx), so lse = mx − log p[argmax].
			l := mx - float32(math.Log(float64(row[am])))
			lse[r] = l
			if t >= 0 {
				logp[r] = xt - l
			} else {
				logp[r] = 0
			}
		}
	})
}

// safeLog is log p for a probability that may have underflowed to 0.
func safeLog(p float32) float32 {
	return float32(math.Log(float64(max(p, 1e-37))))
}

// softmaxBackward turns probabilities into logit gradients in place,
// given g[r] = ∂objective/∂logp[r] of the target:
// ∂/∂logit_i = g·(1[i=t] − p_i). klCoef and refProbs (nil when unused) add
// the gradient of klCoef[r]·KL(p‖q), q being the reference's probabilities
// of the same row: p_i·(log p_i − log q_i − KL).
func softmaxBackward(buf []float32, g []float32, targets []int, klCoef, refProbs []float32, n, v int) {
	parallelFor(n, 4, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := buf[r*v : (r+1)*v]
			gr := g[r]
			var kc float32
			if klCoef != nil && refProbs != nil {
				kc = klCoef[r]
			}
			if kc != 0 {
				ref := refProbs[r*v : (r+1)*v]
				var kl float64
				for i, p := range row {
					if p > 0 {
						kl += float64(p) * float64(safeLog(p)-safeLog(ref[i]))
					}
				}
				for i, p := range row {
					row[i] = -gr*p + kc*p*(safeLog(p)-safeLog(ref[i])-float32(kl))
				}
			} else {
				for i, p := range row {
					row[i] = -gr * p
				}
			}
			if t := targets[r]; t >= 0 {
				row[t] += gr
			}
		}
	})
}

// expf returns e^x in float32 with a relative error of a few ulp
// (Cephes' expf: range reduction by ln 2, degree-6 polynomial), several
// times faster than math.Exp. Softmax and SiLU spend most of their time
// here.
func expf(x float32) float32 {
	switch {
	case x < -87.33:
		return 0
	case x > 88.72:
		return float32(math.Inf(1))
	case x != x:
		return x
	}
	fx := x*1.44269504088896341 + 0.5
	n := int32(fx)
	if float32(n) > fx {
		n--
	}
	f := float32(n)
	r := x - f*0.693359375 + f*2.12194440e-4
	z := r * r
	y := ((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r + 5.0000001201e-1
	y = y*z + r + 1
	if n+127 <= 0 {
		return y * math.Float32frombits(uint32(n+127+64)<<23) * 5.421010862427522e-20 // 2^-64
	}
	if n+127 >= 255 {
		return y * math.Float32frombits(uint32(n+127-1)<<23) * 2
	}
	return y * math.Float32frombits(uint32(n+127)<<23)
}
