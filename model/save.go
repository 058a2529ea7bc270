package model

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"github.com/hone-ai/hone/model/ggml"
	"github.com/hone-ai/hone/model/gguf"
	"github.com/hone-ai/hone/model/kernels"
)

// SaveOptions adjust SaveGGUF.
type SaveOptions struct {
	// Type is the type of the weight matrices: F32 (the zero value), F16,
	// BF16 or Q8_0. A matrix whose rows are not a whole number of the
	// type's blocks is stored as F16 instead (llama-quantize's fallback);
	// norm vectors are always F32.
	Type ggml.Type
	// Name is general.name (default: the file name without extension).
	Name string
}

// llama.cpp's general.file_type values (enum llama_ftype).
func fileType(t ggml.Type) uint32 {
	switch t {
	case ggml.F16:
		return 1
	case ggml.Q8_0:
		return 7
	case ggml.BF16:
		return 32
	}
	return 0
}

// SaveGGUF writes m to path as a GGUF v3 file that llama.cpp also reads:
// general.architecture "llama", every llama.* hyperparameter, the
// vocabulary as tokenizer.ggml.* (with scores and token types) and the
// tensors under llama.cpp's names. A tied classifier is written once, as
// token_embd. The file is written to a temporary file, synced and renamed.
func (m *Model) SaveGGUF(path string, opts SaveOptions) error {
	switch opts.Type {
	case ggml.F32, ggml.F16, ggml.BF16, ggml.Q8_0:
	default:
		return fmt.Errorf("model: save %s: type %s is not one hone writes (f32, f16, bf16, q8_0)", path, opts.Type)
	}
	if m.Vocab == nil {
		return fmt.Errorf("model: save %s: the model has no vocabulary", path)
	}
	c := m.Config
	w := gguf.NewWriter()
	name := opts.Name
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	w.Set("general.architecture", "llama")
	w.Set("general.name", name)
	w.Set("general.file_type", fileType(opts.Type))
	if opts.Type == ggml.Q8_0 {
		w.Set("general.quantization_version", uint32(2))
	}
	w.Set("llama.vocab_size", uint32(c.VocabSize))
	w.Set("llama.context_length", uint32(c.ContextLen))
	w.Set("llama.embedding_length", uint32(c.Dim))
	w.Set("llama.block_count", uint32(c.NLayers))
	w.Set("llama.feed_forward_length", uint32(c.HiddenDim))
	w.Set("llama.rope.dimension_count", uint32(c.RopeDim))
	w.Set("llama.attention.head_count", uint32(c.NHeads))
	w.Set("llama.attention.head_count_kv", uint32(c.NKVHeads))
	if c.HeadDim != c.Dim/c.NHeads {
		w.Set("llama.attention.key_length", uint32(c.HeadDim))
		w.Set("llama.attention.value_length", uint32(c.HeadDim))
	}
	w.Set("llama.attention.layer_norm_rms_epsilon", c.NormEps)
	w.Set("llama.rope.freq_base", c.RopeBase)
	if err := setVocab(w, m); err != nil {
		return fmt.Errorf("model: save %s: %w", path, err)
	}

	add := func(name string, mat *kernels.Matrix) error {
		t, data, err := convertMatrix(mat, opts.Type)
		if err != nil {
			return fmt.Errorf("model: save %s: tensor %s: %w", path, name, err)
		}
		return w.AddTensor(name, t, []uint64{uint64(mat.Cols), uint64(mat.Rows)}, data)
	}
	vec := func(name string, v []float32) error {
		return w.AddTensor(name, ggml.F32, []uint64{uint64(len(v))}, f32Bytes(v))
	}
	ws := &m.Weights
	if err := add("token_embd.weight", ws.Embed); err != nil {
		return err
	}
	for i := range ws.Layers {
		l := &ws.Layers[i]
		p := fmt.Sprintf("blk.%d.", i)
		for _, e := range []error{
			vec(p+"attn_norm.weight", l.AttnNorm),
			add(p+"attn_q.weight", l.Wq),
			add(p+"attn_k.weight", l.Wk),
			add(p+"attn_v.weight", l.Wv),
			add(p+"attn_output.weight", l.Wo),
			vec(p+"ffn_norm.weight", l.FFNNorm),
			add(p+"ffn_gate.weight", l.WGate),
			add(p+"ffn_down.weight", l.WDown),
			add(p+"ffn_up.weight", l.WUp),
		} {
			if e != nil {
				return e
			}
		}
	}
	if err := vec("output_norm.weight", ws.OutNorm); err != nil {
		return err
	}
	if !m.TiedOutput() {
		if err := add("output.weight", ws.Output); err != nil {
			return err
		}
	}
	if err := w.WriteFile(path); err != nil {
		return fmt.Errorf("model: save: %w", err)
	}
	return nil
}

// TiedOutput reports whether the classifier is the embedding matrix.
func (m *Model) TiedOutput() bool {
	e, o := m.Weights.Embed, m.Weights.Output
	if e == o {
		return true
	}
	if e.Type != o.Type || e.Rows != o.Rows || e.Cols != o.Cols {
		return false
	}
	if e.Type == ggml.F32 {
		return len(e.F32) > 0 && &e.F32[0] == &o.F32[0]
	}
	return len(e.Data) > 0 && &e.Data[0] == &o.Data[0]
}

func setVocab(w *gguf.Writer, m *Model) error {
	v := m.Vocab
	n := len(v.Tokens)
	if n == 0 {
		return errors.New("empty vocabulary")
	}
	w.Set("tokenizer.ggml.model", v.Model)
	if v.Pre != "" {
		w.Set("tokenizer.ggml.pre", v.Pre)
	} else if v.Model == "llama" {
		w.Set("tokenizer.ggml.pre", "default")
	}
	w.Set("tokenizer.ggml.tokens", v.Tokens)
	scores := v.Scores
	if scores == nil {
		scores = make([]float32, n)
	}
	if len(scores) != n {
		return fmt.Errorf("vocabulary has %d tokens but %d scores", n, len(scores))
	}
	w.Set("tokenizer.ggml.scores", scores)
	types := v.Types
	if types == nil {
		types = make([]int32, n)
		for i := range types {
			types[i] = 1
		}
	}
	if len(types) != n {
		return fmt.Errorf("vocabulary has %d tokens but %d token types", n, len(types))
	}
	w.Set("tokenizer.ggml.token_type", types)
	if len(v.Merges) > 0 {
		w.Set("tokenizer.ggml.merges", v.Merges)
	}
	for _, id := range []struct {
		key string
		id  int
	}{
		{"tokenizer.ggml.bos_token_id", v.BOS},
		{"tokenizer.ggml.eos_token_id", v.EOS},
		{"tokenizer.ggml.unknown_token_id", v.UNK},
		{"tokenizer.ggml.padding_token_id", v.PAD},
	} {
		if id.id >= 0 {
			w.Set(id.key, uint32(id.id))
		}
	}
	w.Set("tokenizer.ggml.add_bos_token", v.AddBOS)
	w.Set("tokenizer.ggml.add_eos_token", v.AddEOS)
	if v.Model == "llama" {
		w.Set("tokenizer.ggml.add_space_prefix", v.AddSpacePrefix)
	}
	if m.ChatTemplate != "" {
		w.Set("tokenizer.chat_template", m.ChatTemplate)
	}
	return nil
}

// convertMatrix encodes mat as type t (F16 when its rows do not hold
// whole blocks of t), reusing its bytes when it already has that type.
func convertMatrix(mat *kernels.Matrix, t ggml.Type) (ggml.Type, []byte, error) {
	if mat.Cols%t.BlockSize() != 0 {
		t = ggml.F16
	}
	if mat.Type == t {
		if t == ggml.F32 {
			return t, f32Bytes(mat.F32), nil
		}
		return t, mat.Data, nil
	}
	f, err := dequantizeMatrix(mat)
	if err != nil {
		return 0, nil, err
	}
	b, err := ggml.Quantize(t, f)
	if err != nil {
		return 0, nil, err
	}
	return t, b, nil
}

// f32Bytes views float32s as their little-endian bytes (no copy).
func f32Bytes(f []float32) []byte {
	if len(f) == 0 {
		return []byte{}
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), 4*len(f))
}

// SaveLlama2C writes m as a llama2.c legacy (version 0) checkpoint that
// run.c reads: the 7-int32 header (vocabulary size negated when the
// classifier is separate), the float32 weights in llama2.c's order, the
// RoPE tables run.c skips, then the classifier when not tied. It needs a
// model llama2.c can express: HeadDim = Dim/NHeads, full RoPE, base 10000.
// The file is written to a temporary file, synced and renamed.
func (m *Model) SaveLlama2C(path string) (err error) {
	c := m.Config
	if c.HeadDim*c.NHeads != c.Dim || c.RopeDim != c.HeadDim || c.RopeBase != 10000 {
		return fmt.Errorf("model: save %s: llama2.c cannot express this model (head_dim %d, rope dim %d, rope base %v)", path, c.HeadDim, c.RopeDim, c.RopeBase)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("model: save %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	tied := m.TiedOutput()
	vocab := int32(c.VocabSize)
	if !tied {
		vocab = -vocab
	}
	for _, v := range []int32{int32(c.Dim), int32(c.HiddenDim), int32(c.NLayers), int32(c.NHeads), int32(c.NKVHeads), vocab, int32(c.ContextLen)} {
		if err := binary.Write(bw, binary.LittleEndian, v); err != nil {
			return fmt.Errorf("model: save %s: %w", path, err)
		}
	}
	writeF := func(f []float32) error {
		_, err := bw.Write(f32Bytes(f))
		return err
	}
	writeM := func(mat *kernels.Matrix) error {
		f, err := dequantizeMatrix(mat)
		if err != nil {
			return err
		}
		return writeF(f)
	}
	ls := m.Weights.Layers
	each := func(get func(*Layer) []float32) error {
		for i := range ls {
			if err := writeF(get(&ls[i])); err != nil {
				return err
			}
		}
		return nil
	}
	eachM := func(get func(*Layer) *kernels.Matrix) error {
		for i := range ls {
			if err := writeM(get(&ls[i])); err != nil {
				return err
			}
		}
		return nil
	}
	hs := c.HeadDim
	freqRe := make([]float32, c.ContextLen*hs/2)
	freqIm := make([]float32, c.ContextLen*hs/2)
	for p := 0; p < c.ContextLen; p++ {
		for j := 0; j < hs/2; j++ {
			f := 1 / math.Pow(10000, float64(2*j)/float64(hs))
			s, co := math.Sincos(float64(p) * f)
			freqRe[p*hs/2+j], freqIm[p*hs/2+j] = float32(co), float32(s)
		}
	}
	for _, e := range []func() error{
		func() error { return writeM(m.Weights.Embed) },
		func() error { return each(func(l *Layer) []float32 { return l.AttnNorm }) },
		func() error { return eachM(func(l *Layer) *kernels.Matrix { return l.Wq }) },
		func() error { return eachM(func(l *Layer) *kernels.Matrix { return l.Wk }) },
		func() error { return eachM(func(l *Layer) *kernels.Matrix { return l.Wv }) },
		func() error { return eachM(func(l *Layer) *kernels.Matrix { return l.Wo }) },
		func() error { return each(func(l *Layer) []float32 { return l.FFNNorm }) },
		func() error { return eachM(func(l *Layer) *kernels.Matrix { return l.WGate }) },
		func() error { return eachM(func(l *Layer) *kernels.Matrix { return l.WDown }) },
		func() error { return eachM(func(l *Layer) *kernels.Matrix { return l.WUp }) },
		func() error { return writeF(m.Weights.OutNorm) },
		func() error { return writeF(freqRe) },
		func() error { return writeF(freqIm) },
		func() error {
			if tied {
				return nil
			}
			return writeM(m.Weights.Output)
		},
	} {
		if err := e(); err != nil {
			return fmt.Errorf("model: save %s: %w", path, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("model: save %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("model: save %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("model: save %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("model: save %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("model: save %s: %w", path, err)
	}
	return nil
}
