// Package llama2c reads model checkpoints in the formats of Andrej
// Karpathy's llama2.c: the legacy format (version 0: a 7-int32 header, a
// negative vocabulary size meaning a separate classifier after the weights)
// and version 1 (magic "ak42", 256-byte header with a shared_classifier
// byte). Weights are float32.
//
// Open maps the file read-only; on little-endian machines the weight slices
// point into the mapping (no copy), so they must not be written to and are
// valid only until Close.
package llama2c

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// MagicV1 is the first uint32 of a version-1 file (bytes "24ka" on disk,
// the ASCII of "ak42" read as a big-endian number).
const MagicV1 = 0x616b3432

// MaxLayers bounds n_layers (real models have at most a few hundred).
const MaxLayers = 4096

const (
	legacyHeaderSize = 7 * 4
	v1HeaderSize     = 256
)

// Header is the shape of a checkpoint.
type Header struct {
	Version          int // 0 (legacy) or 1
	Dim              int // embedding width
	HiddenDim        int // feed-forward width
	NLayers          int
	NHeads           int
	NKVHeads         int
	VocabSize        int // always positive here; legacy files store it negated when the classifier is separate
	SeqLen           int // trained context length
	SharedClassifier bool
}

// HeadSize is Dim / NHeads.
func (h Header) HeadSize() int { return h.Dim / h.NHeads }

// KVDim is NKVHeads * HeadSize, the width of the key and value projections.
func (h Header) KVDim() int { return h.NKVHeads * h.HeadSize() }

// Layer holds one transformer block's weights, row-major, out×in as in
// llama2.c: Wq is Dim×Dim, Wk and Wv are KVDim×Dim, Wo is Dim×Dim, W1 and
// W3 are HiddenDim×Dim, W2 is Dim×HiddenDim.
type Layer struct {
	AttnNorm, Wq, Wk, Wv, Wo, FFNNorm, W1, W2, W3 []float32
}

// Checkpoint is an opened llama2.c model.
type Checkpoint struct {
	Path           string
	Header         Header
	TokenEmbedding []float32 // VocabSize×Dim
	FinalNorm      []float32 // Dim
	Classifier     []float32 // VocabSize×Dim; the same slice as TokenEmbedding when shared
	Layers         []Layer

	data   []byte // the mapping, for Close
	mapped bool
	closed bool
}

// Open maps the checkpoint at path and validates its header against the
// file size.
func Open(path string) (*Checkpoint, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("llama2c: %w", err)
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, fmt.Errorf("llama2c: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("llama2c %s: not a regular file", path)
	}
	size := st.Size()
	if size < legacyHeaderSize {
		return nil, fmt.Errorf("llama2c %s: file is %d bytes, too short for a header (%d bytes)", path, size, legacyHeaderSize)
	}
	if size > math.MaxInt {
		return nil, fmt.Errorf("llama2c %s: file of %d bytes is too large to map", path, size)
	}
	data, err := unix.Mmap(int(fd.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("llama2c %s: mmap: %w", path, err)
	}
	c, err := parse(path, data)
	if err != nil {
		_ = unix.Munmap(data)
		return nil, err
	}
	c.data = data
	c.mapped = true
	return c, nil
}

// Parse reads a checkpoint held in memory. The weights alias b when b is
// 4-byte aligned on a little-endian machine, and are copied otherwise.
func Parse(b []byte) (*Checkpoint, error) {
	return parse("(bytes)", b)
}

// Close unmaps the file (for Open). The weight slices must not be used
// afterwards. It is safe to call more than once.
func (c *Checkpoint) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	c.TokenEmbedding, c.FinalNorm, c.Classifier, c.Layers = nil, nil, nil, nil
	if c.mapped {
		if err := unix.Munmap(c.data); err != nil {
			return fmt.Errorf("llama2c %s: munmap: %w", c.Path, err)
		}
	}
	c.data = nil
	return nil
}

// readHeader decodes and validates the header, returning it and its size.
func readHeader(b []byte) (Header, int, error) {
	le := binary.LittleEndian
	if len(b) < legacyHeaderSize {
		return Header{}, 0, fmt.Errorf("header: file is %d bytes, too short for a header (%d bytes)", len(b), legacyHeaderSize)
	}
	var h Header
	var ints []int32
	hsize := legacyHeaderSize
	if le.Uint32(b) == MagicV1 {
		if len(b) < v1HeaderSize {
			return h, 0, fmt.Errorf("header: version-1 file is %d bytes, too short for its %d-byte header", len(b), v1HeaderSize)
		}
		v := int32(le.Uint32(b[4:]))
		switch v {
		case 1:
		case 2:
			return h, 0, errors.New("version: llama2.c version 2 (int8-quantized, for runq.c) is not supported; export with version 1 or 0")
		default:
			return h, 0, fmt.Errorf("version: unsupported llama2.c version %d (want 0 or 1)", v)
		}
		h.Version = 1
		for i := range 7 {
			ints = append(ints, int32(le.Uint32(b[8+4*i:])))
		}
		switch b[36] {
		case 0:
		case 1:
			h.SharedClassifier = true
		default:
			return h, 0, fmt.Errorf("header: shared_classifier byte is %d, want 0 or 1", b[36])
		}
		hsize = v1HeaderSize
	} else {
		for i := range 7 {
			ints = append(ints, int32(le.Uint32(b[4*i:])))
		}
	}
	names := [7]string{"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"}
	for i, v := range ints {
		if v <= 0 && !(i == 5 && h.Version == 0 && v < 0 && v != math.MinInt32) {
			return h, 0, fmt.Errorf("header: %s is %d, must be positive", names[i], v)
		}
	}
	h.Dim, h.HiddenDim, h.NLayers, h.NHeads = int(ints[0]), int(ints[1]), int(ints[2]), int(ints[3])
	h.NKVHeads, h.VocabSize, h.SeqLen = int(ints[4]), int(ints[5]), int(ints[6])
	if h.Version == 0 {
		h.SharedClassifier = h.VocabSize > 0
		if h.VocabSize < 0 {
			h.VocabSize = -h.VocabSize
		}
	}
	switch {
	case h.Dim%h.NHeads != 0:
		return h, 0, fmt.Errorf("header: dim %d is not a multiple of n_heads %d", h.Dim, h.NHeads)
	case h.NKVHeads > h.NHeads || h.NHeads%h.NKVHeads != 0:
		return h, 0, fmt.Errorf("header: n_heads %d is not a multiple of n_kv_heads %d", h.NHeads, h.NKVHeads)
	case h.NLayers > MaxLayers:
		return h, 0, fmt.Errorf("header: n_layers %d is more than %d", h.NLayers, MaxLayers)
	case h.HeadSize()%2 != 0:
		return h, 0, fmt.Errorf("header: head size %d (dim %d / n_heads %d) is odd; rotary embeddings need an even one", h.HeadSize(), h.Dim, h.NHeads)
	}
	return h, hsize, nil
}

// sizer accumulates element counts with overflow detection.
type sizer struct{ overflow bool }

func (s *sizer) mul(a ...int) uint64 {
	p := uint64(1)
	for _, x := range a {
		hi, lo := bits.Mul64(p, uint64(x))
		if hi != 0 || lo > math.MaxInt64/4 {
			s.overflow = true
			return 0
		}
		p = lo
	}
	return p
}

// assign points the weight fields of c at floats, in file order. The
// header must already have passed expectedFloats against len(floats).
func assign(c *Checkpoint, floats []float32) {
	h := c.Header
	dim, kv := uint64(h.Dim), uint64(h.KVDim())
	nEmb := uint64(h.VocabSize) * dim
	nQ, nKV := dim*dim, kv*dim
	nFF := uint64(h.HiddenDim) * dim
	var off uint64
	take := func(n uint64) []float32 {
		s := floats[off : off+n : off+n]
		off += n
		return s
	}
	c.Layers = make([]Layer, h.NLayers)
	ls := c.Layers
	each := func(field func(*Layer) *[]float32, n uint64) {
		for i := range ls {
			*field(&ls[i]) = take(n)
		}
	}
	attnNorm := func(l *Layer) *[]float32 { return &l.AttnNorm }
	ffnNorm := func(l *Layer) *[]float32 { return &l.FFNNorm }
	if h.Version == 0 {
		c.TokenEmbedding = take(nEmb)
		each(attnNorm, dim)
	} else {
		each(attnNorm, dim)
		each(ffnNorm, dim)
		c.FinalNorm = take(dim)
		c.TokenEmbedding = take(nEmb)
	}
	each(func(l *Layer) *[]float32 { return &l.Wq }, nQ)
	each(func(l *Layer) *[]float32 { return &l.Wk }, nKV)
	each(func(l *Layer) *[]float32 { return &l.Wv }, nKV)
	each(func(l *Layer) *[]float32 { return &l.Wo }, nQ)
	if h.Version == 0 {
		each(ffnNorm, dim)
	}
	each(func(l *Layer) *[]float32 { return &l.W1 }, nFF)
	each(func(l *Layer) *[]float32 { return &l.W2 }, nFF)
	each(func(l *Layer) *[]float32 { return &l.W3 }, nFF)
	if h.Version == 0 {
		c.FinalNorm = take(dim)
		// freq_cis_real and freq_cis_imag: seq_len*head_size/2 floats each, unused.
		take(2 * uint64(h.SeqLen) * uint64(h.HeadSize()/2))
	}
	if h.SharedClassifier {
		c.Classifier = c.TokenEmbedding
	} else {
		c.Classifier = take(nEmb)
	}
}

func parse(name string, b []byte) (*Checkpoint, error) {
	h, hsize, err := readHeader(b)
	if err != nil {
		return nil, fmt.Errorf("llama2c %s: %w", name, err)
	}
	c := &Checkpoint{Path: name, Header: h}
	// Check the size the header implies against the file before building
	// anything whose size depends on it.
	want, ok := expectedFloats(h)
	if !ok {
		return nil, fmt.Errorf("llama2c %s: header: dimensions %+v imply a model larger than any file", name, h)
	}
	have := uint64(len(b) - hsize)
	if have != want*4 {
		return nil, fmt.Errorf("llama2c %s: file size: header %+v implies %d bytes of weights after the %d-byte header, but the file holds %d", name, h, want*4, hsize, have)
	}
	assign(c, floatView(b[hsize:]))
	return c, nil
}

// expectedFloats computes the number of float32 values after the header
// without allocating anything.
func expectedFloats(h Header) (uint64, bool) {
	var s sizer
	dim, L := h.Dim, h.NLayers
	n := []uint64{
		s.mul(h.VocabSize, dim),       // embedding
		s.mul(L, dim, 2),              // two norms per layer
		s.mul(L, dim, dim, 2),         // wq, wo
		s.mul(L, h.KVDim(), dim, 2),   // wk, wv
		s.mul(L, h.HiddenDim, dim, 3), // w1, w2, w3
		uint64(dim),                   // final norm
	}
	if h.Version == 0 {
		n = append(n, s.mul(h.SeqLen, h.HeadSize()/2, 2))
	}
	if !h.SharedClassifier {
		n = append(n, s.mul(h.VocabSize, dim))
	}
	var total uint64
	for _, x := range n {
		total += x
		if total > math.MaxInt64/4 {
			return 0, false
		}
	}
	return total, !s.overflow
}

// floatView returns b as float32s: the same memory when b is aligned and
// the machine little-endian, a decoded copy otherwise.
func floatView(b []byte) []float32 {
	n := len(b) / 4
	if n == 0 {
		return nil
	}
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 && uintptr(unsafe.Pointer(&b[0]))%4 == 0 {
		return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n)
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// Validate checks that c's weight slices have the sizes its Header implies.
func (c *Checkpoint) Validate() error {
	h := c.Header
	if _, _, err := readHeader(encodeHeader(h)); err != nil {
		return fmt.Errorf("llama2c: %w", err)
	}
	if _, ok := expectedFloats(h); !ok {
		return fmt.Errorf("llama2c: header %+v: model too large", h)
	}
	dim, kv := h.Dim, h.KVDim()
	check := func(name string, s []float32, n int) error {
		if len(s) != n {
			return fmt.Errorf("llama2c: %s has %d values, want %d", name, len(s), n)
		}
		return nil
	}
	if err := errors.Join(
		check("token embedding", c.TokenEmbedding, h.VocabSize*dim),
		check("final norm", c.FinalNorm, dim),
		check("classifier", c.Classifier, h.VocabSize*dim),
	); err != nil {
		return err
	}
	if len(c.Layers) != h.NLayers {
		return fmt.Errorf("llama2c: %d layers, header says %d", len(c.Layers), h.NLayers)
	}
	for i, l := range c.Layers {
		p := fmt.Sprintf("layer %d ", i)
		if err := errors.Join(
			check(p+"attention norm", l.AttnNorm, dim), check(p+"ffn norm", l.FFNNorm, dim),
			check(p+"wq", l.Wq, dim*dim), check(p+"wk", l.Wk, kv*dim), check(p+"wv", l.Wv, kv*dim),
			check(p+"wo", l.Wo, dim*dim), check(p+"w1", l.W1, h.HiddenDim*dim),
			check(p+"w2", l.W2, h.HiddenDim*dim), check(p+"w3", l.W3, h.HiddenDim*dim),
		); err != nil {
			return err
		}
	}
	return nil
}

// encodeHeader returns the on-disk header for h (legacy or version 1).
func encodeHeader(h Header) []byte {
	le := binary.LittleEndian
	vocab := int32(h.VocabSize)
	ints := []int32{int32(h.Dim), int32(h.HiddenDim), int32(h.NLayers), int32(h.NHeads), int32(h.NKVHeads), vocab, int32(h.SeqLen)}
	if h.Version == 0 {
		if !h.SharedClassifier {
			ints[5] = -vocab
		}
		b := make([]byte, legacyHeaderSize)
		for i, v := range ints {
			le.PutUint32(b[4*i:], uint32(v))
		}
		return b
	}
	b := make([]byte, v1HeaderSize)
	le.PutUint32(b, MagicV1)
	le.PutUint32(b[4:], uint32(h.Version))
	for i, v := range ints {
		le.PutUint32(b[8+4*i:], uint32(v))
	}
	if h.SharedClassifier {
		b[36] = 1
	}
	return b
}

// Encode returns the checkpoint in the file format of c.Header.Version
// (see WriteTo).
func (c *Checkpoint) Encode() ([]byte, error) {
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteTo writes the checkpoint in the file format of c.Header.Version (0
// or 1). Legacy files get freq_cis arrays computed as llama2.c's
// precompute_freqs_cis does (theta 10000).
func (c *Checkpoint) WriteTo(w io.Writer) (int64, error) {
	h := c.Header
	if h.Version != 0 && h.Version != 1 {
		return 0, fmt.Errorf("llama2c: cannot write version %d (want 0 or 1)", h.Version)
	}
	if err := c.Validate(); err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var written int64
	var werr error
	write := func(b []byte) {
		if werr == nil {
			var m int
			m, werr = bw.Write(b)
			written += int64(m)
		}
	}
	write(encodeHeader(h))
	var tmp [4]byte
	put := func(s []float32) {
		for _, v := range s {
			binary.LittleEndian.PutUint32(tmp[:], math.Float32bits(v))
			write(tmp[:])
		}
	}
	each := func(get func(*Layer) []float32) {
		for i := range c.Layers {
			put(get(&c.Layers[i]))
		}
	}
	if h.Version == 0 {
		put(c.TokenEmbedding)
		each(func(l *Layer) []float32 { return l.AttnNorm })
	} else {
		each(func(l *Layer) []float32 { return l.AttnNorm })
		each(func(l *Layer) []float32 { return l.FFNNorm })
		put(c.FinalNorm)
		put(c.TokenEmbedding)
	}
	each(func(l *Layer) []float32 { return l.Wq })
	each(func(l *Layer) []float32 { return l.Wk })
	each(func(l *Layer) []float32 { return l.Wv })
	each(func(l *Layer) []float32 { return l.Wo })
	if h.Version == 0 {
		each(func(l *Layer) []float32 { return l.FFNNorm })
	}
	each(func(l *Layer) []float32 { return l.W1 })
	each(func(l *Layer) []float32 { return l.W2 })
	each(func(l *Layer) []float32 { return l.W3 })
	if h.Version == 0 {
		put(c.FinalNorm)
		half := h.HeadSize() / 2
		real := make([]float32, 0, h.SeqLen*half)
		imag := make([]float32, 0, h.SeqLen*half)
		for pos := range h.SeqLen {
			for i := range half {
				freq := 1 / math.Pow(10000, float64(2*i)/float64(h.HeadSize()))
				real = append(real, float32(math.Cos(float64(pos)*freq)))
				imag = append(imag, float32(math.Sin(float64(pos)*freq)))
			}
		}
		put(real)
		put(imag)
	}
	if !h.SharedClassifier {
		put(c.Classifier)
	}
	if werr == nil {
		werr = bw.Flush()
	}
	if werr != nil {
		return written, fmt.Errorf("llama2c: write: %w", werr)
	}
	return written, nil
}

// WriteFile writes the checkpoint to path atomically (temporary file in the
// same directory, fsync, rename, fsync of the directory).
func (c *Checkpoint) WriteFile(path string) (err error) {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("llama2c %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("llama2c %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = c.WriteTo(tmp); err != nil {
		return fmt.Errorf("llama2c %s: %w", path, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("llama2c %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("llama2c %s: fsync: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("llama2c %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("llama2c %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		serr := d.Sync()
		d.Close()
		if serr != nil {
			return fmt.Errorf("llama2c %s: fsync directory: %w", path, serr)
		}
	}
	return nil
}
