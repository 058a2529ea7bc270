package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func BenchmarkZZ(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, sh := range [][2]int{{32000, 288}, {288, 288}, {768, 288}} {
		r, c := sh[0], sh[1]
		w := &Matrix{Rows: r, Cols: c, F32: randVec(rng, r*c, 1)}
		x, out := randVec(rng, c, 1), make([]float32, r)
		b.Run(fmt.Sprintf("par/%dx%d", r, c), func(b *testing.B) {
			for b.Loop() {
				MatVec(out, w, x)
			}
			b.ReportMetric(float64(r*c*4)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
		b.Run(fmt.Sprintf("ser/%dx%d", r, c), func(b *testing.B) {
			for b.Loop() {
				gemvRows(out, w.F32, c, x)
			}
			b.ReportMetric(float64(r*c*4)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}
