package model

import (
	"context"
	"testing"

	"github.com/hone-ai/hone/model/ggml"
)

var stories15MCfg = Config{Dim: 288, HiddenDim: 768, NLayers: 6, NHeads: 6, NKVHeads: 6, VocabSize: 32000, ContextLen: 256}

func benchDecode(b *testing.B, cfg Config, t ggml.Type) {
	m, err := NewRandom(cfg, t, 1)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	s := m.NewSession()
	logits, _ := s.Eval(ctx, []int{1})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if s.Pos() >= cfg.ContextLen {
			s.Truncate(1)
		}
		logits, err = s.Eval(ctx, []int{argmax(logits)})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
}

func BenchmarkDecode15MF32(b *testing.B) { benchDecode(b, stories15MCfg, ggml.F32) }
func BenchmarkDecode15MQ8(b *testing.B)  { benchDecode(b, stories15MCfg, ggml.Q8_0) }

func BenchmarkPrefill15MF32(b *testing.B) {
	m, err := NewRandom(stories15MCfg, ggml.F32, 1)
	if err != nil {
		b.Fatal(err)
	}
	toks := make([]int, 128)
	for i := range toks {
		toks[i] = i * 7 % 32000
	}
	s := m.NewSession()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Reset()
		if _, err := s.Eval(context.Background(), toks); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(toks))/b.Elapsed().Seconds(), "tok/s")
}
