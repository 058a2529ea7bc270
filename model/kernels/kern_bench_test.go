package kernels

import "testing"

func BenchmarkKern6x16(b *testing.B) {
	const k = 256
	ap, bp, c := make([]float32, 6*k), make([]float32, 16*k), make([]float32, 6*16)
	for b.Loop() {
		sgemmKern(k, ap, bp, c, 16, 1, 1)
	}
	b.ReportMetric(2*6*16*k*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
