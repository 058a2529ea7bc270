package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/hone-ai/hone/model/ggml"
	"github.com/hone-ai/hone/model/kernels"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// benchKernels measures the kernels against baselines timed in the same
// run, interleaved round by round so both see the same machine load:
// sgemm against gonum's blas32.Gemm, sgemv against gonum's Gemv and a
// memory copy, quantized matvecs against the F32 one.
func benchKernels(ctx context.Context, e *env, opts benchOptions, report func(benchResult)) error {
	// Many short alternating rounds, best of each side: robust against a
	// machine shared with other work.
	minTime, rounds := 100*time.Millisecond, 6
	sizes := []int{256, 512, 1024}
	if opts.quick {
		minTime, rounds = 40*time.Millisecond, 4
		sizes = []int{256, 512}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	randVec := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = rng.Float32()*2 - 1
		}
		return v
	}

	// Memory bandwidth reference: a copy split across the cores, counting
	// bytes read plus bytes written.
	copySize := 128 << 20
	if opts.quick {
		copySize = 32 << 20
	}
	src, dst := make([]byte, copySize), make([]byte, copySize)
	for i := range src {
		src[i] = byte(i)
	}
	copyOp := func() { parallelCopy(dst, src) }
	copyT, _, err := bestOf(ctx, rounds, minTime, copyOp, nil)
	if err != nil {
		return err
	}
	copyGBs := func(t float64) float64 { return 2 * float64(copySize) / t / 1e9 }
	report(benchResult{Bench: "memcopy", Value: copyGBs(copyT), Unit: "GB/s", Baseline: "none", BaselineValue: 0})

	// Sgemm against gonum at square sizes, all four transpose combinations
	// at 512.
	for _, n := range sizes {
		a, b, c := randVec(n*n), randVec(n*n), make([]float32, n*n)
		flops := 2 * float64(n) * float64(n) * float64(n)
		combos := [][2]bool{{false, false}}
		if n == 512 && !opts.quick {
			combos = append(combos, [2]bool{false, true}, [2]bool{true, false}, [2]bool{true, true})
		}
		for _, tr := range combos {
			ga := blas32.General{Rows: n, Cols: n, Stride: n, Data: a}
			gb := blas32.General{Rows: n, Cols: n, Stride: n, Data: b}
			gc := blas32.General{Rows: n, Cols: n, Stride: n, Data: c}
			ta, tb := blas.NoTrans, blas.NoTrans
			if tr[0] {
				ta = blas.Trans
			}
			if tr[1] {
				tb = blas.Trans
			}
			ours, base, err := bestOf(ctx, rounds, minTime,
				func() { kernels.Sgemm(tr[0], tr[1], n, n, n, 1, a, n, b, n, 0, c, n) },
				func() { blas32.Gemm(ta, tb, 1, ga, gb, 0, gc) })
			if err != nil {
				return err
			}
			name := fmt.Sprintf("sgemm-%d%s", n, transSuffix(tr))
			report(benchResult{Bench: name, Value: flops / ours / 1e9, Unit: "GFLOP/s",
				Baseline: "gonum-" + name, BaselineValue: flops / base / 1e9})
		}
	}

	// Sgemv (F32 MatVec) against gonum's Gemv and against the copy.
	shapes := [][2]int{{768, 2048}, {2048, 768}, {32000, 768}}
	for _, sh := range shapes {
		rows, cols := sh[0], sh[1]
		wf := randVec(rows * cols)
		x, out := randVec(cols), make([]float32, rows)
		m := &kernels.Matrix{Type: ggml.F32, Rows: rows, Cols: cols, F32: wf}
		ga := blas32.General{Rows: rows, Cols: cols, Stride: cols, Data: wf}
		ours, base, err := bestOf(ctx, rounds, minTime,
			func() { kernels.MatVec(out, m, x) },
			func() {
				blas32.Gemv(blas.NoTrans, 1, ga, blas32.Vector{N: cols, Inc: 1, Data: x}, 0, blas32.Vector{N: rows, Inc: 1, Data: out})
			})
		if err != nil {
			return err
		}
		bytes := 4 * float64(rows*cols)
		name := fmt.Sprintf("sgemv-%dx%d", rows, cols)
		report(benchResult{Bench: name, Value: bytes / ours / 1e9, Unit: "GB/s", Baseline: "gonum-" + name, BaselineValue: bytes / base / 1e9})
		// Against a copy timed in alternation with it (bytes read plus
		// written), the fraction of memory bandwidth used.
		ours, cp, err := bestOf(ctx, rounds, minTime, func() { kernels.MatVec(out, m, x) }, copyOp)
		if err != nil {
			return err
		}
		report(benchResult{Bench: name + "-of-copy", Value: bytes / ours / 1e9, Unit: "GB/s", Baseline: "memcopy", BaselineValue: copyGBs(cp)})

		// Quantized matvecs on the same shape against the F32 one, in
		// weights per second (the ratio is the speed-up).
		for _, t := range []ggml.Type{ggml.F16, ggml.Q8_0, ggml.Q4_0, ggml.Q4_K, ggml.Q6_K} {
			qm, err := randQuantMatrix(rng, t, rows, cols)
			if err != nil {
				return err
			}
			ours, base, err := bestOf(ctx, rounds, minTime,
				func() { kernels.MatVec(out, qm, x) },
				func() { kernels.MatVec(out, m, x) })
			if err != nil {
				return err
			}
			wts := float64(rows * cols)
			report(benchResult{Bench: fmt.Sprintf("matvec-%s-%dx%d", t, rows, cols), Value: wts / ours / 1e9, Unit: "Gw/s",
				Baseline: fmt.Sprintf("matvec-F32-%dx%d", rows, cols), BaselineValue: wts / base / 1e9})
		}
	}
	return nil
}

func transSuffix(tr [2]bool) string {
	s := ""
	if tr[0] {
		s += "-tA"
	}
	if tr[1] {
		s += "-tB"
	}
	return s
}

// bestOf times ours and base (base may be nil) in alternating rounds and
// returns the best seconds per call of each.
func bestOf(ctx context.Context, rounds int, minTime time.Duration, ours, base func()) (float64, float64, error) {
	bo, bb := 0.0, 0.0
	for r := 0; r < rounds; r++ {
		if err := ctx.Err(); err != nil {
			return 0, 0, fmt.Errorf("bench kernels: %w", err)
		}
		t := timeOp(minTime, ours)
		if bo == 0 || t < bo {
			bo = t
		}
		if base != nil {
			t = timeOp(minTime, base)
			if bb == 0 || t < bb {
				bb = t
			}
		}
	}
	return bo, bb, nil
}

// timeOp returns seconds per call of f, run until minTime has passed.
func timeOp(minTime time.Duration, f func()) float64 {
	f() // warm caches and page in
	n := 0
	start := time.Now()
	for {
		f()
		n++
		if el := time.Since(start); el >= minTime {
			return el.Seconds() / float64(n)
		}
	}
}

func parallelCopy(dst, src []byte) {
	w := runtime.GOMAXPROCS(0)
	chunk := (len(src) + w - 1) / w
	var wg sync.WaitGroup
	for lo := 0; lo < len(src); lo += chunk {
		hi := min(lo+chunk, len(src))
		wg.Add(1)
		go func() {
			defer wg.Done()
			copy(dst[lo:hi], src[lo:hi])
		}()
	}
	wg.Wait()
}

// randQuantMatrix fills a rows×cols matrix of type t with random blocks
// whose scales are a fixed small half-precision value (speed does not
// depend on the values).
func randQuantMatrix(rng *rand.Rand, t ggml.Type, rows, cols int) (*kernels.Matrix, error) {
	rb, err := t.RowBytes(cols)
	if err != nil {
		return nil, fmt.Errorf("bench kernels: %w", err)
	}
	data := make([]byte, rows*rb)
	for i := range data {
		data[i] = byte(rng.UintN(256))
	}
	const half = 0x1c00 // 2^-8
	put := func(o int) { data[o], data[o+1] = half&0xff, half>>8 }
	switch t {
	case ggml.F16:
		for o := 0; o < len(data); o += 2 {
			data[o+1] &= 0xbb // keep exponents small and finite
		}
	case ggml.Q8_0, ggml.Q4_0:
		for o := 0; o < len(data); o += t.TypeSize() {
			put(o)
		}
	case ggml.Q4_K:
		for o := 0; o < len(data); o += t.TypeSize() {
			put(o)
			put(o + 2)
		}
	case ggml.Q6_K:
		for o := 0; o < len(data); o += t.TypeSize() {
			put(o + 208)
		}
	}
	return &kernels.Matrix{Type: t, Rows: rows, Cols: cols, Data: data}, nil
}
