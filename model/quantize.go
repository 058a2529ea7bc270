package model

import (
	"fmt"

	"github.com/hone-ai/hone/model/ggml"
	"github.com/hone-ai/hone/model/kernels"
)

// quantize converts float32 values (whole rows) to type t.
func quantize(t ggml.Type, f []float32) ([]byte, error) {
	b, err := ggml.Quantize(t, f)
	if err != nil {
		return nil, fmt.Errorf("quantize to %s: %w", t, err)
	}
	return b, nil
}

// dequantizeMatrix returns all values of m as float32 (m.F32 itself for
// an F32 matrix).
func dequantizeMatrix(m *kernels.Matrix) ([]float32, error) {
	if m.Type == ggml.F32 {
		return m.F32, nil
	}
	out := make([]float32, m.Rows*m.Cols)
	if err := ggml.Dequantize(m.Type, m.Data, out); err != nil {
		return nil, err
	}
	return out, nil
}
