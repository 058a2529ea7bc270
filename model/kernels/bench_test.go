package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/hone-ai/hone/model/ggml"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// Speed is measured only here (never asserted in tests). Compare against
// the gonum baselines of the same run: the machine is shared.

func BenchmarkSgemm(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{256, 512, 1024} {
		x, y, c := randVec(rng, n*n, 1), randVec(rng, n*n, 1), make([]float32, n*n)
		flops := 2 * float64(n) * float64(n) * float64(n)
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			b.Run(fmt.Sprintf("hone/%d/tA=%v/tB=%v", n, tr[0], tr[1]), func(b *testing.B) {
				for b.Loop() {
					Sgemm(tr[0], tr[1], n, n, n, 1, x, n, y, n, 0, c, n)
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
		b.Run(fmt.Sprintf("gonum/%d", n), func(b *testing.B) {
			ga := blas32.General{Rows: n, Cols: n, Stride: n, Data: x}
			gb := blas32.General{Rows: n, Cols: n, Stride: n, Data: y}
			gc := blas32.General{Rows: n, Cols: n, Stride: n, Data: c}
			for b.Loop() {
				blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, ga, gb, 0, gc)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

var benchShapes = [][2]int{{768, 2048}, {2048, 768}, {32000, 768}}

func BenchmarkMatVec(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, sh := range benchShapes {
		rows, cols := sh[0], sh[1]
		x := randVec(rng, cols, 1)
		out := make([]float32, rows)
		for _, typ := range matTypes {
			w := randMatrix(rng, typ, rows, cols)
			bytes := float64(len(w.Data) + 4*len(w.F32))
			b.Run(fmt.Sprintf("%s/%dx%d", typ, rows, cols), func(b *testing.B) {
				for b.Loop() {
					MatVec(out, w, x)
				}
				b.ReportMetric(bytes*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			})
		}
		b.Run(fmt.Sprintf("gonum-sgemv/%dx%d", rows, cols), func(b *testing.B) {
			w := randVec(rng, rows*cols, 1)
			ga := blas32.General{Rows: rows, Cols: cols, Stride: cols, Data: w}
			for b.Loop() {
				blas32.Gemv(blas.NoTrans, 1, ga, blas32.Vector{N: cols, Inc: 1, Data: x}, 0, blas32.Vector{N: rows, Inc: 1, Data: out})
			}
			b.ReportMetric(float64(4*rows*cols)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}

func BenchmarkMatMulPrefill(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 3))
	const n = 64
	rows, cols := 2048, 768
	x := randVec(rng, n*cols, 1)
	out := make([]float32, n*rows)
	for _, typ := range matTypes {
		w := randMatrix(rng, typ, rows, cols)
		b.Run(fmt.Sprintf("%s/%dx%d/n=%d", typ, rows, cols, n), func(b *testing.B) {
			for b.Loop() {
				MatMul(out, w, x, n)
			}
			b.ReportMetric(2*float64(n*rows*cols)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func BenchmarkCopy(b *testing.B) {
	src, dst := make([]byte, 64<<20), make([]byte, 64<<20)
	for b.Loop() {
		copy(dst, src)
	}
	b.ReportMetric(2*float64(len(src))*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}

func BenchmarkElementwise(b *testing.B) {
	rng := rand.New(rand.NewPCG(4, 4))
	x, y, w := randVec(rng, 32000, 5), randVec(rng, 2048, 1), randVec(rng, 2048, 1)
	out := make([]float32, 2048)
	b.Run("Softmax/32000", func(b *testing.B) {
		for b.Loop() {
			Softmax(x)
		}
	})
	b.Run("SwiGLU/2048", func(b *testing.B) {
		for b.Loop() {
			SwiGLU(out, y, w)
		}
	})
	b.Run("RMSNorm/2048", func(b *testing.B) {
		for b.Loop() {
			RMSNorm(out, y, w, 1e-5)
		}
	})
	b.Run("RoPE/768/hd64", func(b *testing.B) {
		for b.Loop() {
			RoPE(y[:768], 64, 100, 10000)
		}
	})
}

var _ = ggml.F32
