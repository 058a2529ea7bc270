package model

import (
	"math"
	"slices"
	"testing"
)

func logitsOf(probs ...float64) []float32 {
	l := make([]float32, len(probs))
	for i, p := range probs {
		l[i] = float32(math.Log(p))
	}
	return l
}

func TestSamplerGreedy(t *testing.T) {
	s := NewSampler(SamplerConfig{})
	if got := s.Sample([]float32{0.1, 3, -2, 3}, nil); got != 1 {
		t.Fatalf("greedy = %d, want 1 (first of the tied maxima)", got)
	}
}

func TestSamplerRepeatPenalty(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     SamplerConfig
		logits  []float32
		history []int
		want    int
	}{
		// token 0 (logit 2) is divided by 2.5 → 0.8 < 1.5
		{"positive logit divided", SamplerConfig{RepeatPenalty: 2.5}, []float32{2, 1.5}, []int{0}, 1},
		// token 1 (logit -1) multiplied by 2 → -2 < -1.5
		{"negative logit multiplied", SamplerConfig{RepeatPenalty: 2}, []float32{-1.5, -1}, []int{1}, 0},
		// repeated occurrences count once: 4/2 = 2 > 1.9
		{"distinct tokens once", SamplerConfig{RepeatPenalty: 2}, []float32{4, 1.9}, []int{0, 0, 0}, 0},
		// the window excludes old tokens
		{"window", SamplerConfig{RepeatPenalty: 10, RepeatLastN: 2}, []float32{2, 1}, []int{0, 1, 1}, 0},
		{"off at 1", SamplerConfig{RepeatPenalty: 1}, []float32{2, 1}, []int{0}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig := slices.Clone(tc.logits)
			if got := NewSampler(tc.cfg).Sample(tc.logits, tc.history); got != tc.want {
				t.Fatalf("Sample = %d, want %d", got, tc.want)
			}
			if !slices.Equal(orig, tc.logits) {
				t.Fatal("Sample modified the logits")
			}
		})
	}
}

// frequencies draws n samples and returns the fraction of each token.
func frequencies(cfg SamplerConfig, logits []float32, n int) []float64 {
	s := NewSampler(cfg)
	f := make([]float64, len(logits))
	for i := 0; i < n; i++ {
		f[s.Sample(logits, nil)]++
	}
	for i := range f {
		f[i] /= float64(n)
	}
	return f
}

func TestSamplerDistributions(t *testing.T) {
	l := logitsOf(0.5, 0.3, 0.15, 0.05)
	for _, tc := range []struct {
		name string
		cfg  SamplerConfig
		want []float64
	}{
		{"temperature 1", SamplerConfig{Temperature: 1, Seed: 1}, []float64{0.5, 0.3, 0.15, 0.05}},
		{"top-k 2", SamplerConfig{Temperature: 1, TopK: 2, Seed: 2}, []float64{0.625, 0.375, 0, 0}},
		// cumulative 0.5, 0.8 ≥ 0.7: two tokens
		{"top-p 0.7", SamplerConfig{Temperature: 1, TopP: 0.7, Seed: 3}, []float64{0.625, 0.375, 0, 0}},
		// 0.25×0.5 = 0.125: drops 0.05 only
		{"min-p 0.25", SamplerConfig{Temperature: 1, MinP: 0.25, Seed: 4}, []float64{0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0}},
		// T=2 flattens: p ∝ sqrt(p)
		{"temperature 2", SamplerConfig{Temperature: 2, Seed: 5}, func() []float64 {
			w := []float64{math.Sqrt(.5), math.Sqrt(.3), math.Sqrt(.15), math.Sqrt(.05)}
			s := w[0] + w[1] + w[2] + w[3]
			for i := range w {
				w[i] /= s
			}
			return w
		}()},
		{"top-k 1 is greedy", SamplerConfig{Temperature: 5, TopK: 1, Seed: 6}, []float64{1, 0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := frequencies(tc.cfg, l, 40000)
			for i := range got {
				if math.Abs(got[i]-tc.want[i]) > 0.015 {
					t.Fatalf("frequencies %.3f, want %.3f", got, tc.want)
				}
			}
		})
	}
}

func TestSamplerReproducible(t *testing.T) {
	l := make([]float32, 1000)
	for i := range l {
		l[i] = float32(math.Sin(float64(i)))
	}
	cfg := SamplerConfig{Temperature: 0.9, TopK: 50, TopP: 0.95, MinP: 0.01, RepeatPenalty: 1.1, Seed: 42}
	draw := func(cfg SamplerConfig) []int {
		s := NewSampler(cfg)
		var out []int
		for i := 0; i < 200; i++ {
			out = append(out, s.Sample(l, out))
		}
		return out
	}
	a, b := draw(cfg), draw(cfg)
	if !slices.Equal(a, b) {
		t.Fatal("same seed gave different tokens")
	}
	cfg.Seed = 43
	if slices.Equal(a, draw(cfg)) {
		t.Fatal("different seeds gave the same 200 tokens")
	}
}

func TestTopKSelect(t *testing.T) {
	var c []cand
	for i := 0; i < 500; i++ {
		c = append(c, cand{i, float32((i * 7919) % 501)})
	}
	byLogit := func(a, b cand) int {
		if a.p > b.p {
			return -1
		}
		if a.p < b.p {
			return 1
		}
		return a.id - b.id
	}
	want := slices.Clone(c)
	slices.SortFunc(want, byLogit)
	for _, k := range []int{1, 2, 17, 499} {
		got := topK(slices.Clone(c), k, byLogit)
		if !slices.Equal(got, want[:k]) {
			t.Fatalf("topK(%d) wrong", k)
		}
	}
}
