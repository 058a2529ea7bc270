//go:build linux

package kernels

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/hone-ai/hone/model/ggml"
	"golang.org/x/sys/unix"
)

// Single-core benchmarks timed with the thread's CPU clock instead of the
// wall clock, so that a machine shared with other work still gives stable
// figures for compute-bound kernels (run with -cpu 1 or any GOMAXPROCS:
// they call the single-threaded inner kernels directly).

func threadCPU() float64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return float64(ts.Sec) + float64(ts.Nsec)/1e9
}

// reportCPU runs f b.N times on one locked OS thread and reports work per
// second of that thread's CPU time in unit.
func reportCPU(b *testing.B, f func(), work float64, unit string) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	f()
	t0 := threadCPU()
	for b.Loop() {
		f()
	}
	if el := threadCPU() - t0; el > 0 {
		b.ReportMetric(work*float64(b.N)/el/1e9, unit)
	}
}

func BenchmarkCPUKernel6x16(b *testing.B) {
	const k = 256
	ap, bp, c := make([]float32, 6*k), make([]float32, 16*k), make([]float32, 6*16)
	reportCPU(b, func() { sgemmKern(k, ap, bp, c, 16, 1, 1) }, 2*6*16*k, "GFLOP/s-cpu")
}

func BenchmarkCPUSgemmSerial(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{256, 512, 1024} {
		x, y, c := randVec(rng, n*n, 1), randVec(rng, n*n, 1), make([]float32, n*n)
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			b.Run(fmt.Sprintf("%d/tA=%v/tB=%v", n, tr[0], tr[1]), func(b *testing.B) {
				ws := newSgemmWork(n, n, n)
				reportCPU(b, func() { sgemmSerial(ws, tr[0], tr[1], n, n, n, 1, x, n, y, n, 0, c, n) }, 2*float64(n*n*n), "GFLOP/s-cpu")
			})
		}
	}
}

func BenchmarkCPUPack(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	n := 1024
	a := randVec(rng, n*n, 1)
	ws := newSgemmWork(96, 2048, 256)
	for _, tr := range []bool{false, true} {
		b.Run(fmt.Sprintf("A/trans=%v", tr), func(b *testing.B) {
			reportCPU(b, func() { packA(ws.a, tr, a, n, 0, 0, 96, 256) }, 96*256, "Gelem/s-cpu")
		})
		b.Run(fmt.Sprintf("B/trans=%v", tr), func(b *testing.B) {
			reportCPU(b, func() { packB(ws.b, tr, a, n, 0, 0, 256, 1024) }, 256*1024, "Gelem/s-cpu")
		})
	}
}

// BenchmarkCPUMatVecRows is the single-threaded row loop of MatVec per
// weight type on a 2048×768 matrix.
func BenchmarkCPUMatVecRows(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	rows, cols := 2048, 768
	x := randVec(rng, cols, 1)
	out := make([]float32, rows)
	for _, typ := range matTypes {
		w := randMatrix(rng, typ, rows, cols)
		rb, _ := typ.RowBytes(cols)
		var acts []actQ8
		switch typ {
		case ggml.Q8_0, ggml.Q4_0, ggml.Q4_K, ggml.Q6_K:
			acts = quantizeActs(typ, x, 1, cols)
		}
		var f func()
		switch typ {
		case ggml.F32:
			f = func() { gemvRows(out, w.F32, cols, x) }
		case ggml.F16:
			f = func() {
				for r := range out {
					out[r] = dotF16(w.Data[r*rb:(r+1)*rb], x)
				}
			}
		case ggml.Q8_0:
			f = func() { dotQ8Rows(out, w.Data, rb, acts[0].q, acts[0].d) }
		case ggml.Q4_0:
			f = func() {
				for r := range out {
					out[r] = dotQ4(w.Data[r*rb:(r+1)*rb], acts[0])
				}
			}
		case ggml.Q4_K:
			f = func() {
				for r := range out {
					out[r] = dotQ4K(w.Data[r*rb:(r+1)*rb], acts[0])
				}
			}
		case ggml.Q6_K:
			f = func() {
				for r := range out {
					out[r] = dotQ6K(w.Data[r*rb:(r+1)*rb], acts[0])
				}
			}
		default:
			continue
		}
		b.Run(fmt.Sprintf("%s/%dx%d", typ, rows, cols), func(b *testing.B) {
			reportCPU(b, f, float64(rows*cols), "Gweights/s-cpu")
		})
	}
}
