package ggml

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Block layouts, as in llama.cpp's ggml-common.h (all little-endian; "f16"
// is an IEEE half):
//
//	Q8_0 (32 values, 34 bytes):  d f16 | qs [32]int8            x = d*q
//	Q4_0 (32 values, 18 bytes):  d f16 | qs [16]uint8           x[j] = d*((qs[j]&15)-8), x[j+16] = d*((qs[j]>>4)-8)
//	Q4_K (256 values, 144 bytes): d f16 | dmin f16 | scales [12]uint8 (8 6-bit scales, 8 6-bit mins) | qs [128]uint8
//	Q6_K (256 values, 210 bytes): ql [128]uint8 | qh [64]uint8 | scales [16]int8 | d f16
//
// The byte offsets of each field are exported below so that fast kernels
// can share them.
const (
	QK8_0 = 32 // values per Q8_0 block
	QK4_0 = 32 // values per Q4_0 block
	QK_K  = 256

	Q4KOffD      = 0
	Q4KOffDmin   = 2
	Q4KOffScales = 4
	Q4KOffQs     = 16

	Q6KOffQl     = 0
	Q6KOffQh     = 128
	Q6KOffScales = 192
	Q6KOffD      = 208
)

// Dequantize expands len(dst) elements of type t from src into dst.
// src must hold exactly t.RowBytes(len(dst)) bytes. It allocates nothing.
func Dequantize(t Type, src []byte, dst []float32) error {
	want, err := t.rowBytes(len(dst))
	if err != nil {
		return fmt.Errorf("ggml: dequantize: %w", err)
	}
	if len(src) != want {
		return fmt.Errorf("ggml: dequantize %s: %d elements need %d bytes, got %d", t, len(dst), want, len(src))
	}
	switch t {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case F16:
		src = src[:2*len(dst)]
		for i := range dst {
			dst[i] = F16ToF32(uint16(src[2*i]) | uint16(src[2*i+1])<<8)
		}
	case BF16:
		src = src[:2*len(dst)]
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(src[2*i])<<16 | uint32(src[2*i+1])<<24)
		}
	case Q8_0:
		for b := 0; b < len(dst)/QK8_0; b++ {
			dequantQ8_0(src[b*34:b*34+34], dst[b*QK8_0:b*QK8_0+QK8_0])
		}
	case Q4_0:
		for b := 0; b < len(dst)/QK4_0; b++ {
			dequantQ4_0(src[b*18:b*18+18], dst[b*QK4_0:b*QK4_0+QK4_0])
		}
	case Q4_K:
		for b := 0; b < len(dst)/QK_K; b++ {
			dequantQ4_K(src[b*144:b*144+144], dst[b*QK_K:b*QK_K+QK_K])
		}
	case Q6_K:
		for b := 0; b < len(dst)/QK_K; b++ {
			dequantQ6_K(src[b*210:b*210+210], dst[b*QK_K:b*QK_K+QK_K])
		}
	default:
		return fmt.Errorf("ggml: dequantize %s: type not supported by hone (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K)", t)
	}
	return nil
}

func dequantQ8_0(blk []byte, y []float32) {
	d := F16ToF32(binary.LittleEndian.Uint16(blk))
	qs := blk[2:34]
	y = y[:32]
	for j, q := range qs {
		y[j] = float32(int8(q)) * d
	}
}

func dequantQ4_0(blk []byte, y []float32) {
	d := F16ToF32(binary.LittleEndian.Uint16(blk))
	qs := blk[2:18]
	y = y[:32]
	for j, q := range qs {
		y[j] = float32(int(q&0xF)-8) * d
		y[j+16] = float32(int(q>>4)-8) * d
	}
}

// ScaleMinK4 unpacks the j-th (0..7) 6-bit scale and min of a Q4_K block's
// 12-byte scales field (llama.cpp's get_scale_min_k4).
func ScaleMinK4(j int, q []byte) (sc, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return (q[j+4] & 0xF) | ((q[j-4] >> 6) << 4), (q[j+4] >> 4) | ((q[j] >> 6) << 4)
}

func dequantQ4_K(blk []byte, y []float32) {
	d := F16ToF32(binary.LittleEndian.Uint16(blk[Q4KOffD:]))
	dmin := F16ToF32(binary.LittleEndian.Uint16(blk[Q4KOffDmin:]))
	scales := blk[Q4KOffScales : Q4KOffScales+12]
	q := blk[Q4KOffQs : Q4KOffQs+128]
	y = y[:256]
	for j := 0; j < 4; j++ {
		sc, m := ScaleMinK4(2*j, scales)
		d1, m1 := d*float32(sc), dmin*float32(m)
		sc, m = ScaleMinK4(2*j+1, scales)
		d2, m2 := d*float32(sc), dmin*float32(m)
		qq := q[32*j : 32*j+32]
		lo := y[64*j : 64*j+32]
		hi := y[64*j+32 : 64*j+64]
		for l, b := range qq {
			lo[l] = float32(d1*float32(b&0xF)) - m1
			hi[l] = float32(d2*float32(b>>4)) - m2
		}
	}
}

func dequantQ6_K(blk []byte, y []float32) {
	d := F16ToF32(binary.LittleEndian.Uint16(blk[Q6KOffD:]))
	y = y[:256]
	for n := 0; n < 2; n++ {
		ql := blk[Q6KOffQl+64*n : Q6KOffQl+64*n+64]
		qh := blk[Q6KOffQh+32*n : Q6KOffQh+32*n+32]
		sc := blk[Q6KOffScales+8*n : Q6KOffScales+8*n+8]
		yy := y[128*n : 128*n+128]
		for l := 0; l < 32; l++ {
			is := l / 16
			h := qh[l]
			q1 := int((ql[l]&0xF)|((h>>0)&3)<<4) - 32
			q2 := int((ql[l+32]&0xF)|((h>>2)&3)<<4) - 32
			q3 := int((ql[l]>>4)|((h>>4)&3)<<4) - 32
			q4 := int((ql[l+32]>>4)|((h>>6)&3)<<4) - 32
			yy[l] = float32(d*float32(int8(sc[is]))) * float32(q1)
			yy[l+32] = float32(d*float32(int8(sc[is+2]))) * float32(q2)
			yy[l+64] = float32(d*float32(int8(sc[is+4]))) * float32(q3)
			yy[l+96] = float32(d*float32(int8(sc[is+6]))) * float32(q4)
		}
	}
}

// Quantize encodes src as type t: F32, F16, BF16, Q8_0 or Q4_0, with
// llama.cpp's reference rounding. len(src) must be a multiple of the block
// size.
func Quantize(t Type, src []float32) ([]byte, error) {
	n, err := t.rowBytes(len(src))
	if err != nil {
		return nil, fmt.Errorf("ggml: quantize: %w", err)
	}
	dst := make([]byte, n)
	if err := QuantizeTo(t, src, dst); err != nil {
		return nil, err
	}
	return dst, nil
}

// QuantizeTo is Quantize into a caller-provided buffer of exactly
// t.RowBytes(len(src)) bytes. It allocates nothing.
func QuantizeTo(t Type, src []float32, dst []byte) error {
	want, err := t.rowBytes(len(src))
	if err != nil {
		return fmt.Errorf("ggml: quantize: %w", err)
	}
	if len(dst) != want {
		return fmt.Errorf("ggml: quantize %s: %d elements need %d bytes, got %d", t, len(src), want, len(dst))
	}
	switch t {
	case F32:
		for i, x := range src {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(x))
		}
	case F16:
		for i, x := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], F32ToF16(x))
		}
	case BF16:
		for i, x := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], F32ToBF16(x))
		}
	case Q8_0:
		for b := 0; b < len(src)/QK8_0; b++ {
			quantQ8_0(src[b*QK8_0:b*QK8_0+QK8_0], dst[b*34:b*34+34])
		}
	case Q4_0:
		for b := 0; b < len(src)/QK4_0; b++ {
			quantQ4_0(src[b*QK4_0:b*QK4_0+QK4_0], dst[b*18:b*18+18])
		}
	default:
		return fmt.Errorf("ggml: quantize %s: not supported (hone quantizes to F32, F16, BF16, Q8_0 and Q4_0)", t)
	}
	return nil
}

// quantQ8_0 is llama.cpp's quantize_row_q8_0_ref for one block.
func quantQ8_0(x []float32, blk []byte) {
	x = x[:32]
	var amax float32
	for _, v := range x {
		amax = max(amax, abs32(v))
	}
	d := amax / 127
	var id float32
	if d != 0 {
		id = 1 / d
	}
	binary.LittleEndian.PutUint16(blk, F32ToF16(d))
	qs := blk[2:34]
	for j, v := range x {
		qs[j] = byte(int8(roundAway(v * id)))
	}
}

// quantQ4_0 is llama.cpp's quantize_row_q4_0_ref for one block.
func quantQ4_0(x []float32, blk []byte) {
	x = x[:32]
	var amax, mx float32
	for _, v := range x {
		if a := abs32(v); a > amax {
			amax, mx = a, v
		}
	}
	d := mx / -8
	var id float32
	if d != 0 {
		id = 1 / d
	}
	binary.LittleEndian.PutUint16(blk, F32ToF16(d))
	qs := blk[2:18]
	for j := range qs {
		x0 := min(15, int8(float32(x[j]*id)+8.5))
		x1 := min(15, int8(float32(x[j+16]*id)+8.5))
		qs[j] = byte(x0) | byte(x1)<<4
	}
}

func abs32(x float32) float32 {
	return math.Float32frombits(math.Float32bits(x) &^ (1 << 31))
}

// roundAway is C's roundf: round half away from zero.
func roundAway(x float32) float32 {
	return float32(math.Round(float64(x)))
}
