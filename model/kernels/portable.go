package kernels

import "math"

// Portable (plain Go) versions of the inner kernels. They are the fast
// path's fallback on CPUs or architectures without the assembly, and are
// tested against the reference twins like the assembly is.

func dotGo(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func gemvRowsGo(out, w []float32, ldw int, x []float32) {
	n := len(x)
	for r := range out {
		out[r] = dotGo(w[r*ldw:r*ldw+n], x)
	}
}

// gemvTGo accumulates each out element over the rows in order, as a
// sequence of axpy calls would.
func gemvTGo(out, w []float32, ldw int, x []float32) {
	clear(out)
	n := len(out)
	for r, a := range x {
		axpyGo(a, w[r*ldw:r*ldw+n], out)
	}
}

// sgemmKernGo is the 6×16 micro-kernel in plain Go.
func sgemmKernGo(k int, ap, bp, c []float32, ldc int, alpha, beta float32) {
	var acc [6][16]float32
	for p := 0; p < k; p++ {
		a := ap[p*6 : p*6+6]
		b := bp[p*16 : p*16+16]
		for i, av := range a {
			row := &acc[i]
			for j, bv := range b {
				row[j] += av * bv
			}
		}
	}
	for i := 0; i < 6; i++ {
		cr := c[i*ldc : i*ldc+16]
		if beta == 0 {
			for j := range cr {
				cr[j] = alpha * acc[i][j]
			}
		} else {
			for j := range cr {
				cr[j] = alpha*acc[i][j] + beta*cr[j]
			}
		}
	}
}

func dotQ8Go(w []byte, xq []int8, xd []float32) float32 {
	var s float32
	for b, d := range xd {
		blk := w[b*34 : b*34+34]
		q := xq[b*32 : b*32+32]
		var si int32
		for i := 0; i < 32; i++ {
			si += int32(int8(blk[2+i])) * int32(q[i])
		}
		s += float32(si) * (f16ToF32(uint16(blk[0])|uint16(blk[1])<<8) * d)
	}
	return s
}

func dotQ4Go(w []byte, xq []int8, xd []float32) float32 {
	var s float32
	for b, d := range xd {
		blk := w[b*18 : b*18+18]
		q := xq[b*32 : b*32+32]
		var si int32
		for i := 0; i < 16; i++ {
			v := blk[2+i]
			si += (int32(v&15) - 8) * int32(q[i])
			si += (int32(v>>4) - 8) * int32(q[i+16])
		}
		s += float32(si) * (f16ToF32(uint16(blk[0])|uint16(blk[1])<<8) * d)
	}
	return s
}

func dotF16Go(w []byte, x []float32) float32 {
	w = w[:2*len(x)]
	var s float32
	for i, v := range x {
		s += f16ToF32(uint16(w[2*i])|uint16(w[2*i+1])<<8) * v
	}
	return s
}

func cvtF16Go(dst []float32, src []byte) {
	src = src[:2*len(dst)]
	for i := range dst {
		dst[i] = f16ToF32(uint16(src[2*i]) | uint16(src[2*i+1])<<8)
	}
}

func expSubSumGo(x []float32, mx float32) float32 {
	var s float32
	for i, v := range x {
		e := float32(math.Exp(float64(v - mx)))
		x[i] = e
		s += e
	}
	return s
}

func siluMulGo(out, gate, up []float32) {
	for i := range out {
		g := gate[i]
		out[i] = g / (1 + float32(math.Exp(float64(-g)))) * up[i]
	}
}

func axpyGo(a float32, x, y []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += a * x[i]
	}
}

func mulScaleGo(out, x, w []float32, s float32) {
	for i := range out {
		out[i] = x[i] * s * w[i]
	}
}

// f16ToF32 converts an IEEE 754 half-precision value to float32 exactly.
func f16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	// subnormal: value = mant·2^-24
	f := float32(mant) * (1.0 / (1 << 24))
	if sign != 0 {
		return -f
	}
	return f
}
