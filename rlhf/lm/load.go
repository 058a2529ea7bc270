package lm

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
)

// LoadLlama2C reads a llama2.c checkpoint (legacy version 0, or version 1
// "ak42") into float32 parameters.
func LoadLlama2C(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("lm: read checkpoint: %w", err)
	}
	if len(b) < 28 {
		return nil, fmt.Errorf("lm: %s: too short for a llama2.c header", path)
	}
	le := binary.LittleEndian
	var hdr [7]int32
	off := 0
	v1 := le.Uint32(b) == 0x616b3432
	shared := true
	if v1 {
		if len(b) < 256 {
			return nil, fmt.Errorf("lm: %s: truncated version-1 header", path)
		}
		if ver := int32(le.Uint32(b[4:])); ver != 1 {
			return nil, fmt.Errorf("lm: %s: llama2.c version %d not supported", path, ver)
		}
		for i := range hdr {
			hdr[i] = int32(le.Uint32(b[8+4*i:]))
		}
		shared = b[36] != 0
		off = 256
	} else {
		for i := range hdr {
			hdr[i] = int32(le.Uint32(b[4*i:]))
		}
		off = 28
		if hdr[5] < 0 {
			shared = false
			hdr[5] = -hdr[5]
		}
	}
	cfg := Config{Dim: int(hdr[0]), Hidden: int(hdr[1]), Layers: int(hdr[2]), Heads: int(hdr[3]), KVHeads: int(hdr[4]),
		Vocab: int(hdr[5]), SeqLen: int(hdr[6]), RopeBase: 10000, NormEps: 1e-5}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("lm: %s: %w", path, err)
	}
	if cfg.SeqLen <= 0 || cfg.SeqLen > 1<<16 {
		return nil, fmt.Errorf("lm: %s: bad seq_len %d", path, cfg.SeqLen)
	}
	p := newParams(cfg, shared)
	data := b[off:]
	read := func(dst []float32) error {
		if len(data) < 4*len(dst) {
			return fmt.Errorf("lm: %s: truncated weights: %w", path, io.ErrUnexpectedEOF)
		}
		for i := range dst {
			dst[i] = math.Float32frombits(le.Uint32(data[4*i:]))
		}
		data = data[4*len(dst):]
		return nil
	}
	var order []func() error
	perLayer := func(sel func(l *Layer) []float32) {
		for i := range p.Layers {
			l := &p.Layers[i]
			order = append(order, func() error { return read(sel(l)) })
		}
	}
	hs := cfg.HeadDim()
	if v1 {
		perLayer(func(l *Layer) []float32 { return l.AttnNorm })
		perLayer(func(l *Layer) []float32 { return l.FFNNorm })
		order = append(order, func() error { return read(p.FinalNorm) }, func() error { return read(p.Embed) })
	} else {
		order = append(order, func() error { return read(p.Embed) })
		perLayer(func(l *Layer) []float32 { return l.AttnNorm })
	}
	for _, w := range []Linear{Q, K, V, O} {
		w := w
		perLayer(func(l *Layer) []float32 { return l.W[w] })
	}
	if !v1 {
		perLayer(func(l *Layer) []float32 { return l.FFNNorm })
	}
	for _, w := range []Linear{Gate, Down, Up} {
		w := w
		perLayer(func(l *Layer) []float32 { return l.W[w] })
	}
	if !v1 {
		order = append(order, func() error { return read(p.FinalNorm) })
		// skip the legacy RoPE tables (freq_cis_real, freq_cis_imag)
		order = append(order, func() error { return read(make([]float32, cfg.SeqLen*hs)) })
	}
	if !shared {
		order = append(order, func() error { return read(p.Cls) })
	}
	for _, f := range order {
		if err := f(); err != nil {
			return nil, err
		}
	}
	return New(cfg, p)
}
