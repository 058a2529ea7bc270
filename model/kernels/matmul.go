package kernels

import (
	"fmt"

	"github.com/hone-ai/hone/model/ggml"
)

// checkMatMul panics with a clear message when the slices do not match the
// matrix (the assembly must never run past them).
func checkMatMul(out []float32, w *Matrix, x []float32, n int) int {
	if w.Rows < 0 || w.Cols < 0 || n < 0 {
		panic(fmt.Sprintf("kernels.MatMul: negative size %d×%d, n=%d", w.Rows, w.Cols, n))
	}
	if len(x) < n*w.Cols {
		panic(fmt.Sprintf("kernels.MatMul: x has %d elements, want %d×%d", len(x), n, w.Cols))
	}
	if len(out) < n*w.Rows {
		panic(fmt.Sprintf("kernels.MatMul: out has %d elements, want %d×%d", len(out), n, w.Rows))
	}
	if w.F32 != nil {
		if len(w.F32) < w.Rows*w.Cols {
			panic(fmt.Sprintf("kernels.MatMul: F32 matrix has %d values, want %d×%d", len(w.F32), w.Rows, w.Cols))
		}
		return 0
	}
	rb, err := w.Type.RowBytes(w.Cols)
	if err != nil {
		panic(fmt.Sprintf("kernels.MatMul: %v", err))
	}
	switch w.Type {
	case ggml.F32, ggml.F16, ggml.BF16, ggml.Q8_0, ggml.Q4_0, ggml.Q4_K, ggml.Q6_K:
	default:
		panic(fmt.Sprintf("kernels.MatMul: tensor type %s is not supported", w.Type))
	}
	if len(w.Data) < w.Rows*rb {
		panic(fmt.Sprintf("kernels.MatMul: %s matrix has %d bytes, want %d rows of %d", w.Type, len(w.Data), w.Rows, rb))
	}
	return rb
}

// gemvParallelMin is the size (rows×cols) from which an F32
// matrix–vector product is split across goroutines. Below it (e.g. the
// 288×288 and 768×288 products of a 15M-parameter model) the product is
// memory-bound on one core and the fork/join costs more than the second
// core gains; measured on a shared 2-core Xeon, decode ran ~8% faster
// serial. 768×768 and larger still run in parallel.
const gemvParallelMin = 1 << 19

// matMul is MatMul's fast path.
func matMul(out []float32, w *Matrix, x []float32, n int) {
	rb := checkMatMul(out, w, x, n)
	rows, cols := w.Rows, w.Cols
	if n == 0 || rows == 0 {
		return
	}
	if cols == 0 {
		clear(out[:n*rows])
		return
	}
	switch {
	case w.F32 != nil:
		if n == 1 {
			chunk := rowChunk(rows, rows*cols, gemvParallelMin, 16)
			parallelRange(rows, chunk, func(lo, hi int) {
				gemvRows(out[lo:hi], w.F32[lo*cols:], cols, x[:cols])
			})
			return
		}
		sgemm(false, true, n, rows, cols, 1, x, cols, w.F32, cols, 0, out, rows)
	case w.Type == ggml.Q8_0 || w.Type == ggml.Q4_0 || w.Type == ggml.Q4_K || w.Type == ggml.Q6_K:
		matMulInt8(out, w, rb, x, n)
	case w.Type == ggml.F16 && n == 1:
		chunk := rowChunk(rows, rows*cols/2, 1<<15, 16)
		parallelRange(rows, chunk, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				out[r] = dotF16(w.Data[r*rb:(r+1)*rb], x[:cols])
			}
		})
	case n == 1:
		chunk := rowChunk(rows, rows*cols/4, 1<<15, 16)
		parallelRange(rows, chunk, func(lo, hi int) {
			buf := make([]float32, cols)
			for r := lo; r < hi; r++ {
				dequantInto(w.Type, w.Data[r*rb:(r+1)*rb], buf)
				out[r] = dot(buf, x[:cols])
			}
		})
	default:
		matMulTiles(out, w, rb, x, n)
	}
}

// matMulInt8 multiplies Q8_0/Q4_0/Q4_K/Q6_K weights by activations
// quantized once to int8 blocks of 32 (llama.cpp's scheme): integer dot
// products per block, float scales per block. Each weight row is used for
// all n inputs while it is in L1.
func matMulInt8(out []float32, w *Matrix, rb int, x []float32, n int) {
	rows, cols := w.Rows, w.Cols
	acts := quantizeActs(w.Type, x, n, cols)
	chunk := rowChunk(rows, rows*cols*n/4, 1<<15, 16)
	if w.Type == ggml.Q8_0 {
		if n == 1 {
			a := acts[0]
			parallelRange(rows, chunk, func(lo, hi int) {
				dotQ8Rows(out[lo:hi], w.Data[lo*rb:], rb, a.q, a.d)
			})
			return
		}
		// quantizeActs keeps the n inputs' blocks contiguous.
		nb := cols / 32
		xq, xd := acts[0].q[:n*cols], acts[0].d[:n*nb]
		parallelRange(rows, chunk, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				dotQ8Inputs(out[r:], rows, w.Data[r*rb:(r+1)*rb], xq, xd, nb)
			}
		})
		return
	}
	dotq := dotQ6K
	switch w.Type {
	case ggml.Q4_0:
		dotq = dotQ4
	case ggml.Q4_K:
		dotq = dotQ4K
	}
	parallelRange(rows, chunk, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			wr := w.Data[r*rb : (r+1)*rb]
			for i, a := range acts {
				out[i*rows+r] = dotq(wr, a)
			}
		}
	})
}

// matMulTiles handles the other weight types for n > 1: tiles of rows are
// expanded to float32 once and multiplied by all n inputs with the packed
// Sgemm kernel.
func matMulTiles(out []float32, w *Matrix, rb int, x []float32, n int) {
	const tile = 64
	rows, cols := w.Rows, w.Cols
	chunk := rowChunk(rows, rows*cols*n, 1<<17, tile)
	parallelRange(rows, chunk, func(lo, hi int) {
		buf := make([]float32, min(tile, hi-lo)*cols)
		ws := newSgemmWork(n, min(tile, hi-lo), cols)
		for r := lo; r < hi; r += tile {
			t := min(tile, hi-r)
			for i := 0; i < t; i++ {
				dequantInto(w.Type, w.Data[(r+i)*rb:(r+i+1)*rb], buf[i*cols:(i+1)*cols])
			}
			sgemmSerial(ws, false, true, n, t, cols, 1, x, cols, buf, cols, 0, out[r:], rows)
		}
	})
}
