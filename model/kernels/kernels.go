// Package kernels holds the numeric kernels of the transformer: matrix
// products over float32 and quantized weights, RMSNorm, softmax, RoPE and
// SwiGLU. Each exported kernel has a plain-Go reference twin that tests hold
// the fast path to.
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
