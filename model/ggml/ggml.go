// Package ggml describes GGML tensor element types: their ids as stored in
// GGUF files, their block layouts, and reference (plain Go) conversion
// between each type and float32.
package ggml

import "fmt"

// Type is a GGML tensor element type, numbered as in GGUF files.
type Type uint32

// Tensor types, with the numeric ids GGUF uses.
const (
	F32  Type = 0
	F16  Type = 1
	Q4_0 Type = 2
	Q4_1 Type = 3
	Q5_0 Type = 6
	Q5_1 Type = 7
	Q8_0 Type = 8
	Q8_1 Type = 9
	Q2_K Type = 10
	Q3_K Type = 11
	Q4_K Type = 12
	Q5_K Type = 13
	Q6_K Type = 14
	Q8_K Type = 15
	BF16 Type = 30
)

var typeInfo = map[Type]struct {
	name      string
	blockSize int // elements per block
	typeSize  int // bytes per block
}{
	F32:  {"F32", 1, 4},
	F16:  {"F16", 1, 2},
	BF16: {"BF16", 1, 2},
	Q4_0: {"Q4_0", 32, 18},
	Q4_1: {"Q4_1", 32, 20},
	Q5_0: {"Q5_0", 32, 22},
	Q5_1: {"Q5_1", 32, 24},
	Q8_0: {"Q8_0", 32, 34},
	Q8_1: {"Q8_1", 32, 36},
	Q2_K: {"Q2_K", 256, 84},
	Q3_K: {"Q3_K", 256, 110},
	Q4_K: {"Q4_K", 256, 144},
	Q5_K: {"Q5_K", 256, 176},
	Q6_K: {"Q6_K", 256, 210},
	Q8_K: {"Q8_K", 256, 292},
}

// String returns the type's GGML name, such as "Q8_0".
func (t Type) String() string {
	if ti, ok := typeInfo[t]; ok {
		return ti.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// Known reports whether t is a type id GGML defines (not necessarily one
// hone can compute with; see Supported).
func (t Type) Known() bool { _, ok := typeInfo[t]; return ok }

// Supported reports whether hone can read tensors of this type.
func (t Type) Supported() bool {
	switch t {
	case F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K:
		return true
	}
	return false
}

// BlockSize is the number of elements in one block (1 for float types).
func (t Type) BlockSize() int { return typeInfo[t].blockSize }

// TypeSize is the number of bytes in one block.
func (t Type) TypeSize() int { return typeInfo[t].typeSize }

// RowBytes returns the byte size of a row of n elements of type t, or an
// error when n is not a multiple of the block size or t is unknown.
func (t Type) RowBytes(n int) (int, error) {
	b, err := t.rowBytes(n)
	if err != nil {
		return 0, fmt.Errorf("ggml: %w", err)
	}
	return b, nil
}

func (t Type) rowBytes(n int) (int, error) {
	ti, ok := typeInfo[t]
	if !ok {
		return 0, fmt.Errorf("unknown tensor type %d", uint32(t))
	}
	if n < 0 || n%ti.blockSize != 0 {
		return 0, fmt.Errorf("%s row of %d elements is not a multiple of the block size %d", ti.name, n, ti.blockSize)
	}
	return n / ti.blockSize * ti.typeSize, nil
}
