package gguf

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/hone-ai/hone/model/ggml"
)

// decoder reads the GGUF header sequentially from an io.ReaderAt, keeping
// track of the position so that every length can be checked against the
// bytes that remain.
type decoder struct {
	r    io.ReaderAt
	pos  uint64
	size uint64
	buf  []byte // read-ahead window
	bpos uint64 // file offset of buf[0]
}

const readAhead = 64 << 10

func (d *decoder) remaining() uint64 { return d.size - d.pos }

// read returns the next n bytes (valid until the next call).
func (d *decoder) read(n uint64) ([]byte, error) {
	if n > d.remaining() {
		return nil, fmt.Errorf("needs %d bytes at offset %d but the file ends at %d", n, d.pos, d.size)
	}
	if d.pos >= d.bpos && d.pos+n <= d.bpos+uint64(len(d.buf)) {
		b := d.buf[d.pos-d.bpos : d.pos-d.bpos+n]
		d.pos += n
		return b, nil
	}
	// Refill: read max(n, readAhead) bytes, bounded by the file size.
	want := max(n, readAhead)
	want = min(want, d.remaining())
	if uint64(cap(d.buf)) < want {
		d.buf = make([]byte, want)
	}
	d.buf = d.buf[:want]
	m, err := d.r.ReadAt(d.buf, int64(d.pos))
	if uint64(m) < want {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		d.buf = d.buf[:0]
		return nil, fmt.Errorf("read at offset %d: %w", d.pos, err)
	}
	d.bpos = d.pos
	b := d.buf[:n]
	d.pos += n
	return b, nil
}

func (d *decoder) u8() (uint8, error) {
	b, err := d.read(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (d *decoder) u16() (uint16, error) {
	b, err := d.read(2)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(b), nil
}

func (d *decoder) u32() (uint32, error) {
	b, err := d.read(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (d *decoder) u64() (uint64, error) {
	b, err := d.read(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// str reads a GGUF string: uint64 length, then that many bytes.
func (d *decoder) str() (string, error) {
	n, err := d.u64()
	if err != nil {
		return "", fmt.Errorf("string length: %w", err)
	}
	if n > d.remaining() {
		return "", fmt.Errorf("string length %d exceeds the %d bytes left in the file", n, d.remaining())
	}
	b, err := d.read(n)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// value reads one value of type t. depth counts enclosing arrays.
func (d *decoder) value(t ValueType, depth int) (any, error) {
	switch t {
	case TypeUint8:
		return d.u8()
	case TypeInt8:
		v, err := d.u8()
		return int8(v), err
	case TypeUint16:
		return d.u16()
	case TypeInt16:
		v, err := d.u16()
		return int16(v), err
	case TypeUint32:
		return d.u32()
	case TypeInt32:
		v, err := d.u32()
		return int32(v), err
	case TypeFloat32:
		v, err := d.u32()
		return math.Float32frombits(v), err
	case TypeBool:
		v, err := d.u8()
		return v != 0, err
	case TypeString:
		return d.str()
	case TypeUint64:
		return d.u64()
	case TypeInt64:
		v, err := d.u64()
		return int64(v), err
	case TypeFloat64:
		v, err := d.u64()
		return math.Float64frombits(v), err
	case TypeArray:
		return d.array(depth + 1)
	}
	return nil, fmt.Errorf("unknown value type id %d", uint32(t))
}

// array reads an array: uint32 element type, uint64 count, elements.
func (d *decoder) array(depth int) (any, error) {
	if depth > maxNesting {
		return nil, fmt.Errorf("arrays nested more than %d deep", maxNesting)
	}
	et32, err := d.u32()
	if err != nil {
		return nil, fmt.Errorf("array element type: %w", err)
	}
	et := ValueType(et32)
	n, err := d.u64()
	if err != nil {
		return nil, fmt.Errorf("array length: %w", err)
	}
	// The smallest encoding of one element bounds the count.
	minSize := et.size()
	switch et {
	case TypeString:
		minSize = 8
	case TypeArray:
		minSize = 12
	}
	if minSize == 0 {
		return nil, fmt.Errorf("array of unknown element type id %d", et32)
	}
	if n > d.remaining()/minSize {
		return nil, fmt.Errorf("array of %d %s elements needs at least %d bytes, but only %d are left in the file", n, et, satMul(n, minSize), d.remaining())
	}
	if sz := et.size(); sz != 0 {
		b, err := d.read(n * sz)
		if err != nil {
			return nil, err
		}
		return decodeScalars(et, b, int(n)), nil
	}
	fail := func(i uint64, err error) error {
		return fmt.Errorf("array element %d: %w", i, err)
	}
	if et == TypeString {
		out := make([]string, n)
		for i := range out {
			if out[i], err = d.str(); err != nil {
				return nil, fail(uint64(i), err)
			}
		}
		return out, nil
	}
	out := make([]any, n)
	for i := range out {
		if out[i], err = d.array(depth + 1); err != nil {
			return nil, fail(uint64(i), err)
		}
	}
	return out, nil
}

func satMul(a, b uint64) uint64 {
	if a != 0 && b > math.MaxUint64/a {
		return math.MaxUint64
	}
	return a * b
}

// decodeScalars converts n little-endian fixed-size values to a typed slice.
func decodeScalars(t ValueType, b []byte, n int) any {
	le := binary.LittleEndian
	switch t {
	case TypeUint8:
		out := make([]uint8, n)
		copy(out, b)
		return out
	case TypeInt8:
		out := make([]int8, n)
		for i := range out {
			out[i] = int8(b[i])
		}
		return out
	case TypeBool:
		out := make([]bool, n)
		for i := range out {
			out[i] = b[i] != 0
		}
		return out
	case TypeUint16:
		out := make([]uint16, n)
		for i := range out {
			out[i] = le.Uint16(b[2*i:])
		}
		return out
	case TypeInt16:
		out := make([]int16, n)
		for i := range out {
			out[i] = int16(le.Uint16(b[2*i:]))
		}
		return out
	case TypeUint32:
		out := make([]uint32, n)
		for i := range out {
			out[i] = le.Uint32(b[4*i:])
		}
		return out
	case TypeInt32:
		out := make([]int32, n)
		for i := range out {
			out[i] = int32(le.Uint32(b[4*i:]))
		}
		return out
	case TypeFloat32:
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
		return out
	case TypeUint64:
		out := make([]uint64, n)
		for i := range out {
			out[i] = le.Uint64(b[8*i:])
		}
		return out
	case TypeInt64:
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(le.Uint64(b[8*i:]))
		}
		return out
	case TypeFloat64:
		out := make([]float64, n)
		for i := range out {
			out[i] = math.Float64frombits(le.Uint64(b[8*i:]))
		}
		return out
	}
	return nil
}

// parse reads the header (metadata and tensor infos) and validates every
// tensor's placement in the file.
func parse(name string, r io.ReaderAt, size int64) (*File, error) {
	if size < 0 {
		return nil, fmt.Errorf("gguf %s: negative size %d", name, size)
	}
	f := &File{Path: name, Size: size}
	d := &decoder{r: r, size: uint64(size)}
	fail := func(field string, err error) error {
		return fmt.Errorf("gguf %s: %s: %w", name, field, err)
	}

	magic, err := d.read(4)
	if err != nil {
		return nil, fail("magic", err)
	}
	if string(magic) != Magic {
		return nil, fmt.Errorf("gguf %s: magic: not a GGUF file (starts with %q, want %q)", name, magic, Magic)
	}
	if f.Version, err = d.u32(); err != nil {
		return nil, fail("version", err)
	}
	switch {
	case f.Version == 2 || f.Version == 3:
	case f.Version == 1:
		return nil, fmt.Errorf("gguf %s: version: GGUF version 1 (from 2023) is not supported; convert the model again with current llama.cpp tools", name)
	case f.Version&0xFFFF == 0 && f.Version != 0:
		return nil, fmt.Errorf("gguf %s: version: %#x looks like a big-endian GGUF file, which is not supported", name, f.Version)
	default:
		return nil, fmt.Errorf("gguf %s: version: unsupported GGUF version %d (want 2 or 3)", name, f.Version)
	}
	nTensors, err := d.u64()
	if err != nil {
		return nil, fail("tensor count", err)
	}
	nKV, err := d.u64()
	if err != nil {
		return nil, fail("metadata count", err)
	}
	// Each KV needs at least 8 (key length) + 4 (type) + 1 bytes; each
	// tensor info at least 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset).
	if nKV > d.remaining()/13 {
		return nil, fmt.Errorf("gguf %s: metadata count: %d entries cannot fit in the %d bytes left in the file", name, nKV, d.remaining())
	}
	if nTensors > d.remaining()/24 {
		return nil, fmt.Errorf("gguf %s: tensor count: %d tensors cannot fit in the %d bytes left in the file", name, nTensors, d.remaining())
	}

	f.KV = make([]KV, 0, nKV)
	f.kvIdx = make(map[string]int, nKV)
	for i := range nKV {
		key, err := d.str()
		if err != nil {
			return nil, fail(fmt.Sprintf("metadata entry %d: key", i), err)
		}
		field := fmt.Sprintf("metadata %s", strconv.Quote(key))
		if _, dup := f.kvIdx[key]; dup {
			return nil, fmt.Errorf("gguf %s: %s: duplicate key", name, field)
		}
		t, err := d.u32()
		if err != nil {
			return nil, fail(field+": value type", err)
		}
		v, err := d.value(ValueType(t), 0)
		if err != nil {
			return nil, fail(field, err)
		}
		f.kvIdx[key] = len(f.KV)
		f.KV = append(f.KV, KV{Key: key, Value: v})
	}

	f.Alignment = DefaultAlignment
	if v, ok := f.Get(KeyAlignment); ok {
		a, ok := v.(uint32)
		if !ok {
			return nil, fmt.Errorf("gguf %s: metadata %q: must be a uint32, got %T", name, KeyAlignment, v)
		}
		if a == 0 || a&(a-1) != 0 {
			return nil, fmt.Errorf("gguf %s: metadata %q: %d is not a power of two", name, KeyAlignment, a)
		}
		f.Alignment = uint64(a)
	}

	f.Tensors = make([]TensorInfo, nTensors)
	f.tIdx = make(map[string]int, nTensors)
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		if ti.Name, err = d.str(); err != nil {
			return nil, fail(fmt.Sprintf("tensor %d: name", i), err)
		}
		field := fmt.Sprintf("tensor %d (%s)", i, strconv.Quote(ti.Name))
		if _, dup := f.tIdx[ti.Name]; dup {
			return nil, fmt.Errorf("gguf %s: %s: duplicate tensor name", name, field)
		}
		f.tIdx[ti.Name] = i
		nd, err := d.u32()
		if err != nil {
			return nil, fail(field+": number of dimensions", err)
		}
		if nd > MaxDims {
			return nil, fmt.Errorf("gguf %s: %s: %d dimensions, at most %d are allowed", name, field, nd, MaxDims)
		}
		ti.Dims = make([]uint64, nd)
		for j := range ti.Dims {
			if ti.Dims[j], err = d.u64(); err != nil {
				return nil, fail(fmt.Sprintf("%s: dimension %d", field, j), err)
			}
			if ti.Dims[j] > math.MaxInt64 {
				return nil, fmt.Errorf("gguf %s: %s: dimension %d is %d, out of range", name, field, j, ti.Dims[j])
			}
		}
		t, err := d.u32()
		if err != nil {
			return nil, fail(field+": type", err)
		}
		ti.Type = ggml.Type(t)
		if !ti.Type.Known() {
			return nil, fmt.Errorf("gguf %s: %s: unknown tensor type id %d", name, field, t)
		}
		if ti.Offset, err = d.u64(); err != nil {
			return nil, fail(field+": offset", err)
		}
		if ti.Offset%f.Alignment != 0 {
			return nil, fmt.Errorf("gguf %s: %s: offset %d is not a multiple of the alignment %d", name, field, ti.Offset, f.Alignment)
		}
		if _, err := tensorBytes(ti.Type, ti.Dims); err != nil {
			return nil, fmt.Errorf("gguf %s: %s: dimensions %v: %w", name, field, ti.Dims, err)
		}
	}

	// The data section starts at the next multiple of the alignment; a file
	// without tensors may end before it.
	f.DataOffset = alignUp(d.pos, f.Alignment)
	if len(f.Tensors) > 0 && f.DataOffset > d.size {
		return nil, fmt.Errorf("gguf %s: data section: starts at %d, past the end of the file (%d bytes)", name, f.DataOffset, d.size)
	}
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		n, _ := tensorBytes(ti.Type, ti.Dims)
		avail := d.size - min(f.DataOffset, d.size)
		if ti.Offset > avail || n > avail-ti.Offset {
			return nil, fmt.Errorf("gguf %s: tensor %d (%s): data of %d bytes at offset %d ends past the end of the file (data section holds %d bytes)",
				name, i, strconv.Quote(ti.Name), n, ti.Offset, avail)
		}
	}
	return f, nil
}

func alignUp(x, a uint64) uint64 {
	return (x + a - 1) / a * a
}
