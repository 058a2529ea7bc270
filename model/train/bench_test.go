package train

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/hone-ai/hone/model"
)

// BenchmarkTrainStep is one full training step (forward, backward, AdamW)
// on the stories15M shape, B=2, T=128; ReportMetric gives tokens/s.
func BenchmarkTrainStep(b *testing.B) {
	for _, mode := range []string{"full", "lora"} {
		b.Run(mode, func(b *testing.B) {
			cfg := model.Config{Dim: 288, HiddenDim: 768, NLayers: 6, NHeads: 6, NKVHeads: 6, VocabSize: 32000, ContextLen: 256}
			m, err := NewRandom(cfg, true, 1)
			if err != nil {
				b.Fatal(err)
			}
			if mode == "lora" {
				m.AttachLoRA(LoRAConfig{Rank: 8, Targets: []string{"q", "k", "v", "o"}})
			}
			const B, T = 2, 128
			r := rand.New(rand.NewPCG(1, 1))
			seqs := make([][]int, B)
			for i := range seqs {
				seqs[i] = make([]int, T+1)
				for j := range seqs[i] {
					seqs[i][j] = r.IntN(cfg.VocabSize)
				}
			}
			bt, _ := LMBatch(seqs, T)
			tr := NewTrainer(m, TrainerConfig{LR: 1e-4, Steps: 100})
			next := func(*rand.Rand) (*Batch, error) { return bt, nil }
			ctx := context.Background()
			tr.TrainStep(ctx, next)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := tr.TrainStep(ctx, next); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(B*T*b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}
