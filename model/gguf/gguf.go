// Package gguf reads and writes GGUF files (versions 2 and 3), the model
// format of llama.cpp: metadata key/values, tensor descriptions and the
// aligned tensor data section.
//
// Open maps the file read-only (mmap) so that loading a model never doubles
// its memory: TensorData returns slices of the mapping, which are valid until
// Close and must not be written to. Parse and OpenBytes read from any
// io.ReaderAt or byte slice (tests, fuzzing).
//
// Every count, length and offset in the file is checked against the bytes
// that remain before anything is allocated, so malformed input gives an
// error naming the file and the field, never a panic or a giant allocation.
package gguf

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/hone-ai/hone/model/ggml"
)

// Magic is the first four bytes of every GGUF file.
const Magic = "GGUF"

// DefaultAlignment is the alignment of the data section and of every tensor
// when the file has no general.alignment key.
const DefaultAlignment = 32

// KeyAlignment is the metadata key that overrides DefaultAlignment.
const KeyAlignment = "general.alignment"

// MaxDims is the largest number of dimensions a tensor may have (GGML_MAX_DIMS).
const MaxDims = 4

// maxNesting bounds how deeply arrays may nest inside arrays.
const maxNesting = 8

// ValueType is the type tag of a metadata value as stored in the file.
type ValueType uint32

// Metadata value types, with the ids GGUF uses.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var valueTypeNames = [...]string{"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array", "uint64", "int64", "float64"}

// String returns the GGUF name of the value type, such as "uint32".
func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return "type(" + strconv.FormatUint(uint64(t), 10) + ")"
}

// size is the encoded size of one scalar of type t, or 0 for strings and
// arrays (variable length) and unknown types.
func (t ValueType) size() uint64 {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	}
	return 0
}

// KV is one metadata entry. Value is one of uint8, int8, uint16, int16,
// uint32, int32, uint64, int64, float32, float64, bool, string, a slice of
// one of those ([]uint8 ... []string), or []any for an array of arrays
// (each element itself such a slice).
type KV struct {
	Key   string
	Value any
}

// TensorInfo describes one tensor. Dims are in GGML order: Dims[0] is the
// number of columns (the contiguous dimension), Dims[1] the rows, and so
// on. Offset is relative to the start of the data section (File.DataOffset).
type TensorInfo struct {
	Name   string
	Type   ggml.Type
	Dims   []uint64
	Offset uint64
}

// NumElements returns the product of the dimensions.
func (ti *TensorInfo) NumElements() uint64 {
	n := uint64(1)
	for _, d := range ti.Dims {
		n *= d
	}
	return n
}

// Rows returns the number of rows: the product of all dimensions but the
// first (1 for a vector).
func (ti *TensorInfo) Rows() uint64 {
	n := uint64(1)
	for _, d := range ti.Dims[min(1, len(ti.Dims)):] {
		n *= d
	}
	return n
}

// Cols returns Dims[0], the length of a row (1 for a scalar).
func (ti *TensorInfo) Cols() uint64 {
	if len(ti.Dims) == 0 {
		return 1
	}
	return ti.Dims[0]
}

// Size returns the number of bytes of the tensor's data. For a TensorInfo
// read by this package it never fails; it fails for hand-made ones whose
// type is unknown or whose row is not a whole number of blocks.
func (ti *TensorInfo) Size() (uint64, error) {
	return tensorBytes(ti.Type, ti.Dims)
}

// CheckSupported returns nil when hone can compute with the tensor's type,
// and otherwise an error such as "tensor blk.0.attn_q.weight has type Q5_K,
// which hone does not support".
func (ti *TensorInfo) CheckSupported() error {
	if ti.Type.Supported() {
		return nil
	}
	return fmt.Errorf("tensor %s has type %s, which hone does not support (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K)", ti.Name, ti.Type)
}

// tensorBytes is the data size of a tensor of type t with dims, checking
// block divisibility and overflow.
func tensorBytes(t ggml.Type, dims []uint64) (uint64, error) {
	if !t.Known() {
		return 0, fmt.Errorf("unknown tensor type id %d", uint32(t))
	}
	if len(dims) == 0 {
		dims = []uint64{1} // a scalar: one element, as in ggml
	}
	bs := uint64(t.BlockSize())
	if dims[0]%bs != 0 {
		return 0, fmt.Errorf("%s row of %d elements is not a multiple of the block size %d", t, dims[0], bs)
	}
	n := dims[0] / bs * uint64(t.TypeSize())
	if dims[0] != 0 && n/(dims[0]/bs) != uint64(t.TypeSize()) {
		return 0, errors.New("tensor size overflows")
	}
	for _, d := range dims[1:] {
		if d != 0 && n > math.MaxInt64/d {
			return 0, errors.New("tensor size overflows")
		}
		n *= d
	}
	return n, nil
}

// File is a parsed GGUF file. Its KV and Tensors stay valid after Close;
// tensor data does not.
type File struct {
	Path       string // the path given to Open, or a description for Parse/OpenBytes
	Version    uint32
	KV         []KV
	Tensors    []TensorInfo
	Alignment  uint64 // general.alignment, or DefaultAlignment
	DataOffset uint64 // absolute file offset of the data section
	Size       int64  // file size in bytes

	data   []byte      // whole file (mapping or caller's bytes); nil when read through ra
	ra     io.ReaderAt // when data is nil
	mapped bool
	closed bool
	kvIdx  map[string]int
	tIdx   map[string]int
}

// Open maps the GGUF file at path read-only and parses its header.
func Open(path string) (*File, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	size := st.Size()
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("gguf %s: not a regular file", path)
	}
	if size < 24 {
		return nil, fmt.Errorf("gguf %s: file is %d bytes, too short for a GGUF header (24 bytes)", path, size)
	}
	if size > math.MaxInt {
		return nil, fmt.Errorf("gguf %s: file of %d bytes is too large to map", path, size)
	}
	data, err := unix.Mmap(int(fd.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("gguf %s: mmap: %w", path, err)
	}
	f, err := parse(path, sliceReader(data), size)
	if err != nil {
		_ = unix.Munmap(data)
		return nil, err
	}
	f.data = data
	f.mapped = true
	return f, nil
}

// OpenBytes parses a GGUF file held in memory. TensorData returns slices of
// b, which must not be modified while the File is in use.
func OpenBytes(b []byte) (*File, error) {
	f, err := parse("(bytes)", sliceReader(b), int64(len(b)))
	if err != nil {
		return nil, err
	}
	f.data = b
	return f, nil
}

// Parse reads a GGUF file of size bytes from r. TensorData reads each
// tensor from r into a new buffer.
func Parse(r io.ReaderAt, size int64) (*File, error) {
	f, err := parse("(reader)", r, size)
	if err != nil {
		return nil, err
	}
	f.ra = r
	return f, nil
}

// Close releases the mapping (for Open). It is safe to call more than once.
// Slices returned by TensorData must not be used afterwards.
func (f *File) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	var err error
	if f.mapped {
		if e := unix.Munmap(f.data); e != nil {
			err = fmt.Errorf("gguf %s: munmap: %w", f.Path, e)
		}
	}
	f.data = nil
	f.ra = nil
	return err
}

// Get returns the value of key.
func (f *File) Get(key string) (any, bool) {
	i, ok := f.kvIdx[key]
	if !ok {
		return nil, false
	}
	return f.KV[i].Value, true
}

// String returns the value of key when it is a string.
func (f *File) String(key string) (string, bool) {
	v, _ := f.Get(key)
	s, ok := v.(string)
	return s, ok
}

// Uint returns the value of key when it is an integer of any type whose
// value is not negative.
func (f *File) Uint(key string) (uint64, bool) {
	v, _ := f.Get(key)
	return toUint(v)
}

// Int returns the value of key when it is an integer of any type that fits
// in an int64.
func (f *File) Int(key string) (int64, bool) {
	v, _ := f.Get(key)
	return toInt(v)
}

// Float returns the value of key when it is a float32, a float64 or an
// integer.
func (f *File) Float(key string) (float64, bool) {
	v, _ := f.Get(key)
	switch x := v.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	if i, ok := toInt(v); ok {
		return float64(i), true
	}
	if u, ok := toUint(v); ok {
		return float64(u), true
	}
	return 0, false
}

// Bool returns the value of key when it is a bool.
func (f *File) Bool(key string) (bool, bool) {
	v, _ := f.Get(key)
	b, ok := v.(bool)
	return b, ok
}

// Strings returns the value of key when it is an array of strings.
func (f *File) Strings(key string) ([]string, bool) {
	v, _ := f.Get(key)
	s, ok := v.([]string)
	return s, ok
}

// Float32s returns the value of key when it is an array of float32.
func (f *File) Float32s(key string) ([]float32, bool) {
	v, _ := f.Get(key)
	s, ok := v.([]float32)
	return s, ok
}

// Int32s returns the value of key when it is an array of int32, or an
// array of another integer type whose every value fits in an int32 (then a
// converted copy).
func (f *File) Int32s(key string) ([]int32, bool) {
	v, _ := f.Get(key)
	switch s := v.(type) {
	case []int32:
		return s, true
	case []uint8:
		return convInt32(s)
	case []int8:
		return convInt32(s)
	case []uint16:
		return convInt32(s)
	case []int16:
		return convInt32(s)
	case []uint32:
		return convInt32(s)
	case []uint64:
		return convInt32(s)
	case []int64:
		return convInt32(s)
	}
	return nil, false
}

func convInt32[T uint8 | int8 | uint16 | int16 | uint32 | uint64 | int64](s []T) ([]int32, bool) {
	out := make([]int32, len(s))
	for i, x := range s {
		if int64(x) < math.MinInt32 || int64(x) > math.MaxInt32 || (x > 0 && uint64(x) > math.MaxInt32) {
			return nil, false
		}
		out[i] = int32(x)
	}
	return out, true
}

func toUint(v any) (uint64, bool) {
	switch x := v.(type) {
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	case int8:
		return uint64(x), x >= 0
	case int16:
		return uint64(x), x >= 0
	case int32:
		return uint64(x), x >= 0
	case int64:
		return uint64(x), x >= 0
	}
	return 0, false
}

func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		return int64(x), x <= math.MaxInt64
	}
	return 0, false
}

// Tensor returns the description of the named tensor.
func (f *File) Tensor(name string) (*TensorInfo, bool) {
	i, ok := f.tIdx[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// TensorNames returns the tensor names in file order.
func (f *File) TensorNames() []string {
	names := make([]string, len(f.Tensors))
	for i := range f.Tensors {
		names[i] = f.Tensors[i].Name
	}
	return names
}

// Arch returns general.architecture ("" when absent).
func (f *File) Arch() string {
	s, _ := f.String("general.architecture")
	return s
}

// TensorData returns the bytes of the named tensor. For a File from Open or
// OpenBytes it is a slice of the file's memory (read-only for Open; valid
// until Close); for one from Parse it is a new buffer.
func (f *File) TensorData(name string) ([]byte, error) {
	ti, ok := f.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("gguf %s: no tensor named %q", f.Path, name)
	}
	return f.Data(ti)
}

// Data returns the bytes of the tensor ti (one of f.Tensors); see TensorData.
func (f *File) Data(ti *TensorInfo) ([]byte, error) {
	if f.closed {
		return nil, fmt.Errorf("gguf %s: tensor %s: file is closed", f.Path, ti.Name)
	}
	n, err := ti.Size()
	if err != nil {
		return nil, fmt.Errorf("gguf %s: tensor %s: %w", f.Path, ti.Name, err)
	}
	start := f.DataOffset + ti.Offset
	if start < f.DataOffset || start > uint64(f.Size) || n > uint64(f.Size)-start {
		return nil, fmt.Errorf("gguf %s: tensor %s: data [%d, +%d) lies past the end of the file (%d bytes)", f.Path, ti.Name, start, n, f.Size)
	}
	if f.data != nil {
		return f.data[start : start+n : start+n], nil
	}
	buf := make([]byte, n)
	if n == 0 {
		return buf, nil
	}
	// A ReaderAt may report io.EOF along with a full read at the end.
	if m, err := f.ra.ReadAt(buf, int64(start)); m < len(buf) {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("gguf %s: tensor %s: read: %w", f.Path, ti.Name, err)
	}
	return buf, nil
}

// sliceReader is an io.ReaderAt over a byte slice.
type sliceReader []byte

func (s sliceReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(s)) {
		return 0, io.EOF
	}
	n := copy(p, s[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
