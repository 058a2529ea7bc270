package kernels

import "math"

// Plain-Go reference twins of the exported kernels: straightforward loops
// that the fast paths are tested against.

func matMulRef(out []float32, w *Matrix, x []float32, n int) {
	row := make([]float32, w.Cols)
	for r := 0; r < w.Rows; r++ {
		wr := w.row(r, row)
		for i := 0; i < n; i++ {
			out[i*w.Rows+r] = dotRef(wr, x[i*w.Cols:(i+1)*w.Cols])
		}
	}
}

// row returns row r of w as float32, dequantizing into buf when needed.
func (w *Matrix) row(r int, buf []float32) []float32 {
	if w.F32 != nil {
		return w.F32[r*w.Cols : (r+1)*w.Cols]
	}
	rb, err := w.Type.RowBytes(w.Cols)
	if err != nil {
		panic(err) // validated when the matrix was built
	}
	dequantRow(w, w.Data[r*rb:(r+1)*rb], buf)
	return buf
}

func sgemmRef(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}

func dotRef(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func rmsNormRef(out, x, w []float32, eps float32) {
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	inv := float32(1 / math.Sqrt(ss/float64(len(x))+float64(eps)))
	for i := range x {
		out[i] = x[i] * inv * w[i]
	}
}

func softmaxRef(x []float32) {
	if len(x) == 0 {
		return
	}
	mx := x[0]
	for _, v := range x[1:] {
		if v > mx {
			mx = v
		}
	}
	var sum float32
	for i, v := range x {
		e := float32(math.Exp(float64(v - mx)))
		x[i] = e
		sum += e
	}
	for i := range x {
		x[i] /= sum
	}
}

func ropeRef(x []float32, headDim, pos int, base float32) {
	for h := 0; h+headDim <= len(x); h += headDim {
		for i := 0; i < headDim; i += 2 {
			freq := math.Pow(float64(base), -float64(i)/float64(headDim))
			s, c := math.Sincos(float64(pos) * freq)
			x0, x1 := x[h+i], x[h+i+1]
			x[h+i] = x0*float32(c) - x1*float32(s)
			x[h+i+1] = x0*float32(s) + x1*float32(c)
		}
	}
}

func swigluRef(out, gate, up []float32) {
	for i := range out {
		g := gate[i]
		out[i] = g / (1 + float32(math.Exp(float64(-g)))) * up[i]
	}
}

func matVecStridedRef(out, w []float32, ldw int, x []float32) {
	for r := range out {
		out[r] = dotRef(w[r*ldw:r*ldw+len(x)], x)
	}
}

func matTVecStridedRef(out, w []float32, ldw int, x []float32) {
	for c := range out {
		var s float64
		for r, a := range x {
			s += float64(a) * float64(w[r*ldw+c])
		}
		out[c] = float32(s)
	}
}
