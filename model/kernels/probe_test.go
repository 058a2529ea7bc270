package kernels

import (
	"math/rand/v2"
	"os"
	"runtime"
	"testing"

	"github.com/hone-ai/hone/model/ggml"
	"golang.org/x/sys/unix"
)

func threadCPU() float64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
	return float64(ts.Sec) + float64(ts.Nsec)/1e9
}

func cpuPerOp(f func(), reps int) float64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	f()
	best := 1e9
	for r := 0; r < 5; r++ {
		t0 := threadCPU()
		for i := 0; i < reps; i++ {
			f()
		}
		best = min(best, (threadCPU()-t0)/float64(reps))
	}
	return best
}

func TestProbe(t *testing.T) {
	if os.Getenv("KPROBE") == "" {
		t.Skip("KPROBE not set")
	}
	rng := rand.New(rand.NewPCG(1, 1))
	const k = 256
	ap, bp, c := make([]float32, 6*k), make([]float32, 16*k), make([]float32, 6*16)
	s := cpuPerOp(func() { sgemmKern(k, ap, bp, c, 16, 1, 1) }, 20000)
	t.Logf("kern6x16: %.1f GFLOP/s/core (thread CPU time)", 2*6*16*k/s/1e9)
	rows, cols := 2048, 768
	x := randVec(rng, cols, 1)
	out := make([]float32, rows)
	for _, typ := range matTypes {
		w := randMatrix(rng, typ, rows, cols)
		var f func()
		if typ == ggml.F32 {
			f = func() { gemvRows(out, w.F32, cols, x) }
		} else {
			rb, _ := typ.RowBytes(cols)
			switch typ {
			case ggml.Q8_0, ggml.Q4_0, ggml.Q4_K, ggml.Q6_K:
				acts := quantizeActs(typ, x, 1, cols)
				f = func() {
					for r := 0; r < rows; r++ {
						wr := w.Data[r*rb : (r+1)*rb]
						switch typ {
						case ggml.Q8_0:
							out[r] = dotQ8(wr, acts[0].q, acts[0].d)
						case ggml.Q4_0:
							out[r] = dotQ4(wr, acts[0])
						case ggml.Q4_K:
							out[r] = dotQ4K(wr, acts[0])
						case ggml.Q6_K:
							out[r] = dotQ6K(wr, acts[0])
						}
					}
				}
			case ggml.F16:
				f = func() {
					for r := 0; r < rows; r++ {
						out[r] = dotF16(w.Data[r*rb:(r+1)*rb], x)
					}
				}
			default:
				continue
			}
		}
		s := cpuPerOp(f, 100)
		t.Logf("%-5s %dx%d 1 core: %.2f Gweights/s  %.1f GB/s", typ, rows, cols, float64(rows*cols)/s/1e9, float64(len(w.Data)+4*len(w.F32))/s/1e9)
	}
}

func TestProbeSgemm(t *testing.T) {
	if os.Getenv("KPROBE") == "" {
		t.Skip("KPROBE not set")
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{256, 512, 1024} {
		a, b, c := randVec(rng, n*n, 1), randVec(rng, n*n, 1), make([]float32, n*n)
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			ws := newSgemmWork(n, n, n)
			s := cpuPerOp(func() { sgemmSerial(ws, tr[0], tr[1], n, n, n, 1, a, n, b, n, 0, c, n) }, max(1, 64*64*64*64/(n*n*n)))
			t.Logf("sgemm 1 core %d tA=%v tB=%v: %.1f GFLOP/s", n, tr[0], tr[1], 2*float64(n*n*n)/s/1e9)
		}
	}
}

func TestProbeGemvDRAM(t *testing.T) {
	if os.Getenv("KPROBE") == "" {
		t.Skip("KPROBE not set")
	}
	rng := rand.New(rand.NewPCG(1, 1))
	rows, cols := 32000, 768
	w := randVec(rng, rows*cols, 1)
	x := randVec(rng, cols, 1)
	out := make([]float32, rows)
	src, dst := make([]byte, 4*rows*cols), make([]byte, 4*rows*cols)
	for r := 0; r < 3; r++ {
		s := cpuPerOp(func() { gemvRows(out, w, cols, x) }, 5)
		c := cpuPerOp(func() { copy(dst, src) }, 5)
		t.Logf("1 core: gemv %.1f GB/s, copy %.1f GB/s (read+write)", float64(4*rows*cols)/s/1e9, float64(8*rows*cols)/c/1e9)
	}
}

func TestProbePack(t *testing.T) {
	if os.Getenv("KPROBE") == "" {
		t.Skip("KPROBE not set")
	}
	rng := rand.New(rand.NewPCG(1, 1))
	n := 1024
	a := randVec(rng, n*n, 1)
	ws := newSgemmWork(96, 2048, 256)
	for _, tr := range []bool{false, true} {
		s := cpuPerOp(func() { packA(ws.a, tr, a, n, 0, 0, 96, 256) }, 200)
		t.Logf("packA trans=%v: %.2f ns/elem", tr, s/(96*256)*1e9)
		s = cpuPerOp(func() { packB(ws.b, tr, a, n, 0, 0, 256, 1024) }, 20)
		t.Logf("packB trans=%v: %.2f ns/elem", tr, s/(1024*256)*1e9)
	}
}
