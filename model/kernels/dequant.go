package kernels

import "github.com/hone-ai/hone/model/ggml"

// dequantRow expands one row of quantized blocks into dst for the
// reference twin. It uses model/ggml's reference decoder when that
// supports the type and this package's own decoder otherwise.
func dequantRow(w *Matrix, src []byte, dst []float32) {
	if err := ggml.Dequantize(w.Type, src, dst); err != nil {
		dequantInto(w.Type, src, dst)
	}
}
