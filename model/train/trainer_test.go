package train

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/hone-ai/hone/model"
)

// corpusBatches samples B windows of T+1 tokens from a token stream.
func corpusBatches(data []int, B, T int) BatchFunc {
	return func(r *rand.Rand) (*Batch, error) {
		seqs := make([][]int, B)
		for i := range seqs {
			o := r.IntN(len(data) - T - 1)
			seqs[i] = data[o : o+T+1]
		}
		return LMBatch(seqs, T)
	}
}

func synthCorpus(n, vocab int, seed uint64) []int {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]int, n)
	for i := range out {
		// A learnable pattern: mostly +1 modulo vocab, sometimes random.
		if i > 0 && r.IntN(4) != 0 {
			out[i] = (out[i-1] + 1) % vocab
		} else {
			out[i] = r.IntN(vocab)
		}
	}
	return out
}

func TestOverfitOneBatch(t *testing.T) {
	ctx := context.Background()
	cfg := model.Config{Dim: 32, HiddenDim: 64, NLayers: 2, NHeads: 4, NKVHeads: 2, VocabSize: 40, ContextLen: 32}
	m, err := NewRandom(cfg, true, 1)
	if err != nil {
		t.Fatal(err)
	}
	data := synthCorpus(200, cfg.VocabSize, 2)
	b, err := LMBatch([][]int{data[:17], data[50:67], data[100:117], data[150:167]}, 16)
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTrainer(m, TrainerConfig{LR: 1e-2, Steps: 150, Warmup: 10, ClipNorm: 1, Seed: 3})
	var first, last float32
	for i := 0; i < 150; i++ {
		st, err := tr.TrainStep(ctx, func(*rand.Rand) (*Batch, error) { return b, nil })
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = st.Loss
		}
		last = st.Loss
	}
	if last > 0.05 {
		t.Errorf("loss after 150 steps on one batch: %.4f (first %.4f), want < 0.05", last, first)
	}
}

func TestScheduleAndClip(t *testing.T) {
	s := Schedule{Warmup: 10, Total: 110, MinFrac: 0.1}
	cases := []struct {
		step int
		want float32
	}{{0, 0.1}, {9, 1}, {10, 1}, {60, 0.55}, {110, 0.1}, {500, 0.1}}
	for _, c := range cases {
		if got := s.LR(c.step, 1); got < c.want-1e-5 || got > c.want+1e-5 {
			t.Errorf("LR(%d) = %g, want %g", c.step, got, c.want)
		}
	}
	g := []float32{3, 4}
	if n := ClipGradNorm(g, 1); n != 5 || g[0] < 0.5999 || g[0] > 0.6001 {
		t.Errorf("clip: norm %g, g %v", n, g)
	}
}

func TestAccumulationMatchesBigBatch(t *testing.T) {
	ctx := context.Background()
	cfg := smallConfig()
	data := synthCorpus(300, cfg.VocabSize, 4)
	seqs := [][]int{data[0:9], data[20:29], data[40:49], data[60:69]}
	m1, _ := NewRandom(cfg, false, 5)
	m2 := m1.Clone()
	big, _ := LMBatch(seqs, 8)
	halves := []*Batch{}
	for _, h := range [][][]int{seqs[:2], seqs[2:]} {
		b, _ := LMBatch(h, 8)
		halves = append(halves, b)
	}
	m1.ZeroGrad()
	m1.Forward(ctx, big)
	m1.Backward(ctx, Cotangent{Loss: 1})
	tr := NewTrainer(m2, TrainerConfig{LR: 0, Accum: 2})
	k := 0
	if _, err := tr.TrainStep(ctx, func(*rand.Rand) (*Batch, error) { k++; return halves[k-1], nil }); err != nil {
		t.Fatal(err)
	}
	// Equal target counts per half, so the mean of means is the big mean.
	closeGrad(t, "accumulated", m2.grad, to64(m1.grad))
}

func TestResumeContinuesLossCurve(t *testing.T) {
	ctx := context.Background()
	cfg := smallConfig()
	data := synthCorpus(500, cfg.VocabSize, 6)
	tc := TrainerConfig{LR: 3e-3, Steps: 12, Warmup: 3, MinLRFrac: 0.1, ClipNorm: 1, WeightDecay: 0.1, Accum: 2, Seed: 7}
	for _, lora := range []bool{false, true} {
		name := "full"
		if lora {
			name = "lora"
		}
		t.Run(name, func(t *testing.T) {
			fresh := func() *Model {
				m, _ := NewRandom(cfg, false, 8)
				if lora {
					if _, err := m.AttachLoRA(LoRAConfig{Rank: 2, Alpha: 4, Dropout: 0.1, Targets: []string{"q", "v", "down"}, Seed: 1}); err != nil {
						t.Fatal(err)
					}
				}
				return m
			}
			next := corpusBatches(data, 2, 8)
			straight := NewTrainer(fresh(), tc)
			var want []float32
			for i := 0; i < tc.Steps; i++ {
				st, err := straight.TrainStep(ctx, next)
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, st.Loss)
			}
			first := NewTrainer(fresh(), tc)
			var got []float32
			for i := 0; i < tc.Steps/2; i++ {
				st, _ := first.TrainStep(ctx, next)
				got = append(got, st.Loss)
			}
			path := filepath.Join(t.TempDir(), "run.ckpt")
			if err := first.SaveCheckpoint(path); err != nil {
				t.Fatal(err)
			}
			second := NewTrainer(fresh(), TrainerConfig{Seed: 99})
			if err := second.LoadCheckpoint(path); err != nil {
				t.Fatal(err)
			}
			for second.Step < tc.Steps {
				st, err := second.TrainStep(ctx, next)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, st.Loss)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("step %d: resumed loss %.9g, straight %.9g", i+1, got[i], want[i])
				}
			}
			if want[len(want)-1] >= want[0] {
				t.Errorf("loss did not fall: %v", want)
			}
		})
	}
}
