package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/hone-ai/hone/model/ggml"
)

// MaxTensorName is the longest tensor name (in bytes) llama.cpp accepts
// (GGML_MAX_NAME minus the terminating NUL); the writer refuses longer ones.
const MaxTensorName = 63

// Writer builds a GGUF version 3 file (alignment 32, or general.alignment
// when set to a uint32 power of two). Metadata keys keep the order of their
// first Set; tensors keep the order of AddTensor.
type Writer struct {
	kv      []KV
	kvIdx   map[string]int
	tensors []wtensor
	tIdx    map[string]bool
}

type wtensor struct {
	info TensorInfo
	data []byte
}

// NewWriter returns an empty Writer.
func NewWriter() *Writer {
	return &Writer{kvIdx: map[string]int{}, tIdx: map[string]bool{}}
}

// Set sets the metadata key to value, replacing an earlier value of the
// same key in place. Value must be one of the types listed on KV (Go's
// int and uint are refused: GGUF readers check exact types, so pick a sized
// one, usually uint32 for counts). Invalid values are reported by WriteFile
// and WriteTo.
func (w *Writer) Set(key string, value any) {
	if i, ok := w.kvIdx[key]; ok {
		w.kv[i].Value = value
		return
	}
	w.kvIdx[key] = len(w.kv)
	w.kv = append(w.kv, KV{Key: key, Value: value})
}

// AddTensor adds a tensor of type t with dims in GGML order (dims[0] =
// columns) whose encoded data is data. data is kept, not copied: it must not
// change until the file is written.
func (w *Writer) AddTensor(name string, t ggml.Type, dims []uint64, data []byte) error {
	switch {
	case name == "":
		return errors.New("gguf writer: tensor name is empty")
	case len(name) > MaxTensorName:
		return fmt.Errorf("gguf writer: tensor %q: name is %d bytes, longer than %d", name, len(name), MaxTensorName)
	case w.tIdx[name]:
		return fmt.Errorf("gguf writer: tensor %q added twice", name)
	case len(dims) == 0 || len(dims) > MaxDims:
		return fmt.Errorf("gguf writer: tensor %q: %d dimensions, want 1 to %d", name, len(dims), MaxDims)
	}
	for i, d := range dims {
		if d == 0 || d > math.MaxInt64 {
			return fmt.Errorf("gguf writer: tensor %q: dimension %d is %d", name, i, d)
		}
	}
	n, err := tensorBytes(t, dims)
	if err != nil {
		return fmt.Errorf("gguf writer: tensor %q: %w", name, err)
	}
	if uint64(len(data)) != n {
		return fmt.Errorf("gguf writer: tensor %q: %s %v needs %d bytes of data, got %d", name, t, dims, n, len(data))
	}
	w.tIdx[name] = true
	w.tensors = append(w.tensors, wtensor{
		info: TensorInfo{Name: name, Type: t, Dims: append([]uint64(nil), dims...)},
		data: data,
	})
	return nil
}

func (w *Writer) alignment() (uint64, error) {
	i, ok := w.kvIdx[KeyAlignment]
	if !ok {
		return DefaultAlignment, nil
	}
	a, ok := w.kv[i].Value.(uint32)
	if !ok || a == 0 || a&(a-1) != 0 {
		return 0, fmt.Errorf("gguf writer: metadata %q must be a uint32 power of two, got %T %v", KeyAlignment, w.kv[i].Value, w.kv[i].Value)
	}
	return uint64(a), nil
}

// WriteTo writes the file to out.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	align, err := w.alignment()
	if err != nil {
		return 0, err
	}
	e := &encoder{w: bufio.NewWriterSize(out, 1<<20)}
	e.bytes([]byte(Magic))
	e.u32(3)
	e.u64(uint64(len(w.tensors)))
	e.u64(uint64(len(w.kv)))
	for _, kv := range w.kv {
		e.str(kv.Key)
		if err := e.value(kv.Value, true); err != nil {
			return e.n, fmt.Errorf("gguf writer: metadata %q: %w", kv.Key, err)
		}
	}
	var off uint64
	for i := range w.tensors {
		t := &w.tensors[i]
		t.info.Offset = off
		e.str(t.info.Name)
		e.u32(uint32(len(t.info.Dims)))
		for _, d := range t.info.Dims {
			e.u64(d)
		}
		e.u32(uint32(t.info.Type))
		e.u64(off)
		off = alignUp(off+uint64(len(t.data)), align)
	}
	if len(w.tensors) > 0 {
		e.pad(align)
	}
	// Every tensor, the last one included, is padded to the alignment, as
	// llama.cpp's writer does (its reader expects the padded total).
	for i := range w.tensors {
		e.bytes(w.tensors[i].data)
		e.pad(align)
	}
	if e.err == nil {
		e.err = e.w.Flush()
	}
	if e.err != nil {
		return e.n, fmt.Errorf("gguf writer: %w", e.err)
	}
	return e.n, nil
}

// WriteFile writes the file to path atomically: to a temporary file in the
// same directory, synced, then renamed over path, and the directory synced.
func (w *Writer) WriteFile(path string) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("gguf writer %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = w.WriteTo(tmp); err != nil {
		return fmt.Errorf("gguf writer %s: %w", path, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("gguf writer %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("gguf writer %s: fsync: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("gguf writer %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("gguf writer %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		serr := d.Sync()
		d.Close()
		if serr != nil {
			return fmt.Errorf("gguf writer %s: fsync directory: %w", path, serr)
		}
	}
	return nil
}

// encoder writes little-endian GGUF values, remembering the first error.
type encoder struct {
	w   *bufio.Writer
	n   int64
	err error
	tmp [8]byte
}

func (e *encoder) bytes(b []byte) {
	if e.err != nil {
		return
	}
	m, err := e.w.Write(b)
	e.n += int64(m)
	e.err = err
}

func (e *encoder) u8(v uint8) { e.tmp[0] = v; e.bytes(e.tmp[:1]) }
func (e *encoder) u16(v uint16) {
	binary.LittleEndian.PutUint16(e.tmp[:], v)
	e.bytes(e.tmp[:2])
}
func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.tmp[:], v)
	e.bytes(e.tmp[:4])
}
func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.tmp[:], v)
	e.bytes(e.tmp[:8])
}
func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	if e.err == nil {
		m, err := e.w.WriteString(s)
		e.n += int64(m)
		e.err = err
	}
}

func (e *encoder) pad(align uint64) {
	var zero [64]byte
	for n := alignUp(uint64(e.n), align) - uint64(e.n); n > 0; {
		k := min(n, uint64(len(zero)))
		e.bytes(zero[:k])
		n -= k
	}
}

// valueType returns the GGUF type of a Go value, for scalars and arrays.
func valueType(v any) (ValueType, bool) {
	switch v.(type) {
	case uint8:
		return TypeUint8, true
	case int8:
		return TypeInt8, true
	case uint16:
		return TypeUint16, true
	case int16:
		return TypeInt16, true
	case uint32:
		return TypeUint32, true
	case int32:
		return TypeInt32, true
	case float32:
		return TypeFloat32, true
	case bool:
		return TypeBool, true
	case string:
		return TypeString, true
	case uint64:
		return TypeUint64, true
	case int64:
		return TypeInt64, true
	case float64:
		return TypeFloat64, true
	case []uint8, []int8, []uint16, []int16, []uint32, []int32, []float32, []bool, []string, []uint64, []int64, []float64, []any:
		return TypeArray, true
	}
	return 0, false
}

// value writes v, preceded by its type id when tagged.
func (e *encoder) value(v any, tagged bool) error {
	t, ok := valueType(v)
	if !ok {
		if _, isInt := v.(int); isInt {
			return errors.New("a Go int has no GGUF type; use a sized type such as uint32 or int64")
		}
		if _, isUint := v.(uint); isUint {
			return errors.New("a Go uint has no GGUF type; use a sized type such as uint32 or uint64")
		}
		return fmt.Errorf("unsupported value type %T", v)
	}
	if tagged {
		e.u32(uint32(t))
	}
	switch x := v.(type) {
	case uint8:
		e.u8(x)
	case int8:
		e.u8(uint8(x))
	case uint16:
		e.u16(x)
	case int16:
		e.u16(uint16(x))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case bool:
		if x {
			e.u8(1)
		} else {
			e.u8(0)
		}
	case string:
		e.str(x)
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	case []uint8:
		writeArray(e, TypeUint8, x)
	case []int8:
		writeArray(e, TypeInt8, x)
	case []uint16:
		writeArray(e, TypeUint16, x)
	case []int16:
		writeArray(e, TypeInt16, x)
	case []uint32:
		writeArray(e, TypeUint32, x)
	case []int32:
		writeArray(e, TypeInt32, x)
	case []float32:
		writeArray(e, TypeFloat32, x)
	case []bool:
		writeArray(e, TypeBool, x)
	case []string:
		writeArray(e, TypeString, x)
	case []uint64:
		writeArray(e, TypeUint64, x)
	case []int64:
		writeArray(e, TypeInt64, x)
	case []float64:
		writeArray(e, TypeFloat64, x)
	case []any:
		// An array of arrays: every element must itself be an array.
		e.u32(uint32(TypeArray))
		e.u64(uint64(len(x)))
		for i, el := range x {
			if t, ok := valueType(el); !ok || t != TypeArray {
				return fmt.Errorf("element %d of an array of arrays is %T, not an array", i, el)
			}
			if err := e.value(el, false); err != nil {
				return fmt.Errorf("element %d: %w", i, err)
			}
		}
	}
	return nil
}

func writeArray[T any](e *encoder, t ValueType, s []T) {
	e.u32(uint32(t))
	e.u64(uint64(len(s)))
	for _, x := range s {
		_ = e.value(x, false) // scalars of a known type cannot fail
	}
}
