package kernels

import (
	"fmt"
	"math"

	"github.com/hone-ai/hone/model/ggml"
)

// Block sizes of the quantized formats (llama.cpp's ggml-common.h layouts).
const (
	q8Block   = 34  // f16 d, int8 qs[32]
	q4Block   = 18  // f16 d, uint8 qs[16]: low nibbles are elements 0..15, high 16..31
	q4KBlock  = 144 // f16 d, f16 dmin, uint8 scales[12], uint8 qs[128]
	q6KBlock  = 210 // uint8 ql[128], uint8 qh[64], int8 scales[16], f16 d
	superSize = 256
)

// quantizeQ8Go quantizes x (32·len(xd) long) to int8 blocks of 32 with
// one float32 scale each, as llama.cpp's AVX2 code quantizes activations
// for its integer dot products: d = max|x|/127, q = round-half-even(x·(1/d)).
func quantizeQ8Go(xq []int8, xd []float32, x []float32) {
	for b := range xd {
		blk := x[b*32 : b*32+32]
		var amax float32
		for _, v := range blk {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		d := amax / 127
		xd[b] = d
		q := xq[b*32 : b*32+32]
		if d == 0 {
			clear(q)
			continue
		}
		id := 1 / d
		for i, v := range blk {
			q[i] = int8(math.RoundToEven(float64(v * id)))
		}
	}
}

func f16At(b []byte) float32 { return f16ToF32(uint16(b[0]) | uint16(b[1])<<8) }

// dequantInto expands one row (raw blocks in src) of type t into dst. It is
// the fast path's own decoder; tests hold it to model/ggml.Dequantize.
func dequantInto(t ggml.Type, src []byte, dst []float32) {
	switch t {
	case ggml.F32:
		src = src[:4*len(dst)]
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(src[4*i]) | uint32(src[4*i+1])<<8 | uint32(src[4*i+2])<<16 | uint32(src[4*i+3])<<24)
		}
	case ggml.F16:
		cvtF16(dst, src)
	case ggml.BF16:
		src = src[:2*len(dst)]
		for i := range dst {
			dst[i] = math.Float32frombits((uint32(src[2*i]) | uint32(src[2*i+1])<<8) << 16)
		}
	case ggml.Q8_0:
		for b := 0; b < len(dst)/32; b++ {
			blk := src[b*q8Block : (b+1)*q8Block]
			d := f16At(blk)
			out := dst[b*32 : b*32+32]
			for i := range out {
				out[i] = d * float32(int8(blk[2+i]))
			}
		}
	case ggml.Q4_0:
		for b := 0; b < len(dst)/32; b++ {
			blk := src[b*q4Block : (b+1)*q4Block]
			d := f16At(blk)
			out := dst[b*32 : b*32+32]
			for i := 0; i < 16; i++ {
				v := blk[2+i]
				out[i] = d * float32(int(v&15)-8)
				out[i+16] = d * float32(int(v>>4)-8)
			}
		}
	case ggml.Q4_K:
		for b := 0; b < len(dst)/superSize; b++ {
			dequantQ4K(src[b*q4KBlock:(b+1)*q4KBlock], dst[b*superSize:(b+1)*superSize])
		}
	case ggml.Q6_K:
		for b := 0; b < len(dst)/superSize; b++ {
			dequantQ6K(src[b*q6KBlock:(b+1)*q6KBlock], dst[b*superSize:(b+1)*superSize])
		}
	default:
		panic(fmt.Sprintf("kernels: tensor type %s is not supported", t))
	}
}

// scaleMinK4 decodes the 6-bit scale and min of sub-block j of a Q4_K
// super-block (llama.cpp get_scale_min_k4).
func scaleMinK4(j int, q []byte) (sc, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return (q[j+4] & 0xF) | ((q[j-4] >> 6) << 4), (q[j+4] >> 4) | ((q[j] >> 6) << 4)
}

func dequantQ4K(blk []byte, y []float32) {
	d := f16At(blk[0:])
	dmin := f16At(blk[2:])
	scales := blk[4:16]
	q := blk[16:144]
	for j := 0; j < 4; j++ {
		sc1, m1 := scaleMinK4(2*j, scales)
		sc2, m2 := scaleMinK4(2*j+1, scales)
		d1, mm1 := d*float32(sc1), dmin*float32(m1)
		d2, mm2 := d*float32(sc2), dmin*float32(m2)
		qs := q[32*j : 32*j+32]
		lo := y[64*j : 64*j+32]
		hi := y[64*j+32 : 64*j+64]
		for l, v := range qs {
			lo[l] = d1*float32(v&0xF) - mm1
			hi[l] = d2*float32(v>>4) - mm2
		}
	}
}

func dequantQ6K(blk []byte, y []float32) {
	ql := blk[0:128]
	qh := blk[128:192]
	sc := blk[192:208]
	d := f16At(blk[208:])
	for n := 0; n < 2; n++ {
		l0, h0, s0, yy := ql[64*n:], qh[32*n:], sc[8*n:], y[128*n:]
		for l := 0; l < 32; l++ {
			is := l / 16
			q1 := int8((l0[l]&0xF)|((h0[l]>>0)&3)<<4) - 32
			q2 := int8((l0[l+32]&0xF)|((h0[l]>>2)&3)<<4) - 32
			q3 := int8((l0[l]>>4)|((h0[l]>>4)&3)<<4) - 32
			q4 := int8((l0[l+32]>>4)|((h0[l]>>6)&3)<<4) - 32
			yy[l] = d * float32(int8(s0[is])) * float32(q1)
			yy[l+32] = d * float32(int8(s0[is+2])) * float32(q2)
			yy[l+64] = d * float32(int8(s0[is+4])) * float32(q3)
			yy[l+96] = d * float32(int8(s0[is+6])) * float32(q4)
		}
	}
}
