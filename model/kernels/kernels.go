// Package kernels holds the numeric kernels of the transformer: matrix
// products over float32 and quantized weights, RMSNorm, softmax, RoPE and
// SwiGLU. Each exported kernel has a plain-Go reference twin (ref.go) that
// tests hold the fast path to.
//
// Fast paths: on amd64 CPUs with AVX2, FMA and F16C (checked at run time
// with golang.org/x/sys/cpu) the inner loops are hand-written Go assembly
// (simd_amd64.s); elsewhere, or when built with the purego tag, portable Go
// versions of the same loops run (portable.go). Around them:
//
//   - Sgemm packs op(A) into 6-row and op(B) into 16-column panels
//     (kc = 256 deep) and runs a 6×16 FMA register tile over them, split
//     across goroutines along the longer side of C.
//   - MatVec/MatMul on F32 weights: four rows at a time against x (n = 1),
//     the packed Sgemm for n > 1 (out = x·Wᵀ).
//   - Q8_0, Q4_0, Q4_K and Q6_K weights: x is quantized once per call to
//     int8 blocks of 32 (llama.cpp's scheme) and each weight row is
//     multiplied with integer dot products (maddubs), eight blocks' sums
//     scaled at once; each row serves all n inputs while it is in L1.
//   - F16 (F16C conversion in registers), BF16 and F32-in-Data weights: F16
//     rows dotted directly for n = 1; for n > 1 tiles of 64 rows are expanded
//     to float32 once and multiplied by all inputs with the Sgemm kernel.
//   - Softmax and SwiGLU use a vectorized exp (Cephes polynomial, ≈1 ulp);
//     RoPE computes its angles once per call.
//
// Large problems are split over min(GOMAXPROCS, NumCPU) goroutines spawned
// per call; small ones run on the caller's goroutine. Nothing is cached
// between calls and the package has no mutable state.
package kernels

import (
	"github.com/hone-ai/hone/model/ggml"
)

// Matrix is a row-major weight matrix of Rows×Cols elements. Float32
// matrices keep their values in F32; every other type keeps its raw GGML
// blocks in Data (each row is Type.RowBytes(Cols) bytes).
type Matrix struct {
	Type       ggml.Type
	Rows, Cols int
	F32        []float32
	Data       []byte
}
