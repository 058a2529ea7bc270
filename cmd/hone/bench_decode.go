package main

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/hone-ai/hone/model"
	"github.com/hone-ai/hone/model/ggml"
	"github.com/hone-ai/hone/model/kernels"
)

// decodeShapes are llama2.c's TinyStories model shapes that issue 2's
// decode targets name (its figures: llama2.c's OpenMP run.c on this
// machine, about 440 tok/s for 15M and 55 tok/s for 110M).
var decodeShapes = []struct {
	name string
	cfg  model.Config
}{
	{"stories15M", model.Config{Dim: 288, HiddenDim: 768, NLayers: 6, NHeads: 6, NKVHeads: 6, VocabSize: 32000, ContextLen: 256}},
	{"stories110M", model.Config{Dim: 768, HiddenDim: 2048, NLayers: 12, NHeads: 12, NKVHeads: 12, VocabSize: 32000, ContextLen: 1024}},
}

// benchDecode measures single-token decoding (greedy, KV cache) in tokens
// per second on random-weight models of the stories15M and stories110M
// shapes in F32 and Q8_0 — or on -m MODEL — against the rate at which a
// memory copy measured in the same run could stream the weights: weight
// bytes read per token × tok/s ÷ copy bandwidth is the fraction of memory
// bandwidth decoding uses.
func benchDecode(ctx context.Context, e *env, opts benchOptions, report func(benchResult)) error {
	minTime := 3 * time.Second
	tokens := 128
	if opts.quick {
		minTime, tokens = 500*time.Millisecond, 32
	}
	copyGBs, err := copyBandwidth(ctx, opts.quick)
	if err != nil {
		return err
	}
	report(benchResult{Bench: "decode/memcopy", Value: copyGBs, Unit: "GB/s", Baseline: "none"})

	run := func(name string, m *model.Model) error {
		tps, err := decodeRate(ctx, m, tokens, minTime)
		if err != nil {
			return fmt.Errorf("bench decode %s: %w", name, err)
		}
		bytesPerTok := float64(weightBytesPerToken(m))
		// Read and write bytes of the copy, as the copy is counted.
		bound := copyGBs * 1e9 / bytesPerTok
		report(benchResult{Bench: "decode/" + name, Value: tps, Unit: "tok/s", Baseline: "memcopy-bound", BaselineValue: bound})
		report(benchResult{Bench: "decode/" + name + "/weights", Value: tps * bytesPerTok / 1e9, Unit: "GB/s", Baseline: "memcopy", BaselineValue: copyGBs})
		return nil
	}
	if opts.model != "" {
		m, err := model.Load(opts.model, model.LoadOptions{Tokenizer: opts.tokenizer})
		if err != nil {
			return err
		}
		defer m.Close()
		return run(filepath.Base(opts.model), m)
	}
	for _, sh := range decodeShapes {
		for _, t := range []ggml.Type{ggml.F32, ggml.Q8_0} {
			if err := ctx.Err(); err != nil {
				return err
			}
			m, err := model.NewRandom(sh.cfg, t, 1)
			if err != nil {
				return fmt.Errorf("bench decode: %w", err)
			}
			if err := run(fmt.Sprintf("%s-%s", sh.name, t), m); err != nil {
				return err
			}
			runtime.GC()
		}
	}
	return nil
}

// decodeRate prefills one token and then decodes greedily, returning the
// best tokens/s of repeated runs of n tokens lasting at least minTime in
// all (a run restarts the session when the window would overflow).
func decodeRate(ctx context.Context, m *model.Model, n int, minTime time.Duration) (float64, error) {
	n = min(n, m.Config.ContextLen-1)
	best := 0.0
	var total time.Duration
	for runs := 0; runs < 2 || total < minTime; runs++ {
		s := m.NewSession()
		logits, err := s.Eval(ctx, []int{1})
		if err != nil {
			return 0, err
		}
		start := time.Now()
		for i := 0; i < n; i++ {
			next := argmaxF32(logits)
			if logits, err = s.Eval(ctx, []int{next}); err != nil {
				return 0, err
			}
		}
		d := time.Since(start)
		total += d
		best = max(best, float64(n)/d.Seconds())
	}
	return best, nil
}

func argmaxF32(x []float32) int {
	b := 0
	for i, v := range x {
		if v > x[b] {
			b = i
		}
	}
	return b
}

// weightBytesPerToken is the weight data one decode step reads: every
// matrix in full, the norms, and one embedding row.
func weightBytesPerToken(m *model.Model) int64 {
	size := func(x *kernels.Matrix) int64 {
		if x.Type == ggml.F32 {
			return int64(len(x.F32)) * 4
		}
		return int64(len(x.Data))
	}
	w := &m.Weights
	n := size(w.Output) + size(w.Embed)/int64(max(w.Embed.Rows, 1)) + int64(len(w.OutNorm))*4
	for i := range w.Layers {
		l := &w.Layers[i]
		for _, x := range []*kernels.Matrix{l.Wq, l.Wk, l.Wv, l.Wo, l.WGate, l.WDown, l.WUp} {
			n += size(x)
		}
		n += int64(len(l.AttnNorm)+len(l.FFNNorm)) * 4
	}
	return n
}

// copyBandwidth measures a memory copy split across the cores, counting
// bytes read plus bytes written, best of a few rounds.
func copyBandwidth(ctx context.Context, quick bool) (float64, error) {
	size := 256 << 20
	if quick {
		size = 64 << 20
	}
	src, dst := make([]byte, size), make([]byte, size)
	for i := range src {
		src[i] = byte(i)
	}
	workers := runtime.GOMAXPROCS(0)
	best := 0.0
	for r := 0; r < 5; r++ {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		start := time.Now()
		var wg sync.WaitGroup
		per := (size + workers - 1) / workers
		for w := 0; w < workers; w++ {
			lo, hi := w*per, min((w+1)*per, size)
			wg.Add(1)
			go func() {
				defer wg.Done()
				copy(dst[lo:hi], src[lo:hi])
			}()
		}
		wg.Wait()
		best = max(best, 2*float64(size)/time.Since(start).Seconds()/1e9)
	}
	return best, nil
}
