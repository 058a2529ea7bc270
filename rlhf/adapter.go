package rlhf

import (
	"fmt"

	"github.com/hone-ai/hone/model/train"
)

// SaveAdapter writes m's LoRA adapter as a GGUF adapter in llama.cpp's
// convention (general.type = adapter, adapter.type = lora,
// adapter.lora.alpha; tensors blk.N.<name>.weight.lora_a with ggml dims
// [in, rank] and .lora_b with [rank, out]), atomically.
func SaveAdapter(path string, m *train.Model, name string) error {
	if m.LoRA() == nil {
		return fmt.Errorf("save adapter %s: the model has no adapter", path)
	}
	if err := train.SaveLoRA(path, m.LoRA(), name); err != nil {
		return fmt.Errorf("save adapter %s: %w", path, err)
	}
	return nil
}

// SaveRewardModel writes a reward model as a LoRA adapter over the policy
// it was trained on (none when its backbone was frozen) plus its head
// (rm.head.weight, rm.head.bias) and hone.reward.policy_version,
// atomically.
func SaveRewardModel(path string, rm *RewardModel) error {
	ex := train.AdapterExtras{
		Meta:    map[string]any{"hone.reward.policy_version": rm.PolicyVersion},
		Tensors: map[string][]float32{"rm.head.weight": rm.W, "rm.head.bias": rm.B},
	}
	if err := train.SaveLoRAWith(path, rm.Model.LoRA(), fmt.Sprintf("hone reward model (policy %d)", rm.PolicyVersion), ex); err != nil {
		return fmt.Errorf("save reward model %s: %w", path, err)
	}
	return nil
}
