package model

import (
	"math"
	"math/rand/v2"
	"slices"
)

// SamplerConfig chooses how the next token is picked from the logits.
//
// Temperature 0 is greedy decoding (argmax, lowest id on ties; the
// repetition penalty still applies when set). Otherwise the steps run in
// this order: repetition penalty, temperature, top-k, top-p, min-p, then a
// draw from the remaining distribution.
type SamplerConfig struct {
	Temperature float32 // 0 = greedy
	TopP        float32 // keep the smallest set of tokens whose probability reaches TopP; 0 or ≥1 = off
	MinP        float32 // drop tokens whose probability is below MinP × the top one's; 0 = off
	// RepeatPenalty divides positive logits and multiplies negative ones
	// of every distinct token among the last RepeatLastN tokens (llama.cpp
	// semantics); 0 or 1 = off.
	RepeatPenalty float32
	TopK          int // keep the K most likely tokens; 0 = off
	// RepeatLastN is how many recent tokens (prompt included) the penalty
	// looks at: 0 means 64, -1 the whole sequence.
	RepeatLastN int
	// Seed seeds the PCG generator (math/rand/v2): the same seed, model
	// and prompt give the same tokens.
	Seed uint64
}

// Sampler picks tokens from logits. It is not safe for concurrent use.
type Sampler struct {
	cfg   SamplerConfig
	rng   *rand.Rand
	cands []cand
	buf   []float32
	seen  map[int]struct{}
}

type cand struct {
	id int
	p  float32 // logit, then probability
}

// NewSampler returns a sampler seeded from cfg.Seed.
func NewSampler(cfg SamplerConfig) *Sampler {
	return &Sampler{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5851f42d4c957f2d)), seen: map[int]struct{}{}}
}

// Sample returns the next token for logits given the tokens so far
// (history, for the repetition penalty). logits is not modified.
func (s *Sampler) Sample(logits []float32, history []int) int {
	cfg := &s.cfg
	l := logits
	if cfg.RepeatPenalty != 0 && cfg.RepeatPenalty != 1 && len(history) > 0 {
		s.buf = append(s.buf[:0], logits...)
		l = s.buf
		n := cfg.RepeatLastN
		if n == 0 {
			n = 64
		}
		recent := history
		if n > 0 && len(recent) > n {
			recent = recent[len(recent)-n:]
		}
		clear(s.seen)
		for _, t := range recent {
			if t < 0 || t >= len(l) {
				continue
			}
			if _, dup := s.seen[t]; dup {
				continue
			}
			s.seen[t] = struct{}{}
			if l[t] > 0 {
				l[t] /= cfg.RepeatPenalty
			} else {
				l[t] *= cfg.RepeatPenalty
			}
		}
	}
	if cfg.Temperature <= 0 {
		return argmax(l)
	}

	// Candidates with logits scaled by the temperature.
	inv := 1 / cfg.Temperature
	c := s.cands[:0]
	for i, v := range l {
		c = append(c, cand{i, v * inv})
	}
	byLogit := func(a, b cand) int {
		if a.p != b.p {
			if a.p > b.p {
				return -1
			}
			return 1
		}
		return a.id - b.id
	}
	sorted := false
	if cfg.TopK > 0 && cfg.TopK < len(c) {
		c = topK(c, cfg.TopK, byLogit)
		sorted = true
	}
	// Softmax over the candidates.
	mx := float32(math.Inf(-1))
	for _, x := range c {
		mx = max(mx, x.p)
	}
	var sum float64
	for i := range c {
		e := math.Exp(float64(c[i].p - mx))
		c[i].p = float32(e)
		sum += e
	}
	for i := range c {
		c[i].p = float32(float64(c[i].p) / sum)
	}
	if cfg.TopP > 0 && cfg.TopP < 1 {
		if !sorted {
			// Tokens below (1-p)/(n-1) can never be needed to reach p
			// (the trick of llama2.c's run.c): sort only the rest.
			cut := (1 - cfg.TopP) / float32(max(len(c)-1, 1))
			k := 0
			for _, x := range c {
				if x.p >= cut {
					c[k] = x
					k++
				}
			}
			c = c[:k]
			slices.SortFunc(c, byLogit)
			sorted = true
		}
		var cum float32
		last := len(c) - 1
		for i, x := range c {
			cum += x.p
			if cum >= cfg.TopP {
				last = i
				break
			}
		}
		c = c[:last+1]
	}
	if cfg.MinP > 0 && cfg.MinP <= 1 {
		var top float32
		for _, x := range c {
			top = max(top, x.p)
		}
		thr := cfg.MinP * top
		k := 0
		for _, x := range c {
			if x.p >= thr {
				c[k] = x
				k++
			}
		}
		c = c[:k]
	}
	s.cands = c[:0]
	var total float64
	for _, x := range c {
		total += float64(x.p)
	}
	r := s.rng.Float64() * total
	var cum float64
	for _, x := range c {
		cum += float64(x.p)
		if r < cum {
			return x.id
		}
	}
	return c[len(c)-1].id
}

// argmax returns the index of the largest value (the first on ties, as
// run.c's sample_argmax).
func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// topK reorders c so that its first k entries are the k best by cmp, in
// order, and returns them.
func topK(c []cand, k int, cmp func(a, b cand) int) []cand {
	// Quickselect then sort the head: O(n + k log k).
	lo, hi := 0, len(c)-1
	for lo < hi {
		p := c[lo+(hi-lo)/2]
		i, j := lo, hi
		for i <= j {
			for cmp(c[i], p) < 0 {
				i++
			}
			for cmp(c[j], p) > 0 {
				j--
			}
			if i <= j {
				c[i], c[j] = c[j], c[i]
				i++
				j--
			}
		}
		if k-1 <= j {
			hi = j
		} else if k-1 >= i {
			lo = i
		} else {
			break
		}
	}
	c = c[:k]
	slices.SortFunc(c, cmp)
	return c
}
