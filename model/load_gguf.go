package model

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"strings"
	"unsafe"

	"github.com/hone-ai/hone/model/ggml"
	"github.com/hone-ai/hone/model/gguf"
	"github.com/hone-ai/hone/model/kernels"
	"github.com/hone-ai/hone/model/tokenizer"
)

func openGGUF(path string) (*gguf.File, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return f, nil
}

func ggufTokenizer(f *gguf.File) (*tokenizer.Tokenizer, *tokenizer.Vocab, error) {
	v, err := tokenizer.FromGGUF(f)
	if err != nil {
		return nil, nil, fmt.Errorf("model %s: %w", f.Path, err)
	}
	tok, err := tokenizer.New(v)
	if err != nil {
		return nil, nil, fmt.Errorf("model %s: tokenizer: %w", f.Path, err)
	}
	return tok, v, nil
}

func loadGGUF(path string, opts LoadOptions) (m *Model, err error) {
	f, err := openGGUF(path)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	cfg, err := ggufConfig(f)
	if err != nil {
		return nil, err
	}
	if opts.ContextLen > 0 {
		cfg.ContextLen = opts.ContextLen
	}
	w, err := ggufWeights(f, cfg)
	if err != nil {
		return nil, err
	}
	m, err = newModel(cfg, w, path)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	if ti, ok := f.Tensor("rope_freqs.weight"); ok {
		if err := m.applyRopeFreqs(f, ti); err != nil {
			return nil, err
		}
	}
	m.closers = append(m.closers, f.Close)
	v, err := tokenizer.FromGGUF(f)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	ct, _ := f.String("tokenizer.chat_template")
	if err := m.finish(v, ct, opts); err != nil {
		return nil, err
	}
	return m, nil
}

// ggufConfig reads the llama.* hyperparameters.
func ggufConfig(f *gguf.File) (Config, error) {
	arch := f.Arch()
	if arch != "llama" {
		if arch == "" {
			return Config{}, fmt.Errorf("model %s: no general.architecture", f.Path)
		}
		return Config{}, fmt.Errorf("model %s: architecture %q is not supported (only llama)", f.Path, arch)
	}
	var cfg Config
	cfg.Arch = arch
	geti := func(key string, dst *int, required bool) error {
		v, ok := f.Uint(arch + "." + key)
		if !ok {
			if _, present := f.Get(arch + "." + key); present {
				return fmt.Errorf("model %s: %s.%s is not a non-negative integer", f.Path, arch, key)
			}
			if required {
				return fmt.Errorf("model %s: missing %s.%s", f.Path, arch, key)
			}
			return nil
		}
		if v > 1<<31 {
			return fmt.Errorf("model %s: %s.%s = %d is absurd", f.Path, arch, key, v)
		}
		*dst = int(v)
		return nil
	}
	getf := func(key string, dst *float32) error {
		v, ok := f.Float(arch + "." + key)
		if !ok {
			if _, present := f.Get(arch + "." + key); present {
				return fmt.Errorf("model %s: %s.%s is not a number", f.Path, arch, key)
			}
			return nil
		}
		*dst = float32(v)
		return nil
	}
	for _, e := range []error{
		geti("embedding_length", &cfg.Dim, true),
		geti("feed_forward_length", &cfg.HiddenDim, true),
		geti("block_count", &cfg.NLayers, true),
		geti("attention.head_count", &cfg.NHeads, true),
		geti("attention.head_count_kv", &cfg.NKVHeads, false),
		geti("context_length", &cfg.ContextLen, true),
		geti("attention.key_length", &cfg.HeadDim, false),
		geti("rope.dimension_count", &cfg.RopeDim, false),
		geti("vocab_size", &cfg.VocabSize, false),
		getf("rope.freq_base", &cfg.RopeBase),
		getf("attention.layer_norm_rms_epsilon", &cfg.NormEps),
	} {
		if e != nil {
			return Config{}, e
		}
	}
	var vl int
	if err := geti("attention.value_length", &vl, false); err != nil {
		return Config{}, err
	}
	if vl != 0 && cfg.HeadDim != 0 && vl != cfg.HeadDim {
		return Config{}, fmt.Errorf("model %s: attention.value_length %d differs from key_length %d (not supported)", f.Path, vl, cfg.HeadDim)
	}
	if st, ok := f.String(arch + ".rope.scaling.type"); ok && st != "none" && st != "" {
		if fac, _ := f.Float(arch + ".rope.scaling.factor"); fac != 0 && fac != 1 {
			return Config{}, fmt.Errorf("model %s: rope scaling %q is not supported", f.Path, st)
		}
	}
	if ti, ok := f.Tensor("token_embd.weight"); ok && len(ti.Dims) == 2 {
		if cfg.VocabSize == 0 {
			if ti.Dims[1] > maxVocab {
				return Config{}, fmt.Errorf("model %s: token_embd.weight has %d rows, too many", f.Path, ti.Dims[1])
			}
			cfg.VocabSize = int(ti.Dims[1])
		}
	} else if !ok {
		return Config{}, fmt.Errorf("model %s: missing tensor token_embd.weight", f.Path)
	}
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("model %s: %w", f.Path, err)
	}
	return cfg, nil
}

var (
	matrixType = reflect.TypeFor[*kernels.Matrix]()
	vectorType = reflect.TypeFor[[]float32]()
)

// ggufWeights fills a Weights from the file's tensors, driven by the
// struct tags of Weights and Layer.
func ggufWeights(f *gguf.File, cfg Config) (Weights, error) {
	var w Weights
	w.Layers = make([]Layer, cfg.NLayers)
	if err := fillTagged(f, cfg, reflect.ValueOf(&w).Elem(), ""); err != nil {
		return Weights{}, err
	}
	for i := range w.Layers {
		if err := fillTagged(f, cfg, reflect.ValueOf(&w.Layers[i]).Elem(), fmt.Sprintf("blk.%d.", i)); err != nil {
			return Weights{}, err
		}
	}
	return w, nil
}

func fillTagged(f *gguf.File, cfg Config, v reflect.Value, prefix string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag, opts, _ := strings.Cut(t.Field(i).Tag.Get("gguf"), ",")
		if tag == "" || t.Field(i).Type.Kind() == reflect.Slice && t.Field(i).Type.Elem().Kind() == reflect.Struct {
			continue // untagged, or the layer list
		}
		name := prefix + tag + ".weight"
		rows, cols, ok := cfg.matrixShape(tag)
		if !ok {
			return fmt.Errorf("model: no shape rule for tensor %s", name)
		}
		ti, present := f.Tensor(name)
		if !present {
			if opts == "optional" {
				continue
			}
			return fmt.Errorf("model %s: missing tensor %s", f.Path, name)
		}
		switch t.Field(i).Type {
		case matrixType:
			m, err := ggufMatrix(f, ti, rows, cols)
			if err != nil {
				return err
			}
			v.Field(i).Set(reflect.ValueOf(m))
		case vectorType:
			vec, err := ggufVector(f, ti, cols)
			if err != nil {
				return err
			}
			v.Field(i).Set(reflect.ValueOf(vec))
		}
	}
	return nil
}

// checkDims verifies that ti is rows×cols (GGML order: Dims[0] = cols),
// allowing trailing dimensions of 1.
func checkDims(f *gguf.File, ti *gguf.TensorInfo, rows, cols int) error {
	d := ti.Dims
	for len(d) > 2 && d[len(d)-1] == 1 {
		d = d[:len(d)-1]
	}
	ok := false
	switch {
	case rows == 1 && len(d) == 1:
		ok = d[0] == uint64(cols)
	case len(d) == 2:
		ok = d[0] == uint64(cols) && d[1] == uint64(rows)
	case rows == 1 && len(d) == 2:
		ok = d[0] == uint64(cols) && d[1] == 1
	}
	if !ok {
		return fmt.Errorf("model %s: tensor %s has dims %v, want [%d %d] (columns first)", f.Path, ti.Name, ti.Dims, cols, rows)
	}
	return nil
}

func ggufMatrix(f *gguf.File, ti *gguf.TensorInfo, rows, cols int) (*kernels.Matrix, error) {
	if err := checkDims(f, ti, rows, cols); err != nil {
		return nil, err
	}
	if err := ti.CheckSupported(); err != nil {
		return nil, fmt.Errorf("model %s: %w", f.Path, err)
	}
	data, err := f.Data(ti)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	m := &kernels.Matrix{Type: ti.Type, Rows: rows, Cols: cols}
	if ti.Type == ggml.F32 {
		m.F32 = bytesToF32(data)
	} else {
		m.Data = data
	}
	if err := checkMatrix(ti.Name, m, rows, cols); err != nil {
		return nil, fmt.Errorf("model %s: %w", f.Path, err)
	}
	return m, nil
}

// ggufVector reads a norm vector as float32 (converting other types).
func ggufVector(f *gguf.File, ti *gguf.TensorInfo, n int) ([]float32, error) {
	if err := checkDims(f, ti, 1, n); err != nil {
		return nil, err
	}
	if err := ti.CheckSupported(); err != nil {
		return nil, fmt.Errorf("model %s: %w", f.Path, err)
	}
	data, err := f.Data(ti)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if ti.Type == ggml.F32 {
		return bytesToF32(data), nil
	}
	out := make([]float32, n)
	if err := ggml.Dequantize(ti.Type, data, out); err != nil {
		return nil, fmt.Errorf("model %s: tensor %s: %w", f.Path, ti.Name, err)
	}
	return out, nil
}

// bytesToF32 views little-endian float32 data as a []float32 without
// copying when it is 4-byte aligned, and copies it otherwise.
func bytesToF32(b []byte) []float32 {
	n := len(b) / 4
	if n == 0 {
		return []float32{}
	}
	if uintptr(unsafe.Pointer(&b[0]))%4 == 0 {
		return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n)
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// applyRopeFreqs divides the RoPE frequencies by the per-dimension
// factors of rope_freqs.weight (Llama 3.1-style long-context scaling).
func (m *Model) applyRopeFreqs(f *gguf.File, ti *gguf.TensorInfo) error {
	fac, err := ggufVector(f, ti, len(m.rope))
	if err != nil {
		return err
	}
	for j := range m.rope {
		if !(fac[j] > 0) {
			return fmt.Errorf("model %s: rope_freqs.weight[%d] = %v is not positive", f.Path, j, fac[j])
		}
		m.rope[j] /= float64(fac[j])
	}
	return nil
}
