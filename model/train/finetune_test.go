package train

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/hone-ai/hone/model/fixtures"
)

// TestFinetuneLowersHeldOutPerplexity fine-tunes stories260K (children's
// stories) on Shakespeare lines it has not seen and checks the perplexity
// of later, held-out lines falls — full and LoRA.
func TestFinetuneLowersHeldOutPerplexity(t *testing.T) {
	ctx := context.Background()
	em := loadStories(t)
	raw, err := os.ReadFile(fixtures.Path(t, "corpus", "tinyshakespeare.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	encode := func(ls []string) []int {
		return append([]int{em.Tok.BOS()}, em.Tok.Encode(strings.Join(ls, "\n"))...)
	}
	trainTok, heldTok := encode(lines[:300]), encode(lines[300:400])
	const T, B = 64, 8
	for _, mode := range []string{"full", "lora"} {
		t.Run(mode, func(t *testing.T) {
			m, err := FromWeights(em.Config, &em.Weights)
			if err != nil {
				t.Fatal(err)
			}
			lr := float32(2e-3)
			if mode == "lora" {
				if _, err := m.AttachLoRA(LoRAConfig{Rank: 8, Alpha: 16, Seed: 1}); err != nil {
					t.Fatal(err)
				}
				lr = 5e-3
			}
			before, _, err := m.EvalLM(ctx, heldTok, T, B)
			if err != nil {
				t.Fatal(err)
			}
			tr := NewTrainer(m, TrainerConfig{LR: lr, Steps: 40, Warmup: 4, MinLRFrac: 0.1, ClipNorm: 1, Seed: 2})
			next := func(r *rand.Rand) (*Batch, error) {
				seqs := make([][]int, B)
				for i := range seqs {
					o := r.IntN(len(trainTok) - T - 1)
					seqs[i] = trainTok[o : o+T+1]
				}
				return LMBatch(seqs, T)
			}
			for i := 0; i < 40; i++ {
				if _, err := tr.TrainStep(ctx, next); err != nil {
					t.Fatal(err)
				}
			}
			after, _, err := m.EvalLM(ctx, heldTok, T, B)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: held-out perplexity %.2f → %.2f", mode, math.Exp(before), math.Exp(after))
			if !(after < before-0.1) {
				t.Errorf("%s: held-out loss %.4f → %.4f, want a clear drop", mode, before, after)
			}
		})
	}
}
