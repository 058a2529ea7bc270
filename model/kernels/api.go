package kernels

// This file fixes the exported kernel API that the rest of model builds on.
// Each kernel dispatches to its fast path (AVX2+FMA assembly on amd64, see
// simd_amd64.s, or portable Go elsewhere); the plain-Go reference twins the
// tests hold them to are in ref.go.

import (
	"fmt"
	"math"
)

// MatVec computes out[r] = Σ_c W[r,c]·x[c] for every row r of w.
// len(x) must be w.Cols and len(out) w.Rows.
//
// Q8_0 and Q4_0 weights are multiplied by x quantized to int8 blocks of 32
// (llama.cpp's scheme), which costs a relative error of about 2⁻⁸ per
// block of x; the other types are exact up to float32 rounding.
func MatVec(out []float32, w *Matrix, x []float32) {
	matMul(out, w, x, 1)
}

// MatMul computes out = x·Wᵀ for n row vectors: x is n×w.Cols, out is
// n×w.Rows, both row-major. This is the linear-layer form used by prefill
// and training. For n > 1 it is matrix–matrix work: F32 weights go through
// the packed Sgemm, F16/BF16/K-quant tiles are expanded once and multiplied
// by all n inputs, Q8_0/Q4_0 rows are used for all n inputs while in L1.
func MatMul(out []float32, w *Matrix, x []float32, n int) {
	matMul(out, w, x, n)
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices,
// where op(X) is X or Xᵀ. op(A) is m×k, op(B) is k×n, C is m×n; lda, ldb
// and ldc are the row strides of A, B and C as stored. With beta == 0, C is
// not read (NaNs in it do not propagate), as in BLAS.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkSgemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// MatVecStrided computes out[r] = Σ_c w[r*ldw+c]·x[c] for r < len(out),
// c < len(x): a product with a row-major F32 matrix of row stride ldw,
// such as one head's attention scores over a KV cache. It runs on the
// calling goroutine (it is meant for small products); it panics when w is
// too short or ldw < len(x).
func MatVecStrided(out, w []float32, ldw int, x []float32) {
	checkStrided("MatVecStrided", len(out), len(x), w, ldw)
	gemvRows(out, w, ldw, x)
}

// MatTVecStrided computes out[c] = Σ_r x[r]·w[r*ldw+c] for c < len(out),
// r < len(x): the transposed product, such as one head's attention
// output from its weights and the values of a KV cache. Each out element
// accumulates over the rows in order, exactly as clearing out and calling
// Axpy(x[r], row r, out) for every row would. It runs on the calling
// goroutine; it panics when w is too short or ldw < len(out).
func MatTVecStrided(out, w []float32, ldw int, x []float32) {
	checkStrided("MatTVecStrided", len(x), len(out), w, ldw)
	gemvT(out, w, ldw, x)
}

func checkStrided(name string, rows, cols int, w []float32, ldw int) {
	if rows == 0 || cols == 0 {
		return
	}
	if ldw < cols {
		panic(fmt.Sprintf("kernels.%s: ldw=%d < %d columns", name, ldw, cols))
	}
	if len(w) < (rows-1)*ldw+cols {
		panic(fmt.Sprintf("kernels.%s: w has %d elements, needs %d (%d×%d, stride %d)", name, len(w), (rows-1)*ldw+cols, rows, cols, ldw))
	}
}

// Dot returns Σ a[i]·b[i] over len(a) elements.
func Dot(a, b []float32) float32 { return dot(a, b) }

// Axpy computes y[i] += a·x[i] over len(y) elements.
func Axpy(a float32, x, y []float32) { axpy(a, x, y) }

// Add computes dst[i] += src[i] over len(dst) elements (the residual
// connection); bit-identical to the plain loop.
func Add(dst, src []float32) { axpy(1, src, dst) }

// Scale multiplies every element of x by a.
func Scale(x []float32, a float32) {
	for i := range x {
		x[i] *= a
	}
}

// RMSNorm writes out[i] = x[i]/rms(x)·w[i], rms(x) = sqrt(mean(x²)+eps).
func RMSNorm(out, x, w []float32, eps float32) {
	if len(x) == 0 {
		return
	}
	ss := float64(dot(x, x))
	inv := float32(1 / math.Sqrt(ss/float64(len(x))+float64(eps)))
	mulScale(out[:len(x)], x, w[:len(x)], inv)
}

// Softmax replaces x with softmax(x), stable against overflow.
func Softmax(x []float32) {
	if len(x) == 0 {
		return
	}
	mx := x[0]
	for _, v := range x[1:] {
		if v > mx {
			mx = v
		}
	}
	sum := expSubSum(x, mx)
	inv := 1 / sum
	for i := range x {
		x[i] *= inv
	}
}

// RoPE rotates adjacent pairs (x[2i], x[2i+1]) of each head of size headDim
// in x by pos·base^(-2i/headDim) — the GGML "normal" (llama) rope mode,
// which llama2.c also uses. The angles are computed once per call, not per
// head.
func RoPE(x []float32, headDim, pos int, base float32) {
	if headDim < 2 || len(x) < headDim {
		return
	}
	var stack [2 * 128]float32
	var cs []float32
	if headDim <= 128 {
		cs = stack[:headDim]
	} else {
		cs = make([]float32, headDim)
	}
	for i := 0; i+1 < headDim; i += 2 {
		freq := math.Pow(float64(base), -float64(i)/float64(headDim))
		s, c := math.Sincos(float64(pos) * freq)
		cs[i], cs[i+1] = float32(c), float32(s)
	}
	for h := 0; h+headDim <= len(x); h += headDim {
		xh := x[h : h+headDim]
		for i := 0; i+1 < headDim; i += 2 {
			c, s := cs[i], cs[i+1]
			x0, x1 := xh[i], xh[i+1]
			xh[i] = x0*c - x1*s
			xh[i+1] = x0*s + x1*c
		}
	}
}

// SwiGLU writes out[i] = silu(gate[i])·up[i].
func SwiGLU(out, gate, up []float32) { siluMul(out, gate, up) }
