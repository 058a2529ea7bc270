//go:build amd64 && !purego

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// hasAVX2 selects the assembly kernels. It is computed once at package
// initialisation from the CPU's feature bits and never written again.
var hasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C && cpu.X86.HasAVX

// Assembly kernels (simd_amd64.s). Lengths are multiples of 8 unless noted;
// the wrappers below check bounds and handle tails.

//go:noescape
func dotAVX(a, b *float32, n int) float32

//go:noescape
func gemv4AVX(out *float32, w *float32, ldw int, x *float32, n int, groups int)

//go:noescape
func sgemmKernAVX(k int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func dotQ8RowsAVX(out *float32, outStride int, w *byte, wStride int, xq *int8, xqStride int, xd *float32, xdStride int, nb, count int)

//go:noescape
func dotQ4AVX(w *byte, xq *int8, xd *float32, bs *int32, nb int) float32

//go:noescape
func dotF16AVX(w *uint16, x *float32, n int) float32

//go:noescape
func cvtF16AVX(dst *float32, src *uint16, n int)

//go:noescape
func expSubSumAVX(x *float32, n int, mx float32) float32

//go:noescape
func siluMulAVX(out, gate, up *float32, n int)

//go:noescape
func gemvTAVX(out *float32, w *float32, ldw int, x *float32, rows int, n int)

//go:noescape
func axpyAVX(x, y *float32, n int, a float32)

//go:noescape
func mulScaleAVX(out, x, w *float32, n int, s float32)

func dot(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	if !hasAVX2 || n < 8 {
		return dotGo(a, b)
	}
	n8 := n &^ 7
	s := dotAVX(&a[0], &b[0], n8)
	for i := n8; i < n; i++ {
		s += a[i] * b[i]
	}
	return s
}

// gemvRows computes out[r] = w[r*ldw : r*ldw+len(x)]·x for r < len(out).
func gemvRows(out, w []float32, ldw int, x []float32) {
	rows, n := len(out), len(x)
	if rows == 0 {
		return
	}
	if n == 0 {
		clear(out)
		return
	}
	_ = w[(rows-1)*ldw+n-1] // bounds for the assembly below
	if !hasAVX2 || n < 8 {
		gemvRowsGo(out, w, ldw, x)
		return
	}
	n8 := n &^ 7
	r := rows / 4 * 4
	if r > 0 {
		gemv4AVX(&out[0], &w[0], ldw, &x[0], n8, r/4)
	}
	for ; r < rows; r++ {
		out[r] = dotAVX(&w[r*ldw], &x[0], n8)
	}
	if n8 < n {
		for r := 0; r < rows; r++ {
			wr := w[r*ldw+n8 : r*ldw+n]
			s := out[r]
			for i, v := range wr {
				s += v * x[n8+i]
			}
			out[r] = s
		}
	}
}

// sgemmKern computes the 6×16 tile C = alpha·Ap·Bp + beta·C from packed
// panels ap (k×6) and bp (k×16); c must hold 5*ldc+16 elements.
func sgemmKern(k int, ap, bp, c []float32, ldc int, alpha, beta float32) {
	_ = c[5*ldc+15]
	if !hasAVX2 || k == 0 {
		sgemmKernGo(k, ap, bp, c, ldc, alpha, beta)
		return
	}
	_ = ap[6*k-1]
	_ = bp[16*k-1]
	sgemmKernAVX(k, &ap[0], &bp[0], &c[0], ldc, alpha, beta)
}

// dotQ8Rows sets out[r] to the dot product of Q8_0 row r of w (rows rb
// bytes apart) with the quantized activations.
func dotQ8Rows(out []float32, w []byte, rb int, xq []int8, xd []float32) {
	nb, rows := len(xd), len(out)
	if rows == 0 {
		return
	}
	if nb == 0 {
		clear(out)
		return
	}
	_ = w[(rows-1)*rb+nb*34-1]
	_ = xq[nb*32-1]
	if !hasAVX2 {
		for r := range out {
			out[r] = dotQ8Go(w[r*rb:], xq, xd)
		}
		return
	}
	dotQ8RowsAVX(&out[0], 1, &w[0], rb, &xq[0], 0, &xd[0], 0, nb, rows)
}

// dotQ8Inputs sets out[i*outStride] to the dot product of the Q8_0 row w
// with each of the n = len(xd)/nb quantized inputs (xq, xd contiguous).
func dotQ8Inputs(out []float32, outStride int, w []byte, xq []int8, xd []float32, nb int) {
	if nb == 0 || len(xd) == 0 {
		return
	}
	n := len(xd) / nb
	_ = out[(n-1)*outStride]
	_ = w[nb*34-1]
	_ = xq[n*nb*32-1]
	if !hasAVX2 {
		for i := 0; i < n; i++ {
			out[i*outStride] = dotQ8Go(w, xq[i*nb*32:], xd[i*nb:(i+1)*nb])
		}
		return
	}
	dotQ8RowsAVX(&out[0], outStride, &w[0], 0, &xq[0], nb*32, &xd[0], nb, nb, n)
}

func dotQ4(w []byte, a actQ8) float32 {
	nb := len(a.d)
	if nb == 0 {
		return 0
	}
	_ = w[nb*18-1]
	_ = a.q[nb*32-1]
	_ = a.b[nb-1]
	if !hasAVX2 {
		return dotQ4Go(w, a.q, a.d)
	}
	return dotQ4AVX(&w[0], &a.q[0], &a.d[0], &a.b[0], nb)
}

// dotF16 returns Σ f16(w[2i:2i+2])·x[i] over len(x) elements.
func dotF16(w []byte, x []float32) float32 {
	n := len(x)
	if !hasAVX2 || n < 8 {
		return dotF16Go(w, x)
	}
	_ = w[2*n-1]
	n8 := n &^ 7
	s := dotF16AVX((*uint16)(unsafe.Pointer(&w[0])), &x[0], n8)
	for i := n8; i < n; i++ {
		s += f16ToF32(uint16(w[2*i])|uint16(w[2*i+1])<<8) * x[i]
	}
	return s
}

// cvtF16 expands len(dst) little-endian halfs from src.
func cvtF16(dst []float32, src []byte) {
	n := len(dst)
	if !hasAVX2 || n < 8 {
		cvtF16Go(dst, src)
		return
	}
	_ = src[2*n-1]
	n8 := n &^ 7
	cvtF16AVX(&dst[0], (*uint16)(unsafe.Pointer(&src[0])), n8)
	cvtF16Go(dst[n8:], src[2*n8:])
}

// expSubSum sets x[i] = exp(x[i]-mx) and returns the sum.
func expSubSum(x []float32, mx float32) float32 {
	n := len(x)
	if !hasAVX2 || n < 8 {
		return expSubSumGo(x, mx)
	}
	n8 := n &^ 7
	s := expSubSumAVX(&x[0], n8, mx)
	return s + expSubSumGo(x[n8:], mx)
}

func siluMul(out, gate, up []float32) {
	n := len(out)
	gate, up = gate[:n], up[:n]
	if !hasAVX2 || n < 8 {
		siluMulGo(out, gate, up)
		return
	}
	n8 := n &^ 7
	siluMulAVX(&out[0], &gate[0], &up[0], n8)
	siluMulGo(out[n8:], gate[n8:], up[n8:])
}

func axpy(a float32, x, y []float32) {
	n := len(y)
	x = x[:n]
	if !hasAVX2 || n < 8 {
		axpyGo(a, x, y)
		return
	}
	n8 := n &^ 7
	axpyAVX(&x[0], &y[0], n8, a)
	axpyGo(a, x[n8:], y[n8:])
}

// gemvT computes out[c] = Σ_r x[r]·w[r*ldw+c] for c < len(out),
// r < len(x); the caller has checked the bounds.
func gemvT(out, w []float32, ldw int, x []float32) {
	rows, n := len(x), len(out)
	if rows == 0 || n == 0 {
		clear(out)
		return
	}
	_ = w[(rows-1)*ldw+n-1] // bounds for the assembly below
	if !hasAVX2 || n < 8 {
		gemvTGo(out, w, ldw, x)
		return
	}
	n8 := n &^ 7
	gemvTAVX(&out[0], &w[0], ldw, &x[0], rows, n8)
	if n8 < n {
		gemvTGo(out[n8:], w[n8:], ldw, x)
	}
}

func mulScale(out, x, w []float32, s float32) {
	n := len(out)
	x, w = x[:n], w[:n]
	if !hasAVX2 || n < 8 {
		mulScaleGo(out, x, w, s)
		return
	}
	n8 := n &^ 7
	mulScaleAVX(&out[0], &x[0], &w[0], n8, s)
	mulScaleGo(out[n8:], x[n8:], w[n8:], s)
}

//go:noescape
func dotQ4KAVX(w *byte, xq *int8, xd *float32, xs *float32, nsb int) float32

//go:noescape
func dotQ6KAVX(w *byte, xq *int8, xdp *float32, bs *int32, nsb int) float32

// dotQ4K multiplies len(w)/144 Q4_K super-blocks by the activations a.
func dotQ4K(w []byte, a actQ8) float32 {
	nsb := len(a.d) / 8
	if nsb == 0 {
		return 0
	}
	_ = w[nsb*q4KBlock-1]
	_ = a.q[nsb*superSize-1]
	_ = a.s[nsb*8-1]
	if !hasAVX2 {
		return dotQ4KGo(w, a)
	}
	return dotQ4KAVX(&w[0], &a.q[0], &a.d[0], &a.s[0], nsb)
}

// dotQ6K multiplies len(w)/210 Q6_K super-blocks by the activations a.
func dotQ6K(w []byte, a actQ8) float32 {
	nsb := len(a.d) / 8
	if nsb == 0 {
		return 0
	}
	_ = w[nsb*q6KBlock-1]
	_ = a.q[nsb*superSize-1]
	_ = a.p[nsb*16-1]
	_ = a.b[nsb*16-1]
	if !hasAVX2 {
		return dotQ6KGo(w, a)
	}
	return dotQ6KAVX(&w[0], &a.q[0], &a.p[0], &a.b[0], nsb)
}

//go:noescape
func quantizeQ8AVX(x *float32, xq *int8, xd *float32, nb int)

// quantizeQ8 quantizes x (len(xd) blocks of 32) to int8 blocks with
// float32 scales; see quantizeQ8Go.
func quantizeQ8(xq []int8, xd []float32, x []float32) {
	nb := len(xd)
	if nb == 0 {
		return
	}
	_ = x[nb*32-1]
	_ = xq[nb*32-1]
	if !hasAVX2 {
		quantizeQ8Go(xq, xd, x)
		return
	}
	quantizeQ8AVX(&x[0], &xq[0], &xd[0], nb)
}

//go:noescape
func packBT16AVX(dst, src *float32, ld int, k8 int)

// packBT16 packs the 16×kb block of src starting at off (row stride ld)
// transposed into panel (panel[p*16+j] = src[off+j*ld+p]).
func packBT16(panel, src []float32, off, ld, kb int) {
	p0 := 0
	if k8 := kb / 8; hasAVX2 && k8 > 0 {
		_ = panel[16*kb-1]
		_ = src[off+15*ld+kb-1]
		packBT16AVX(&panel[0], &src[off], ld, k8)
		p0 = 8 * k8
	}
	for p := p0; p < kb; p++ {
		d := panel[p*sgNR : p*sgNR+sgNR : p*sgNR+sgNR]
		for jj := range d {
			d[jj] = src[off+jj*ld+p]
		}
	}
}

//go:noescape
func packA6AVX(dst, src *float32, ld int, k8 int)

//go:noescape
func scatter6AVX(dst *float32, stride int, src *float32, n int)

// packA6 packs the 6×kb block of a at off (row stride lda) into
// panel[p*6+i] = a[off+i*lda+p]; panel needs 2 floats of slack past 6·kb.
func packA6(panel, a []float32, off, lda, kb int) {
	p0 := 0
	if k8 := kb / 8; hasAVX2 && k8 > 0 {
		_ = panel[6*kb+1]
		_ = a[off+5*lda+kb-1]
		packA6AVX(&panel[0], &a[off], lda, k8)
		p0 = 8 * k8
	}
	packA6Go(panel, a, off, lda, kb, p0)
}

// scatter6 copies runs src[6c:6c+6] to dst[c*stride:] for c < n. It may
// overwrite dst[c*stride+6 : c*stride+8] and reads src[6n:6n+2].
func scatter6(dst []float32, stride int, src []float32, n int) {
	if n == 0 {
		return
	}
	if !hasAVX2 {
		for c := 0; c < n; c++ {
			copy(dst[c*stride:c*stride+6], src[6*c:6*c+6])
		}
		return
	}
	_ = dst[(n-1)*stride+7]
	_ = src[6*n+1]
	scatter6AVX(&dst[0], stride, &src[0], n)
}

//go:noescape
func scatter16AVX(dst *float32, stride int, src *float32, n int)

// scatter16 copies runs src[16c:16c+16] to dst[c*stride:] for c < n.
func scatter16(dst []float32, stride int, src []float32, n int) {
	if n == 0 {
		return
	}
	if !hasAVX2 {
		for c := 0; c < n; c++ {
			copy(dst[c*stride:c*stride+16], src[16*c:16*c+16])
		}
		return
	}
	_ = dst[(n-1)*stride+15]
	_ = src[16*n-1]
	scatter16AVX(&dst[0], stride, &src[0], n)
}
