//go:build !amd64 || purego

package kernels

// hasAVX2 is false where the assembly kernels are not built.
const hasAVX2 = false

func dot(a, b []float32) float32                      { return dotGo(a, b[:len(a)]) }
func gemvRows(out, w []float32, ldw int, x []float32) { gemvRowsGo(out, w, ldw, x) }
func gemvT(out, w []float32, ldw int, x []float32)    { gemvTGo(out, w, ldw, x) }
func dotQ4(w []byte, a actQ8) float32                 { return dotQ4Go(w, a.q, a.d) }
func dotF16(w []byte, x []float32) float32            { return dotF16Go(w, x) }
func cvtF16(dst []float32, src []byte)                { cvtF16Go(dst, src) }
func expSubSum(x []float32, mx float32) float32       { return expSubSumGo(x, mx) }
func siluMul(out, gate, up []float32)                 { siluMulGo(out, gate[:len(out)], up[:len(out)]) }
func axpy(a float32, x, y []float32)                  { axpyGo(a, x[:len(y)], y) }
func mulScale(out, x, w []float32, s float32)         { mulScaleGo(out, x[:len(out)], w[:len(out)], s) }
func sgemmKern(k int, ap, bp, c []float32, ldc int, alpha, beta float32) {
	sgemmKernGo(k, ap, bp, c, ldc, alpha, beta)
}

func dotQ4K(w []byte, a actQ8) float32 { return dotQ4KGo(w, a) }
func dotQ6K(w []byte, a actQ8) float32 { return dotQ6KGo(w, a) }

func quantizeQ8(xq []int8, xd []float32, x []float32) { quantizeQ8Go(xq, xd, x) }

func packBT16(panel, src []float32, off, ld, kb int) {
	for p := 0; p < kb; p++ {
		d := panel[p*sgNR : p*sgNR+sgNR : p*sgNR+sgNR]
		for jj := range d {
			d[jj] = src[off+jj*ld+p]
		}
	}
}

func packA6(panel, a []float32, off, lda, kb int) { packA6Go(panel, a, off, lda, kb, 0) }

func scatter6(dst []float32, stride int, src []float32, n int) {
	for c := 0; c < n; c++ {
		copy(dst[c*stride:c*stride+6], src[6*c:6*c+6])
	}
}

func scatter16(dst []float32, stride int, src []float32, n int) {
	for c := 0; c < n; c++ {
		copy(dst[c*stride:c*stride+16], src[16*c:16*c+16])
	}
}

func dotQ8Rows(out []float32, w []byte, rb int, xq []int8, xd []float32) {
	for r := range out {
		out[r] = dotQ8Go(w[r*rb:], xq, xd)
	}
}

func dotQ8Inputs(out []float32, outStride int, w []byte, xq []int8, xd []float32, nb int) {
	if nb == 0 {
		return
	}
	for i := 0; i < len(xd)/nb; i++ {
		out[i*outStride] = dotQ8Go(w, xq[i*nb*32:], xd[i*nb:(i+1)*nb])
	}
}
