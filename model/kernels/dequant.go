package kernels

import "github.com/hone-ai/hone/model/ggml"

// dequantRow expands one row of quantized blocks into dst.
func dequantRow(w *Matrix, src []byte, dst []float32) {
	if err := ggml.Dequantize(w.Type, src, dst); err != nil {
		panic(err) // validated when the matrix was built
	}
}
