package train

import (
	"context"
	"encoding/binary"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hone-ai/hone/model"
	"github.com/hone-ai/hone/model/fixtures"
	"github.com/hone-ai/hone/model/ggml"
	"github.com/hone-ai/hone/model/gguf"
)

func loadStories(t *testing.T) *model.Model {
	t.Helper()
	bin := fixtures.Path(t, "stories260k", "stories260K.bin")
	tok := fixtures.Path(t, "stories260k", "tok512.bin")
	m, err := model.Load(bin, model.LoadOptions{Tokenizer: tok})
	if err != nil {
		t.Fatalf("load stories260K: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// relDiff is ‖a−b‖/‖b‖ over all rows.
func relDiff(a, b [][]float32) float64 {
	var d, n float64
	for i := range b {
		for j := range b[i] {
			x := float64(a[i][j]) - float64(b[i][j])
			d += x * x
			n += float64(b[i][j]) * float64(b[i][j])
		}
	}
	return math.Sqrt(d / n)
}

func storyTokens(t *testing.T, m *model.Model) []int {
	ids := m.Tok.Encode("Once upon a time, there was a little girl named Lily. She loved to play outside.")
	return append([]int{m.Tok.BOS()}, ids...)
}

func TestForwardMatchesEngine(t *testing.T) {
	ctx := context.Background()
	em := loadStories(t)
	tm, err := FromWeights(em.Config, &em.Weights)
	if err != nil {
		t.Fatal(err)
	}
	toks := storyTokens(t, em)
	want, err := em.Logits(ctx, toks)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tm.Logits(ctx, toks)
	if err != nil {
		t.Fatal(err)
	}
	if r := relDiff(got, want); r > 1e-5 {
		t.Errorf("training forward vs engine logits: relative difference %.3g over %d positions", r, len(toks))
	}
}

func TestSaveGGUFReloads(t *testing.T) {
	ctx := context.Background()
	em := loadStories(t)
	tm, err := FromWeights(em.Config, &em.Weights)
	if err != nil {
		t.Fatal(err)
	}
	toks := storyTokens(t, em)
	live, err := tm.Inference(em)
	if err != nil {
		t.Fatal(err)
	}
	want, err := live.Logits(ctx, toks)
	if err != nil {
		t.Fatal(err)
	}
	own, err := tm.Logits(ctx, toks)
	if err != nil {
		t.Fatal(err)
	}
	if r := relDiff(own, want); r > 1e-5 {
		t.Errorf("Inference model vs training forward: relative difference %.3g", r)
	}
	cases := []struct {
		typ ggml.Type
		tol float64 // relative logit difference allowed
	}{{ggml.F32, 0}, {ggml.F16, 2e-3}, {ggml.Q8_0, 2e-2}}
	for _, c := range cases {
		t.Run(c.typ.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.gguf")
			if err := SaveGGUF(path, tm, em, model.SaveOptions{Type: c.typ}); err != nil {
				t.Fatal(err)
			}
			back, err := model.Load(path, model.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer back.Close()
			got, err := back.Logits(ctx, toks)
			if err != nil {
				t.Fatal(err)
			}
			r := relDiff(got, want)
			t.Logf("%s: relative logit difference %.3g", c.typ, r)
			if r > c.tol {
				t.Errorf("%s reload: relative logit difference %.3g, want ≤ %g", c.typ, r, c.tol)
			}
		})
	}
}

func TestLoRASaveReloadMerge(t *testing.T) {
	ctx := context.Background()
	em := loadStories(t)
	tm, err := FromWeights(em.Config, &em.Weights)
	if err != nil {
		t.Fatal(err)
	}
	lr, err := tm.AttachLoRA(LoRAConfig{Rank: 4, Alpha: 8, Targets: []string{"q", "k", "v", "o", "gate", "up", "down"}, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range lr.segs {
		if strings.HasSuffix(s.Name, "lora_b") {
			for j := range lr.data[s.Off : s.Off+s.Len] {
				lr.data[s.Off+j] = float32(math.Sin(float64(i*31+j))) * 0.05
			}
		}
	}
	toks := storyTokens(t, em)
	live, err := tm.Logits(ctx, toks)
	if err != nil {
		t.Fatal(err)
	}
	tm.EnableLoRA(false)
	baseLogits, _ := tm.Logits(ctx, toks)
	tm.EnableLoRA(true)
	if relDiff(live, baseLogits) < 1e-3 {
		t.Fatal("adapter does not change the logits; the test would prove nothing")
	}
	path := filepath.Join(t.TempDir(), "adapter.gguf")
	if err := SaveLoRA(path, lr, "test"); err != nil {
		t.Fatal(err)
	}
	back, err := LoadLoRA(path, em.Config)
	if err != nil {
		t.Fatal(err)
	}
	if back.Config.Rank != 4 || back.Config.Alpha != 8 || back.Scale != lr.Scale {
		t.Errorf("reloaded config %+v scale %g, want rank 4 alpha 8 scale %g", back.Config, back.Scale, lr.Scale)
	}
	// Reloaded adapter on a fresh training model: bit-identical.
	tm2, _ := FromWeights(em.Config, &em.Weights)
	if err := tm2.SetLoRA(back); err != nil {
		t.Fatal(err)
	}
	got, _ := tm2.Logits(ctx, toks)
	if r := relDiff(got, live); r != 0 {
		t.Errorf("reloaded adapter: relative difference %.3g, want 0", r)
	}
	// Merged into the engine's weights (copies; the file mapping stays read-only).
	w := em.Weights
	w.Layers = append([]model.Layer(nil), em.Weights.Layers...)
	if err := back.MergeWeights(&w); err != nil {
		t.Fatal(err)
	}
	e := *em // shallow copy for evaluation only; never closed
	e.Weights = w
	merged, err := e.Logits(ctx, toks)
	if err != nil {
		t.Fatal(err)
	}
	if r := relDiff(merged, live); r > 1e-5 {
		t.Errorf("merged adapter in the engine vs live adapter: relative difference %.3g", r)
	}
	// Unmerge gives back the base.
	if err := back.UnmergeWeights(&w); err != nil {
		t.Fatal(err)
	}
	e.Weights = w
	un, _ := e.Logits(ctx, toks)
	if r := relDiff(un, baseLogits); r > 1e-5 {
		t.Errorf("unmerged: relative difference to the base %.3g", r)
	}
}

// FromWeights dequantizes every tensor type the engine reads; the training
// forward on the dequantized weights stays close to the engine's logits on
// the quantized ones (which may also quantize activations).
func TestFromQuantizedWeights(t *testing.T) {
	ctx := context.Background()
	toks := []int{1, 72, 20, 301, 15, 42, 7, 99, 260, 3, 11}
	for _, typ := range []string{"f32", "f16", "q8_0", "q4_0", "q4_k", "q6_k"} {
		t.Run(typ, func(t *testing.T) {
			em, err := model.Load(fixtures.Path(t, "quant", "r256-"+typ+".gguf"), model.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer em.Close()
			tm, err := FromWeights(em.Config, &em.Weights)
			if err != nil {
				t.Fatal(err)
			}
			want, err := em.Logits(ctx, toks)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tm.Logits(ctx, toks)
			if err != nil {
				t.Fatal(err)
			}
			r := relDiff(got, want)
			t.Logf("%s: relative difference %.3g", typ, r)
			tol := 1e-5
			if typ != "f32" && typ != "f16" {
				tol = 5e-2
			}
			if r > tol {
				t.Errorf("%s: relative difference %.3g to the engine, want ≤ %g", typ, r, tol)
			}
		})
	}
}

// SaveLoRAWith writes the extras beside the adapter (LoadLoRA still reads
// the adapter), and with no adapter only the extras.
func TestSaveLoRAWithExtras(t *testing.T) {
	cfg := smallConfig()
	m, err := NewRandom(cfg, true, 1)
	if err != nil {
		t.Fatal(err)
	}
	lr, err := m.AttachLoRA(LoRAConfig{Rank: 2, Alpha: 4, Targets: []string{"q", "down"}, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	for i := range lr.data {
		lr.data[i] = float32(i%7) * 0.01
	}
	head := []float32{0.5, -1, 2}
	dir := t.TempDir()
	path := filepath.Join(dir, "rm.gguf")
	ex := AdapterExtras{Meta: map[string]any{"hone.reward.policy_version": int64(3)}, Tensors: map[string][]float32{"rm.head.bias": {0.25}, "rm.head.weight": head}}
	if err := SaveLoRAWith(path, lr, "rm", ex); err != nil {
		t.Fatal(err)
	}
	back, err := LoadLoRA(path, m.Config)
	if err != nil {
		t.Fatal(err)
	}
	if !slicesEqual(back.data, lr.data) {
		t.Error("adapter saved with extras does not read back equal")
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if v, ok := f.Int("hone.reward.policy_version"); !ok || v != 3 {
		t.Errorf("hone.reward.policy_version = %v %v, want 3", v, ok)
	}
	ti, ok := f.Tensor("rm.head.weight")
	if !ok || len(ti.Dims) != 1 || ti.Dims[0] != 3 {
		t.Fatalf("rm.head.weight: %+v %v", ti, ok)
	}
	got := make([]float32, 3)
	if err := readVector(f, ti, got); err != nil || !slicesEqual(got, head) {
		t.Errorf("rm.head.weight = %v (%v), want %v", got, err, head)
	}
	// Without an adapter: only the extras, and LoadLoRA refuses the file.
	p2 := filepath.Join(dir, "head.gguf")
	if err := SaveLoRAWith(p2, nil, "head", ex); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadLoRA(p2, m.Config); err == nil {
		t.Error("LoadLoRA read a file without an adapter")
	}
}

func slicesEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func readVector(f *gguf.File, ti *gguf.TensorInfo, dst []float32) error {
	data, err := f.Data(ti)
	if err != nil {
		return err
	}
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return nil
}
