package rlhf

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/hone-ai/hone/model/ggml"
	"github.com/hone-ai/hone/model/gguf"
	"github.com/hone-ai/hone/rlhf/lm"
)

// SaveAdapter writes m's LoRA adapters as a GGUF adapter in llama.cpp's
// convention (general.type = adapter, adapter.type = lora,
// adapter.lora.alpha; tensors blk.N.<name>.weight.lora_a with ggml dims
// [in, rank] and .lora_b with [rank, out]), atomically.
func SaveAdapter(path string, m *lm.Model, name string) error {
	return saveAdapter(path, m, name, nil, nil)
}

// SaveRewardModel writes a reward model as a LoRA adapter over the policy
// it was trained on plus its head (rm.head.weight, rm.head.bias) and
// hone.reward.policy_version, atomically.
func SaveRewardModel(path string, rm *RewardModel) error {
	head := map[string][]float32{"rm.head.weight": rm.W, "rm.head.bias": rm.B}
	kv := map[string]any{"hone.reward.policy_version": rm.PolicyVersion}
	return saveAdapter(path, rm.Model, fmt.Sprintf("hone reward model (policy %d)", rm.PolicyVersion), head, kv)
}

func saveAdapter(path string, m *lm.Model, name string, extra map[string][]float32, kv map[string]any) error {
	w := gguf.NewWriter()
	w.Set("general.architecture", "llama")
	w.Set("general.type", "adapter")
	w.Set("general.name", name)
	for k, v := range kv {
		w.Set(k, v)
	}
	ps := map[string][]float32{}
	rank := 0
	if m.HasLoRA() {
		var alpha float32
		rank, alpha = m.LoRAShape()
		w.Set("adapter.type", "lora")
		w.Set("adapter.lora.alpha", alpha)
		ps = m.Params()
	} else if extra == nil {
		return fmt.Errorf("save adapter %s: the model has no adapters", path)
	}
	for k, v := range extra {
		ps[k] = v
	}
	names := make([]string, 0, len(ps))
	for k := range ps {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, tname := range names {
		data := ps[tname]
		n := uint64(len(data))
		dims := []uint64{n}
		switch {
		case strings.HasSuffix(tname, ".lora_a"):
			dims = []uint64{n / uint64(rank), uint64(rank)} // A: rank×in
		case strings.HasSuffix(tname, ".lora_b"):
			dims = []uint64{uint64(rank), n / uint64(rank)} // B: out×rank
		}
		b := make([]byte, 4*len(data))
		for i, v := range data {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		if err := w.AddTensor(tname, ggml.F32, dims, b); err != nil {
			return fmt.Errorf("save adapter %s: %w", path, err)
		}
	}
	if err := w.WriteFile(path); err != nil {
		return fmt.Errorf("save adapter %s: %w", path, err)
	}
	return nil
}
