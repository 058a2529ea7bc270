package ggml

import "fmt"

// Dequantize expands len(dst) elements of type t from src into dst.
// src must hold exactly t.RowBytes(len(dst)) bytes.
func Dequantize(t Type, src []byte, dst []float32) error {
	return fmt.Errorf("ggml: dequantize %s: not implemented yet", t)
}
