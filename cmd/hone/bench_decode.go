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
	copySize := 64 << 20
	if opts.quick {
		minTime, tokens, copySize = 500*time.Millisecond, 32, 16<<20
	}
	cp := newCopier(copySize)
	run := func(name string, m *model.Model) error {
		tps, copyGBs, err := decodeRate(ctx, m, tokens, minTime, cp)
		if err != nil {
			return fmt.Errorf("bench decode %s: %w", name, err)
		}
		bytesPerTok := float64(weightBytesPerToken(m))
		// The rate at which the copy (bytes read + written) could stream
		// the weights once per token.
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

// decodeRate prefills one token and then decodes n tokens greedily, round
// after round until minTime has passed (at least 3 rounds), with a memory
// copy timed between rounds so that both see the same machine load. It
// returns the best tokens/s and the best copy GB/s.
func decodeRate(ctx context.Context, m *model.Model, n int, minTime time.Duration, cp *copier) (tps, copyGBs float64, err error) {
	n = min(n, m.Config.ContextLen-1)
	var total time.Duration
	for rounds := 0; rounds < 3 || total < minTime; rounds++ {
		for i := 0; i < 3; i++ {
			copyGBs = max(copyGBs, cp.run())
		}
		s := m.NewSession()
		logits, err := s.Eval(ctx, []int{1})
		if err != nil {
			return 0, 0, err
		}
		start := time.Now()
		for i := 0; i < n; i++ {
			next := argmaxF32(logits)
			if logits, err = s.Eval(ctx, []int{next}); err != nil {
				return 0, 0, err
			}
		}
		d := time.Since(start)
		total += d
		tps = max(tps, float64(n)/d.Seconds())
	}
	return tps, copyGBs, nil
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

// copier times a memory copy split across the cores, counting bytes read
// plus bytes written.
type copier struct{ src, dst []byte }

func newCopier(size int) *copier {
	c := &copier{src: make([]byte, size), dst: make([]byte, size)}
	for i := range c.src {
		c.src[i] = byte(i)
	}
	copy(c.dst, c.src) // fault the pages in
	return c
}

// run copies once and returns GB/s.
func (c *copier) run() float64 {
	size := len(c.src)
	workers := runtime.GOMAXPROCS(0)
	per := (size + workers - 1) / workers
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*per, min((w+1)*per, size)
		wg.Add(1)
		go func() {
			defer wg.Done()
			copy(c.dst[lo:hi], c.src[lo:hi])
		}()
	}
	wg.Wait()
	return 2 * float64(size) / time.Since(start).Seconds() / 1e9
}
