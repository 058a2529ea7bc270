package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/hone-ai/hone/model/fixtures"
	"github.com/hone-ai/hone/model/ggml"
	"github.com/hone-ai/hone/model/gguf"
)

func randVec(rng *rand.Rand, n int, scale float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = (rng.Float32()*2 - 1) * scale
	}
	return v
}

// f32ToF16 converts to IEEE half precision, rounding to nearest even
// (finite, normal-range inputs are all the tests need).
func f32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23&0xff) - 127 + 15
	mant := b & 0x7fffff
	if exp <= 0 {
		return sign // flush tiny values to zero
	}
	if exp >= 31 {
		return sign | 0x7c00
	}
	h := uint32(exp)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++
	}
	return sign | uint16(h)
}

func putF16(b []byte, f float32) {
	h := f32ToF16(f)
	b[0], b[1] = byte(h), byte(h>>8)
}

// randMatrix builds a rows×cols matrix of type t with random contents in
// the value ranges real checkpoints have.
func randMatrix(rng *rand.Rand, t ggml.Type, rows, cols int) *Matrix {
	m := &Matrix{Type: t, Rows: rows, Cols: cols}
	if t == ggml.F32 {
		m.F32 = randVec(rng, rows*cols, 1)
		return m
	}
	rb, err := t.RowBytes(cols)
	if err != nil {
		panic(err)
	}
	m.Data = make([]byte, rows*rb)
	for i := range m.Data {
		m.Data[i] = byte(rng.UintN(256))
	}
	switch t {
	case ggml.F16:
		for i := 0; i < rows*cols; i++ {
			putF16(m.Data[2*i:], (rng.Float32()*2-1)*2)
		}
	case ggml.BF16:
		for i := 0; i < rows*cols; i++ {
			b := math.Float32bits((rng.Float32()*2 - 1) * 2)
			m.Data[2*i], m.Data[2*i+1] = byte(b>>16), byte(b>>24)
		}
	case ggml.Q8_0:
		for o := 0; o < len(m.Data); o += q8Block {
			putF16(m.Data[o:], rng.Float32()*0.02)
		}
	case ggml.Q4_0:
		for o := 0; o < len(m.Data); o += q4Block {
			putF16(m.Data[o:], rng.Float32()*0.1)
		}
	case ggml.Q4_K:
		for o := 0; o < len(m.Data); o += q4KBlock {
			putF16(m.Data[o:], rng.Float32()*0.01)
			putF16(m.Data[o+2:], rng.Float32()*0.01)
		}
	case ggml.Q6_K:
		for o := 0; o < len(m.Data); o += q6KBlock {
			putF16(m.Data[o+208:], rng.Float32()*0.002)
		}
	}
	return m
}

// closeTo reports |got-want| ≤ rel·scale + abs.
func closeTo(got, want, scale, rel, abs float64) bool {
	return math.Abs(got-want) <= rel*scale+abs
}

func TestSgemm(t *testing.T) {
	// Tolerance: |C − reference| ≤ 1e-5·(Σ_p |alpha·a·b| + |beta·c|) + 1e-6,
	// float32 rounding of sums accumulated in a different order.
	sizes := [][3]int{
		{1, 1, 1}, {3, 17, 31}, {17, 3, 33}, {31, 33, 17}, {6, 16, 256}, {12, 32, 257},
		{63, 65, 1}, {7, 255, 9}, {257, 5, 63}, {33, 257, 300}, {100, 70, 513}, {97, 2100, 20},
	}
	ab := [][2]float32{{1, 0}, {0.5, 2}, {-1.5, 1}, {1, -0.25}}
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for _, sz := range sizes {
			m, n, k := sz[0], sz[1], sz[2]
			for _, ta := range []bool{false, true} {
				for _, tb := range []bool{false, true} {
					ar, ac := m, k
					if ta {
						ar, ac = k, m
					}
					br, bc := k, n
					if tb {
						br, bc = n, k
					}
					lda, ldb, ldc := ac+3, bc+1, n+2
					a := randVec(rng, ar*lda, 1)
					b := randVec(rng, br*ldb, 1)
					// Σ_p |a·b| for every element of C.
					abs := make([]float64, m*n)
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							var s float64
							for p := 0; p < k; p++ {
								var av, bv float32
								if ta {
									av = a[p*lda+i]
								} else {
									av = a[i*lda+p]
								}
								if tb {
									bv = b[j*ldb+p]
								} else {
									bv = b[p*ldb+j]
								}
								s += math.Abs(float64(av * bv))
							}
							abs[i*n+j] = s
						}
					}
					for _, albe := range ab {
						alpha, beta := albe[0], albe[1]
						name := fmt.Sprintf("%dx%dx%d/tA=%v/tB=%v/a=%g/b=%g", m, n, k, ta, tb, alpha, beta)
						c0 := randVec(rng, m*ldc, 1)
						got := append([]float32(nil), c0...)
						want := append([]float32(nil), c0...)
						Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, got, ldc)
						sgemmRef(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc)
						for i := 0; i < m; i++ {
							for j := 0; j < ldc; j++ {
								g, w := got[i*ldc+j], want[i*ldc+j]
								if j >= n {
									if g != c0[i*ldc+j] {
										t.Fatalf("%s: wrote outside C at (%d,%d)", name, i, j)
									}
									continue
								}
								s := abs[i*n+j]*math.Abs(float64(alpha)) + math.Abs(float64(beta*c0[i*ldc+j]))
								if !closeTo(float64(g), float64(w), s, 1e-5, 1e-6) {
									t.Fatalf("%s: C[%d,%d] = %g, reference %g", name, i, j, g, w)
								}
							}
						}
					}
				}
			}
		}
	})
}

func TestSgemmEdgeCases(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		// beta == 0 never reads C: NaNs there must not leak.
		m, n, k := 13, 19, 7
		a, b := randVec(rng, m*k, 1), randVec(rng, k*n, 1)
		c := make([]float32, m*n)
		for i := range c {
			c[i] = float32(math.NaN())
		}
		Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
		for i, v := range c {
			if math.IsNaN(float64(v)) {
				t.Fatalf("beta=0: C[%d] is NaN", i)
			}
		}
		// k == 0 scales C by beta.
		c = []float32{1, 2, 3, 4}
		Sgemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 3, c, 2)
		if c[0] != 3 || c[3] != 12 {
			t.Fatalf("k=0, beta=3: C = %v, want [3 6 9 12]", c)
		}
	})
}

func TestSgemmPanicsOnShortSlices(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(fmt.Sprint(r), "kernels.Sgemm") {
			t.Fatalf("recover() = %v, want a kernels.Sgemm panic", r)
		}
	}()
	Sgemm(false, false, 4, 4, 4, 1, make([]float32, 15), 4, make([]float32, 16), 4, 0, make([]float32, 16), 4)
}

var matTypes = []ggml.Type{ggml.F32, ggml.F16, ggml.BF16, ggml.Q8_0, ggml.Q4_0, ggml.Q4_K, ggml.Q6_K}

func TestMatMul(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for _, typ := range matTypes {
			var colsList []int
			switch typ.BlockSize() {
			case 1:
				colsList = []int{1, 3, 17, 31, 33, 64, 255, 257}
			case 32:
				colsList = []int{32, 64, 96, 288, 768}
			default:
				colsList = []int{256, 512, 768}
			}
			for _, rows := range []int{1, 3, 17, 33, 63, 257} {
				for _, cols := range colsList {
					for _, n := range []int{1, 2, 3, 7, 17} {
						if rows*cols*n > 1<<20 {
							continue
						}
						testMatMulCase(t, rng, typ, rows, cols, n)
					}
				}
			}
		}
	})
}

func testMatMulCase(t *testing.T, rng *rand.Rand, typ ggml.Type, rows, cols, n int) {
	name := fmt.Sprintf("%s %dx%d n=%d", typ, rows, cols, n)
	checkMatMulRef(t, name, randMatrix(rng, typ, rows, cols), randVec(rng, n*cols, 1), n)
}

// checkMatMulRef holds MatMul (MatVec for n = 1) to the reference twin.
// Tolerance: 2e-5·Σ|w·x| + 1e-6 against the reference evaluated on the
// activations the kernel multiplies (after int8 block quantization for
// the integer kernels), and for those kernels the rigorous quantization
// bound Σ|w|·max|x_block|/254 against the exact product with x itself.
func checkMatMulRef(t *testing.T, name string, w *Matrix, x []float32, n int) {
	t.Helper()
	typ, rows, cols := w.Type, w.Rows, w.Cols
	got := make([]float32, n*rows)
	if n == 1 {
		MatVec(got, w, x)
	} else {
		MatMul(got, w, x, n)
	}
	// The reference sees the activations the kernel multiplies: for the
	// integer kernels, x after int8 block quantization.
	xr := x
	intPath := typ == ggml.Q8_0 || typ == ggml.Q4_0 || typ == ggml.Q4_K || typ == ggml.Q6_K
	if intPath {
		xr = make([]float32, len(x))
		nb := cols / 32
		xq, xd := make([]int8, cols), make([]float32, nb)
		for i := 0; i < n; i++ {
			quantizeQ8(xq, xd, x[i*cols:(i+1)*cols])
			for c := range xq {
				xr[i*cols+c] = float32(xq[c]) * xd[c/32]
			}
		}
	}
	want := make([]float32, n*rows)
	matMulRef(want, w, xr, n)
	wrow := make([]float32, cols)
	for r := 0; r < rows; r++ {
		wr := w.row(r, wrow)
		for i := 0; i < n; i++ {
			xi := x[i*cols : (i+1)*cols]
			var s, bound float64
			for c := range wr {
				s += math.Abs(float64(wr[c] * xi[c]))
			}
			if intPath {
				// |x - xq·d| ≤ d/2 = max|x in block|/254 per element.
				for b := 0; b < cols; b += 32 {
					var amax float64
					for _, v := range xi[b : b+32] {
						amax = max(amax, math.Abs(float64(v)))
					}
					for c := b; c < b+32; c++ {
						bound += math.Abs(float64(wr[c])) * amax / 254 * 1.0001
					}
				}
				var exact float64
				for c := range wr {
					exact += float64(wr[c]) * float64(xi[c])
				}
				if g := float64(got[i*rows+r]); !closeTo(g, exact, s, 1e-5, bound+1e-6) {
					t.Fatalf("%s: out[%d,%d] = %g, exact %g beyond the int8 quantization bound %g", name, i, r, g, exact, bound)
				}
			}
			g, wv := got[i*rows+r], want[i*rows+r]
			if !closeTo(float64(g), float64(wv), s, 2e-5, 1e-6) {
				t.Fatalf("%s: out[%d,%d] = %g, reference %g (Σ|w·x| = %g)", name, i, r, g, wv, s)
			}
		}
	}
}

func TestMatMulLargeParallel(t *testing.T) {
	// Big enough to split across goroutines on every path (the F32
	// matrix–vector product splits from gemvParallelMin elements).
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		for _, typ := range matTypes {
			testMatMulCase(t, rng, typ, gemvParallelMin/256+37, 256, 1)
			testMatMulCase(t, rng, typ, 300, 256, 9)
		}
	})
}

// TestDequantMatchesGGML holds the package's own block decoders to
// model/ggml's reference where that implements the type.
func TestDequantMatchesGGML(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, typ := range matTypes {
		if typ == ggml.F32 {
			continue
		}
		cols := 512
		w := randMatrix(rng, typ, 1, cols)
		want := make([]float32, cols)
		if err := ggml.Dequantize(typ, w.Data, want); err != nil {
			if strings.Contains(err.Error(), "not implemented") {
				t.Logf("%s: ggml.Dequantize not available yet: %v", typ, err)
				continue
			}
			t.Fatalf("%s: ggml.Dequantize: %v", typ, err)
		}
		got := make([]float32, cols)
		dequantInto(typ, w.Data, got)
		for i := range got {
			if got[i] != want[i] && !(math.IsNaN(float64(got[i])) && math.IsNaN(float64(want[i]))) {
				t.Fatalf("%s: element %d = %g, ggml %g", typ, i, got[i], want[i])
			}
		}
	}
}

func TestF16ToF32(t *testing.T) {
	cases := []struct {
		h    uint16
		want float32
	}{
		{0x0000, 0}, {0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x0001, 5.960464477539063e-08},
		{0x0400, 6.103515625e-05}, {0x3555, 0.333251953125}, {0x7c00, float32(math.Inf(1))},
	}
	for _, c := range cases {
		if got := f16ToF32(c.h); got != c.want {
			t.Errorf("f16ToF32(%#04x) = %g, want %g", c.h, got, c.want)
		}
	}
	// The F16C conversion agrees with the Go one on every half.
	src := make([]byte, 2*65536)
	for h := 0; h < 65536; h++ {
		src[2*h], src[2*h+1] = byte(h), byte(h>>8)
	}
	forEachPath(t, func(t *testing.T) {
		dst := make([]float32, 65536)
		cvtF16(dst, src)
		for h := range dst {
			want := f16ToF32(uint16(h))
			if math.Float32bits(dst[h]) != math.Float32bits(want) && !(math.IsNaN(float64(want)) && math.IsNaN(float64(dst[h]))) {
				t.Fatalf("cvtF16(%#04x) = %g, want %g", h, dst[h], want)
			}
		}
	})
}

var vecSizes = []int{0, 1, 3, 7, 8, 9, 16, 17, 31, 33, 63, 255, 257, 1000}

func TestDotAxpyScale(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(11, 12))
		for _, n := range vecSizes {
			a, b := randVec(rng, n, 1), randVec(rng, n, 1)
			var s float64
			for i := range a {
				s += math.Abs(float64(a[i] * b[i]))
			}
			if got, want := Dot(a, b), dotRef(a, b); !closeTo(float64(got), float64(want), s, 1e-5, 1e-7) {
				t.Fatalf("Dot n=%d = %g, reference %g", n, got, want)
			}
			y := append([]float32(nil), b...)
			Axpy(0.75, a, y)
			for i := range y {
				if want := b[i] + 0.75*a[i]; !closeTo(float64(y[i]), float64(want), math.Abs(float64(want)), 1e-6, 1e-7) {
					t.Fatalf("Axpy n=%d: y[%d] = %g, want %g", n, i, y[i], want)
				}
			}
			y = append(y[:0], b...)
			Add(y, a)
			for i := range y {
				if y[i] != b[i]+a[i] {
					t.Fatalf("Add n=%d: y[%d] = %g, want %g", n, i, y[i], b[i]+a[i])
				}
			}
			z := append([]float32(nil), a...)
			Scale(z, -3)
			for i := range z {
				if z[i] != -3*a[i] {
					t.Fatalf("Scale n=%d: z[%d] = %g, want %g", n, i, z[i], -3*a[i])
				}
			}
		}
	})
}

func TestRMSNorm(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(13, 14))
		for _, n := range vecSizes[1:] {
			x, w := randVec(rng, n, 3), randVec(rng, n, 1)
			got, want := make([]float32, n), make([]float32, n)
			RMSNorm(got, x, w, 1e-5)
			rmsNormRef(want, x, w, 1e-5)
			for i := range got {
				if !closeTo(float64(got[i]), float64(want[i]), math.Abs(float64(want[i])), 1e-5, 1e-7) {
					t.Fatalf("RMSNorm n=%d: out[%d] = %g, reference %g", n, i, got[i], want[i])
				}
			}
		}
	})
}

func TestSoftmax(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(15, 16))
		for _, n := range append(vecSizes, 32000) {
			for _, scale := range []float32{1, 30, 200} {
				x := randVec(rng, n, scale)
				want := append([]float32(nil), x...)
				Softmax(x)
				softmaxRef(want)
				var sum float64
				for i := range x {
					sum += float64(x[i])
					if !closeTo(float64(x[i]), float64(want[i]), float64(want[i]), 1e-5, 1e-7) {
						t.Fatalf("Softmax n=%d scale=%g: p[%d] = %g, reference %g", n, scale, i, x[i], want[i])
					}
				}
				if n > 0 && math.Abs(sum-1) > 1e-4 {
					t.Fatalf("Softmax n=%d: probabilities sum to %g", n, sum)
				}
			}
		}
	})
}

func TestSwiGLU(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(17, 18))
		for _, n := range vecSizes {
			for _, scale := range []float32{1, 10, 120} {
				g, u := randVec(rng, n, scale), randVec(rng, n, 1)
				got, want := make([]float32, n), make([]float32, n)
				SwiGLU(got, g, u)
				swigluRef(want, g, u)
				for i := range got {
					if !closeTo(float64(got[i]), float64(want[i]), math.Abs(float64(want[i])), 1e-5, 1e-6) {
						t.Fatalf("SwiGLU n=%d: out[%d] = %g (gate %g), reference %g", n, i, got[i], g[i], want[i])
					}
				}
			}
		}
	})
}

func TestRoPE(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	for _, hd := range []int{2, 8, 48, 64, 128, 256} {
		for _, heads := range []int{1, 3, 12} {
			for _, pos := range []int{0, 1, 17, 4095} {
				x := randVec(rng, hd*heads, 1)
				want := append([]float32(nil), x...)
				RoPE(x, hd, pos, 10000)
				ropeRef(want, hd, pos, 10000)
				for i := range x {
					if x[i] != want[i] {
						t.Fatalf("RoPE hd=%d heads=%d pos=%d: x[%d] = %g, reference %g", hd, heads, pos, i, x[i], want[i])
					}
				}
			}
		}
	}
}

func TestMatMulPanicsOnBadShapes(t *testing.T) {
	cases := []struct {
		name string
		w    *Matrix
		x    []float32
		out  []float32
	}{
		{"short x", &Matrix{Type: ggml.F32, Rows: 2, Cols: 4, F32: make([]float32, 8)}, make([]float32, 3), make([]float32, 2)},
		{"short out", &Matrix{Type: ggml.F32, Rows: 2, Cols: 4, F32: make([]float32, 8)}, make([]float32, 4), make([]float32, 1)},
		{"short data", &Matrix{Type: ggml.Q8_0, Rows: 2, Cols: 32, Data: make([]byte, 67)}, make([]float32, 32), make([]float32, 2)},
		{"bad cols", &Matrix{Type: ggml.Q8_0, Rows: 1, Cols: 33, Data: make([]byte, 68)}, make([]float32, 33), make([]float32, 1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(fmt.Sprint(r), "kernels.MatMul") {
					t.Fatalf("recover() = %v, want a kernels.MatMul panic", r)
				}
			}()
			MatVec(c.out, c.w, c.x)
		})
	}
}

func TestNaNPropagates(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		nan := float32(math.NaN())
		x := make([]float32, 19)
		x[3] = nan
		g := append([]float32(nil), x...)
		Softmax(x)
		if !math.IsNaN(float64(x[3])) {
			t.Errorf("Softmax with a NaN input gave p[3] = %g, want NaN", x[3])
		}
		out := make([]float32, len(g))
		SwiGLU(out, g, make([]float32, len(g)))
		if !math.IsNaN(float64(out[3])) {
			t.Errorf("SwiGLU(NaN) = %g, want NaN", out[3])
		}
	})
}

func TestQuantizeQ8(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, nb := range []int{1, 2, 3, 24, 64} {
		x := randVec(rng, nb*32, 4)
		clear(x[:32]) // an all-zero block: d = 0, q = 0
		if nb > 1 {   // exact ties: d = 1, 2.5 → 2 and -3.5 → -4 (half to even)
			x[32], x[33], x[34] = 127, 2.5, -3.5
		}
		wantQ, wantD := make([]int8, len(x)), make([]float32, nb)
		quantizeQ8Go(wantQ, wantD, x)
		forEachPath(t, func(t *testing.T) {
			q, d := make([]int8, len(x)), make([]float32, nb)
			quantizeQ8(q, d, x)
			for i := range d {
				if d[i] != wantD[i] {
					t.Fatalf("nb=%d: d[%d] = %g, want %g", nb, i, d[i], wantD[i])
				}
			}
			for i := range q {
				if q[i] != wantQ[i] {
					t.Fatalf("nb=%d: q[%d] = %d, want %d (x = %g)", nb, i, q[i], wantQ[i], x[i])
				}
			}
		})
		for b := 0; b < nb; b++ {
			for i := b * 32; i < b*32+32; i++ {
				if e := math.Abs(float64(x[i] - float32(wantQ[i])*wantD[b])); e > float64(wantD[b])/2*1.0001 {
					t.Fatalf("nb=%d: x[%d] = %g quantized with error %g > d/2", nb, i, x[i], e)
				}
			}
		}
	}
}

// TestMatVecLlamaCppTensors runs every weight matrix of the quant fixtures
// (written by llama.cpp's llama-quantize) through MatVec and MatMul.
func TestMatVecLlamaCppTensors(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for _, name := range []string{"r256-f16.gguf", "r256-q8_0.gguf", "r256-q4_0.gguf", "r256-q4_k.gguf", "r256-q6_k.gguf"} {
		f, err := gguf.Open(fixtures.Path(t, "quant", name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer f.Close()
		for _, ti := range f.Tensors {
			if len(ti.Dims) != 2 || ti.Type == ggml.F32 {
				continue
			}
			data, err := f.TensorData(ti.Name)
			if err != nil {
				t.Fatalf("%s %s: %v", name, ti.Name, err)
			}
			w := &Matrix{Type: ti.Type, Rows: int(ti.Dims[1]), Cols: int(ti.Dims[0]), Data: data}
			for _, n := range []int{1, 5} {
				checkMatMulRef(t, fmt.Sprintf("%s %s %s n=%d", name, ti.Name, ti.Type, n), w, randVec(rng, n*w.Cols, 1), n)
			}
		}
	}
}

func TestMatVecStrided(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(21, 22))
		// rows × cols within a matrix of row stride ld (attention: rows =
		// positions, cols = head size, ld = KV width).
		for _, tc := range []struct{ rows, cols, ld int }{
			{1, 48, 288}, {7, 48, 288}, {33, 64, 64}, {5, 3, 9}, {4, 8, 8}, {130, 37, 100}, {3, 0, 4}, {0, 5, 5},
		} {
			w := randVec(rng, max(0, (tc.rows-1)*tc.ld+tc.cols), 1)
			x := randVec(rng, tc.cols, 1)
			got, want := make([]float32, tc.rows), make([]float32, tc.rows)
			MatVecStrided(got, w, tc.ld, x)
			matVecStridedRef(want, w, tc.ld, x)
			for r := range got {
				if !closeTo(float64(got[r]), float64(want[r]), float64(tc.cols), 1e-5, 1e-6) {
					t.Fatalf("MatVecStrided %+v: out[%d] = %g, reference %g", tc, r, got[r], want[r])
				}
			}
			// Transposed: x has one weight per row, out one value per column.
			a := randVec(rng, tc.rows, 1)
			gotT, wantT := make([]float32, tc.cols), make([]float32, tc.cols)
			for i := range gotT {
				gotT[i] = float32(math.NaN()) // must be overwritten, not read
			}
			MatTVecStrided(gotT, w, tc.ld, a)
			matTVecStridedRef(wantT, w, tc.ld, a)
			axpyT := make([]float32, tc.cols)
			for r := range a {
				Axpy(a[r], w[r*tc.ld:r*tc.ld+tc.cols], axpyT)
			}
			for c := range gotT {
				if !closeTo(float64(gotT[c]), float64(wantT[c]), float64(tc.rows), 1e-5, 1e-6) {
					t.Fatalf("MatTVecStrided %+v: out[%d] = %g, reference %g", tc, c, gotT[c], wantT[c])
				}
				if gotT[c] != axpyT[c] {
					t.Fatalf("MatTVecStrided %+v: out[%d] = %g, Axpy sequence gives %g", tc, c, gotT[c], axpyT[c])
				}
			}
		}
	})
}

func TestStridedPanicsOnShortSlices(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"MatVecStrided", func() { MatVecStrided(make([]float32, 3), make([]float32, 2*10+7), 10, make([]float32, 8)) }},
		{"MatVecStrided", func() { MatVecStrided(make([]float32, 2), make([]float32, 100), 4, make([]float32, 8)) }},
		{"MatTVecStrided", func() { MatTVecStrided(make([]float32, 8), make([]float32, 2*10+7), 10, make([]float32, 3)) }},
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "kernels."+tc.name) {
					t.Fatalf("recover() = %v, want a kernels.%s panic", r, tc.name)
				}
			}()
			tc.f()
		}()
	}
}
