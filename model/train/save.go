package train

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/hone-ai/hone/model"
	"github.com/hone-ai/hone/model/ggml"
	"github.com/hone-ai/hone/model/gguf"
	"github.com/hone-ai/hone/model/kernels"
)

// Logits runs one sequence through the model (positions 0…) and returns
// the logits of every position (row i predicts token i+1), like the
// engine's model.Model.Logits. It replaces the saved activations.
func (m *Model) Logits(ctx context.Context, tokens []int) ([][]float32, error) {
	if len(tokens) == 0 {
		return nil, errors.New("train: logits: no tokens")
	}
	b := &Batch{B: 1, T: len(tokens), Tokens: tokens, Targets: make([]int, len(tokens))}
	m.keepLogits = true
	_, err := m.Forward(ctx, b)
	m.keepLogits = false
	if err != nil {
		return nil, err
	}
	V := m.Config.VocabSize
	out := make([][]float32, len(tokens))
	for i := range out {
		out[i] = append([]float32(nil), m.a.raw[i*V:(i+1)*V]...)
	}
	return out, nil
}

// MergedWeights returns F32 inference weights of the model as it computes
// now: with an active adapter the adapted matrices are fresh copies with
// the adapter merged in; everything else views the training parameters.
func (m *Model) MergedWeights() *model.Weights {
	w := m.ToWeights()
	if !m.loraActive() {
		return w
	}
	for l := range m.lora.Layers {
		for t, lt := range m.lora.Layers[l] {
			if lt == nil {
				continue
			}
			pm := weightMatrix(&w.Layers[l], t)
			c := *(*pm)
			c.F32 = append([]float32(nil), c.F32...)
			lt.delta(c.F32, m.lora.Scale, m.lora.Config.Rank)
			*pm = &c
		}
	}
	return w
}

// Inference returns an engine model (sampling, sessions, saving) computing
// what m computes now — the adapter merged when one is active — with
// base's tokenizer, vocabulary and chat template. Its weights view m's
// parameters: keep m unchanged while using it, or Clone first.
func (m *Model) Inference(base *model.Model) (*model.Model, error) {
	e, err := model.New(m.Config, *m.MergedWeights())
	if err != nil {
		return nil, fmt.Errorf("train: inference model: %w", err)
	}
	if base != nil {
		e.Tok, e.Vocab, e.Template, e.ChatTemplate = base.Tok, base.Vocab, base.Template, base.ChatTemplate
		e.Path, e.Format = base.Path, base.Format
	}
	return e, nil
}

// SaveGGUF writes the model as it computes now (adapter merged) as a GGUF
// file hone and llama.cpp read, with base's vocabulary and chat template,
// matrices in opts.Type (F32, F16, BF16 or Q8_0), atomically.
func SaveGGUF(path string, m *Model, base *model.Model, opts model.SaveOptions) error {
	if base == nil || base.Vocab == nil {
		return fmt.Errorf("train: save %s: a base model with a vocabulary is needed", path)
	}
	e, err := m.Inference(base)
	if err != nil {
		return err
	}
	if err := e.SaveGGUF(path, opts); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}

func f32bytes(x []float32) []byte {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// SaveLoRA writes the adapter as a GGUF LoRA adapter in llama.cpp's
// convention (llama-cli --lora reads it): general.type "adapter",
// adapter.type "lora", adapter.lora.alpha, and per adapted matrix
// blk.N.<name>.weight.lora_a (ggml dims {in, rank}) and .lora_b (ggml
// dims {rank, out}), F32, atomically.
func SaveLoRA(path string, lr *LoRA, name string) error {
	if lr == nil {
		return fmt.Errorf("train: save lora %s: no adapter", path)
	}
	return SaveLoRAWith(path, lr, name, AdapterExtras{})
}

// AdapterExtras are written beside an adapter by SaveLoRAWith: metadata
// keys and named one-dimensional F32 tensors (a reward model's head, say).
// LoadLoRA ignores them.
type AdapterExtras struct {
	Meta    map[string]any
	Tensors map[string][]float32
}

// SaveLoRAWith is SaveLoRA plus extras, in name order. lr may be nil: the
// file then holds only the extras (general.type "adapter", no
// adapter.type), e.g. a head over a frozen model.
func SaveLoRAWith(path string, lr *LoRA, name string, ex AdapterExtras) error {
	w := gguf.NewWriter()
	w.Set("general.architecture", "llama")
	w.Set("general.type", "adapter")
	if name != "" {
		w.Set("general.name", name)
	}
	for _, k := range slices.Sorted(maps.Keys(ex.Meta)) {
		w.Set(k, ex.Meta[k])
	}
	if lr != nil {
		w.Set("adapter.type", "lora")
		w.Set("adapter.lora.alpha", lr.Config.Alpha)
		w.Set("hone.lora.dropout", lr.Config.Dropout)
		r := uint64(lr.Config.Rank)
		for l := range lr.Layers {
			for t, lt := range lr.Layers[l] {
				if lt == nil {
					continue
				}
				base := fmt.Sprintf("blk.%d.%s.weight", l, ggufNames[t])
				if err := w.AddTensor(base+".lora_a", ggml.F32, []uint64{uint64(lt.In), r}, f32bytes(lt.A)); err != nil {
					return fmt.Errorf("train: save lora %s: %w", path, err)
				}
				if err := w.AddTensor(base+".lora_b", ggml.F32, []uint64{r, uint64(lt.Out)}, f32bytes(lt.B)); err != nil {
					return fmt.Errorf("train: save lora %s: %w", path, err)
				}
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(ex.Tensors)) {
		v := ex.Tensors[k]
		if err := w.AddTensor(k, ggml.F32, []uint64{uint64(len(v))}, f32bytes(v)); err != nil {
			return fmt.Errorf("train: save lora %s: tensor %s: %w", path, k, err)
		}
	}
	if err := w.WriteFile(path); err != nil {
		return fmt.Errorf("train: save lora: %w", err)
	}
	return nil
}

// LoadLoRA reads a GGUF LoRA adapter (SaveLoRA's or llama.cpp's
// convention; F32, F16, BF16 or Q8_0 tensors) for a model of shape cfg.
func LoadLoRA(path string, cfg model.Config) (*LoRA, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("train: load lora: %w", err)
	}
	defer f.Close()
	if s, _ := f.String("general.type"); s != "adapter" {
		return nil, fmt.Errorf("train: load lora %s: general.type is %q, want \"adapter\"", path, s)
	}
	if s, _ := f.String("adapter.type"); s != "lora" {
		return nil, fmt.Errorf("train: load lora %s: adapter.type is %q, want \"lora\"", path, s)
	}
	alpha, ok := f.Float("adapter.lora.alpha")
	if !ok {
		return nil, fmt.Errorf("train: load lora %s: adapter.lora.alpha missing", path)
	}
	dropout, _ := f.Float("hone.lora.dropout")
	type found struct {
		l, t int
		a    *gguf.TensorInfo
	}
	var list []found
	on := map[int]bool{}
	rank := 0
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		rest, ok := strings.CutPrefix(ti.Name, "blk.")
		if !ok || !strings.HasSuffix(rest, ".weight.lora_a") {
			continue
		}
		num, tname, _ := strings.Cut(strings.TrimSuffix(rest, ".weight.lora_a"), ".")
		l, err := strconv.Atoi(num)
		t := indexOf(ggufNames[:], tname)
		if err != nil || t < 0 || l < 0 || l >= cfg.NLayers {
			return nil, fmt.Errorf("train: load lora %s: tensor %s is not an adapter of this model", path, ti.Name)
		}
		if len(ti.Dims) != 2 {
			return nil, fmt.Errorf("train: load lora %s: tensor %s has %d dims", path, ti.Name, len(ti.Dims))
		}
		if rank == 0 {
			rank = int(ti.Dims[1])
		} else if int(ti.Dims[1]) != rank {
			return nil, fmt.Errorf("train: load lora %s: tensor %s has rank %d, others %d", path, ti.Name, ti.Dims[1], rank)
		}
		list = append(list, found{l, t, ti})
		on[t] = true
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("train: load lora %s: no lora_a tensors", path)
	}
	var targets []string
	for t := 0; t < nTargets; t++ {
		if on[t] {
			targets = append(targets, TargetNames[t])
		}
	}
	lr, err := NewLoRA(cfg, LoRAConfig{Rank: rank, Alpha: float32(alpha), Dropout: float32(dropout), Targets: targets})
	if err != nil {
		return nil, fmt.Errorf("train: load lora %s: %w", path, err)
	}
	clear(lr.data) // layers the file leaves out stay at zero (no change)
	for _, fd := range list {
		lt := lr.Layers[fd.l][fd.t]
		if err := readTensor(f, fd.a, lt.A, []uint64{uint64(lt.In), uint64(rank)}); err != nil {
			return nil, fmt.Errorf("train: load lora %s: %w", path, err)
		}
		bname := strings.TrimSuffix(fd.a.Name, "_a") + "_b"
		bi, ok := f.Tensor(bname)
		if !ok {
			return nil, fmt.Errorf("train: load lora %s: %s missing", path, bname)
		}
		if err := readTensor(f, bi, lt.B, []uint64{uint64(rank), uint64(lt.Out)}); err != nil {
			return nil, fmt.Errorf("train: load lora %s: %w", path, err)
		}
	}
	return lr, nil
}

func indexOf(s []string, x string) int {
	for i, v := range s {
		if v == x {
			return i
		}
	}
	return -1
}

// readTensor dequantizes a tensor of the expected ggml dims into dst.
func readTensor(f *gguf.File, ti *gguf.TensorInfo, dst []float32, dims []uint64) error {
	if len(ti.Dims) != len(dims) || ti.Dims[0] != dims[0] || ti.Dims[1] != dims[1] {
		return fmt.Errorf("tensor %s has dims %v, want %v", ti.Name, ti.Dims, dims)
	}
	data, err := f.Data(ti)
	if err != nil {
		return fmt.Errorf("tensor %s: %w", ti.Name, err)
	}
	mx := &kernels.Matrix{Type: ti.Type, Rows: int(dims[1]), Cols: int(dims[0]), Data: data}
	if ti.Type == ggml.F32 {
		if len(data) != 4*len(dst) {
			return fmt.Errorf("tensor %s: %d bytes, want %d", ti.Name, len(data), 4*len(dst))
		}
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
		return nil
	}
	return dequantMatrix(ti.Name, dst, mx)
}
