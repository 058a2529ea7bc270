package train

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hone-ai/hone/model"
)

func TestBadInputsAreErrors(t *testing.T) {
	ctx := context.Background()
	cfg := smallConfig()
	m, _ := NewRandom(cfg, false, 1)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage")
	os.WriteFile(garbage, []byte("HONECKPT\xff\xff\xff\xff"), 0o600)
	other := cfg
	other.Dim = 32
	om, _ := NewRandom(other, false, 1)
	otherLoRA, _ := om.AttachLoRA(LoRAConfig{Rank: 2})
	adapter := filepath.Join(dir, "other.gguf")
	if err := SaveLoRA(adapter, otherLoRA, ""); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		err  func() error
		want string
	}{
		{"token out of range", func() error {
			_, err := m.Forward(ctx, &Batch{B: 1, T: 2, Tokens: []int{1, 99}, Targets: []int{-1, -1}})
			return err
		}, "outside vocabulary"},
		{"short batch", func() error {
			_, err := m.Forward(ctx, &Batch{B: 2, T: 2, Tokens: []int{1}, Targets: []int{-1}})
			return err
		}, "want 2×2"},
		{"backward without forward", func() error { return m.Clone().Backward(ctx, Cotangent{Loss: 1}) }, "without a forward"},
		{"frozen share", func() error {
			s := m.Share()
			s.Forward(ctx, &Batch{B: 1, T: 2, Tokens: []int{1, 2}, Targets: []int{2, 3}})
			return s.Backward(ctx, Cotangent{Loss: 1})
		}, "nothing to train"},
		{"bad rank", func() error { _, err := NewLoRA(cfg, LoRAConfig{Rank: 0}); return err }, "rank"},
		{"bad target", func() error { _, err := NewLoRA(cfg, LoRAConfig{Rank: 2, Targets: []string{"qq"}}); return err }, "qq"},
		{"config", func() error {
			_, err := New(model.Config{Dim: 10, HiddenDim: 4, NLayers: 1, NHeads: 3, VocabSize: 5}, true)
			return err
		}, "head dim"},
		{"garbage checkpoint", func() error { return NewTrainer(m, TrainerConfig{}).LoadCheckpoint(garbage) }, "header"},
		{"missing checkpoint", func() error { return NewTrainer(m, TrainerConfig{}).LoadCheckpoint(filepath.Join(dir, "none")) }, "no such file"},
		{"adapter of another shape", func() error { _, err := LoadLoRA(adapter, cfg); return err }, "dims"},
		{"not an adapter", func() error { _, err := LoadLoRA(garbage, cfg); return err }, "load lora"},
		{"lora on another shape", func() error { return m.Clone().SetLoRA(otherLoRA) }, "another model shape"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.err()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}
