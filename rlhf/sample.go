package rlhf

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/hone-ai/hone/model"
	"github.com/hone-ai/hone/model/train"
)

// Sampler draws completions (RLOO rollouts, the lab's replies, the gates'
// held-out replies) from the engine (package model: KV-cache sessions and
// its seeded sampler). A completion ends before a Stop token (not
// included), after MaxTokens tokens, or when the context window is full.
type Sampler struct {
	Temperature float64 // 0 = greedy
	TopK        int     // 0 = whole vocabulary
	MaxTokens   int
	Stop        []int
	// KeepStop ends a completion that a Stop token ended with that token,
	// as training data must have it: a reply's last decision is to stop
	// there, and without the token no loss on the reply sees it (hone
	// train's ratings end with EOS for the same reason). A completion cut
	// off by MaxTokens or the context window has none. Reply drops it
	// again for the text.
	KeepStop bool
}

// Reply is completion c without the stop token KeepStop left at its end:
// the reply's own tokens.
func (s Sampler) Reply(c []int) []int {
	if s.KeepStop && len(c) > 0 && slices.Contains(s.Stop, c[len(c)-1]) {
		return c[:len(c)-1]
	}
	return c
}

// Sample draws one completion of prompt from m, seeded by seed.
func (s Sampler) Sample(ctx context.Context, m *model.Model, prompt []int, seed uint64) ([]int, error) {
	out, err := s.SampleMany(ctx, m, [][]int{prompt}, seed)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// SampleMany draws one completion per prompt. Completion i's sampler is
// seeded from seed and i, so the result does not depend on scheduling:
// runs of consecutive equal prompts (several replies to one prompt) go to
// one session, which evaluates the prompt once, and the runs are spread
// over GOMAXPROCS sessions.
func (s Sampler) SampleMany(ctx context.Context, m *model.Model, prompts [][]int, seed uint64) ([][]int, error) {
	out := make([][]int, len(prompts))
	var runs [][2]int // [from, to) of equal prompts
	for i := 0; i < len(prompts); {
		j := i + 1
		for j < len(prompts) && slices.Equal(prompts[j], prompts[i]) {
			j++
		}
		runs = append(runs, [2]int{i, j})
		i = j
	}
	nw := min(runtime.GOMAXPROCS(0), len(runs))
	sessions := make(chan *model.Session, nw)
	for range nw {
		sessions <- m.NewSession()
	}
	err := parallelDo(ctx, len(runs), func(r int) error {
		sess := <-sessions
		defer func() { sessions <- sess }()
		from, to := runs[r][0], runs[r][1]
		return s.sampleRun(ctx, sess, prompts[from], seed, from, out[from:to])
	})
	return out, err
}

// sampleRun fills out with completions of prompt (sampler seeds from
// seed and first+k), evaluating the prompt once.
func (s Sampler) sampleRun(ctx context.Context, sess *model.Session, prompt []int, seed uint64, first int, out [][]int) error {
	if len(prompt) == 0 {
		return errors.New("sample: empty prompt")
	}
	sess.Reset()
	pl, err := sess.Eval(ctx, prompt)
	if err != nil {
		return fmt.Errorf("sample: prompt of %d tokens: %w", len(prompt), err)
	}
	ctxLen := sess.Model().Config.ContextLen
	for k := range out {
		sess.Truncate(len(prompt))
		smp := model.NewSampler(model.SamplerConfig{Temperature: float32(s.Temperature), TopK: s.TopK, Seed: mix64(seed, uint64(first+k))})
		logits := pl
		var c []int
		// The whole sequence stays within the context window.
		for len(c) < s.MaxTokens && len(prompt)+len(c) < ctxLen {
			if err := ctx.Err(); err != nil {
				return err
			}
			tok := smp.Sample(logits, nil)
			if slices.Contains(s.Stop, tok) {
				if s.KeepStop {
					c = append(c, tok)
				}
				break
			}
			c = append(c, tok)
			if len(c) == s.MaxTokens || len(prompt)+len(c) >= ctxLen {
				break // the last token is never fed back
			}
			if logits, err = sess.Eval(ctx, []int{tok}); err != nil {
				return fmt.Errorf("sample: %w", err)
			}
		}
		out[k] = c
	}
	return nil
}

// mix64 derives a seed from a seed and an index (SplitMix64's finaliser).
func mix64(seed, i uint64) uint64 {
	x := seed ^ (i+1)*0x9e3779b97f4a7c15
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// sampleFrom draws completions from what the training model m computes
// now (its adapter merged), through the engine.
func (s Sampler) sampleFrom(ctx context.Context, m *train.Model, prompts [][]int, seed uint64) ([][]int, error) {
	e, err := m.Inference(nil)
	if err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	return s.SampleMany(ctx, e, prompts, seed)
}

// parallelDo runs fn(i) for i in [0, n) on GOMAXPROCS goroutines; the
// first error wins.
func parallelDo(ctx context.Context, n int, fn func(i int) error) error {
	nw := min(runtime.GOMAXPROCS(0), n)
	if nw < 1 {
		return nil
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	next := make(chan int)
	for range nw {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		if ctx.Err() != nil {
			break
		}
		mu.Lock()
		failed := first != nil
		mu.Unlock()
		if failed {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}
