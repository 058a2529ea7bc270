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
	if !m.HasLoRA() {
		return fmt.Errorf("save adapter %s: the model has no adapters", path)
	}
	rank, alpha := m.LoRAShape()
	w := gguf.NewWriter()
	w.Set("general.architecture", "llama")
	w.Set("general.type", "adapter")
	w.Set("general.name", name)
	w.Set("adapter.type", "lora")
	w.Set("adapter.lora.alpha", alpha)
	ps := m.Params()
	names := make([]string, 0, len(ps))
	for k := range ps {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, tname := range names {
		data := ps[tname]
		var dims []uint64
		n := uint64(len(data))
		if strings.HasSuffix(tname, ".lora_a") {
			dims = []uint64{n / uint64(rank), uint64(rank)} // A: rank×in
		} else {
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
