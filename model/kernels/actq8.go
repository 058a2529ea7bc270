package kernels

import "github.com/hone-ai/hone/model/ggml"

// actQ8 is one activation vector quantized for the integer kernels: int8
// blocks of 32 (q) with float32 scales (d), plus what the K-quant kernels
// need — 8·Σq per block (b, Q4_0), per-block sums xd·Σq (s, Q4_K), and
// per 128-element half the
// scales and 32·Σq of each 16-element group in the kernel's lane order
// [g0 g2 g4 g6 g1 g3 g5 g7] (p and b, Q6_K).
type actQ8 struct {
	q []int8
	d []float32
	s []float32
	p []float32
	b []int32
}

// quantizeActs quantizes the n rows of x (cols each) for weights of type t.
// The inputs' q and d slices are consecutive pieces of one array each
// (acts[0].q[:n*cols] spans them all), which the Q8_0 MatMul relies on.
func quantizeActs(t ggml.Type, x []float32, n, cols int) []actQ8 {
	nb := cols / 32
	q := make([]int8, n*cols)
	d := make([]float32, n*nb)
	var s, p []float32
	var b []int32
	switch t {
	case ggml.Q4_0:
		b = make([]int32, n*nb)
	case ggml.Q4_K:
		s = make([]float32, n*nb)
	case ggml.Q6_K:
		p = make([]float32, n*nb*4)
		b = make([]int32, n*nb*4)
	}
	acts := make([]actQ8, n)
	for i := range acts {
		a := actQ8{q: q[i*cols : (i+1)*cols], d: d[i*nb : (i+1)*nb]}
		quantizeQ8(a.q, a.d, x[i*cols:(i+1)*cols])
		switch t {
		case ggml.Q4_0:
			a.b = b[i*nb : (i+1)*nb]
			for j := range a.b {
				var sum int32
				for _, v := range a.q[32*j : 32*j+32] {
					sum += int32(v)
				}
				a.b[j] = 8 * sum
			}
		case ggml.Q4_K:
			a.s = s[i*nb : (i+1)*nb]
			for j := range a.s {
				var sum int32
				for _, v := range a.q[32*j : 32*j+32] {
					sum += int32(v)
				}
				a.s[j] = a.d[j] * float32(sum)
			}
		case ggml.Q6_K:
			a.p = p[i*nb*4 : (i+1)*nb*4]
			a.b = b[i*nb*4 : (i+1)*nb*4]
			for h := 0; h < nb/4; h++ { // 128-element halves
				for lane, g := range [8]int{0, 2, 4, 6, 1, 3, 5, 7} {
					var sum int32
					for _, v := range a.q[128*h+16*g : 128*h+16*g+16] {
						sum += int32(v)
					}
					a.b[8*h+lane] = 32 * sum
					a.p[8*h+lane] = a.d[4*h+g/2]
				}
			}
		}
		acts[i] = a
	}
	return acts
}

// dotQ4KGo is the portable Q4_K × int8 kernel, the same sums as the
// assembly in plain Go.
func dotQ4KGo(w []byte, a actQ8) float32 {
	var s float32
	for sb := 0; sb < len(a.d)/8; sb++ {
		blk := w[sb*q4KBlock : (sb+1)*q4KBlock]
		d, dmin := f16At(blk[0:]), f16At(blk[2:])
		qs := blk[16:]
		xq := a.q[sb*superSize:]
		for j := 0; j < 8; j++ {
			sc, m := scaleMinK4(j, blk[4:16])
			var si int32
			sub := qs[32*(j/2) : 32*(j/2)+32]
			xs := xq[32*j : 32*j+32]
			if j%2 == 0 {
				for l, v := range sub {
					si += int32(v&0xF) * int32(xs[l])
				}
			} else {
				for l, v := range sub {
					si += int32(v>>4) * int32(xs[l])
				}
			}
			s += d*float32(sc)*a.d[sb*8+j]*float32(si) - dmin*float32(m)*a.s[sb*8+j]
		}
	}
	return s
}

// dotQ6KGo is the portable Q6_K × int8 kernel.
func dotQ6KGo(w []byte, a actQ8) float32 {
	var s float32
	for sb := 0; sb < len(a.d)/8; sb++ {
		blk := w[sb*q6KBlock : (sb+1)*q6KBlock]
		d := f16At(blk[208:])
		xq := a.q[sb*superSize:]
		for h := 0; h < 2; h++ {
			ql, qh, sc := blk[64*h:], blk[128+32*h:], blk[192+8*h:]
			var g [8]int32
			for l := 0; l < 32; l++ {
				q1 := int32(ql[l]&0xF | (qh[l]&3)<<4)
				q2 := int32(ql[l+32]&0xF | (qh[l]>>2&3)<<4)
				q3 := int32(ql[l]>>4 | (qh[l]>>4&3)<<4)
				q4 := int32(ql[l+32]>>4 | (qh[l]>>6&3)<<4)
				x := xq[128*h+l:]
				g[l/16] += (q1 - 32) * int32(x[0])
				g[2+l/16] += (q2 - 32) * int32(x[32])
				g[4+l/16] += (q3 - 32) * int32(x[64])
				g[6+l/16] += (q4 - 32) * int32(x[96])
			}
			for k, v := range g {
				s += d * float32(int8(sc[k])) * a.d[sb*8+4*h+k/2] * float32(v)
			}
		}
	}
	return s
}
