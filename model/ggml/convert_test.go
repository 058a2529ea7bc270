package ggml

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestF16AllValues(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := F16ToF32(h)
		exp := h >> 10 & 0x1f
		mant := h & 0x3ff
		if exp == 0x1f && mant != 0 {
			if !math.IsNaN(float64(f)) {
				t.Fatalf("%#04x: %g, want NaN", h, f)
			}
			if back := F32ToF16(f); back&0x7c00 != 0x7c00 || back&0x3ff == 0 || back&0x8000 != h&0x8000 {
				t.Fatalf("NaN %#04x came back as %#04x", h, back)
			}
			continue
		}
		// Value check against the definition.
		var want float64
		switch {
		case exp == 0x1f:
			want = math.Inf(1)
		case exp == 0:
			want = float64(mant) * math.Pow(2, -24)
		default:
			want = (1 + float64(mant)/1024) * math.Pow(2, float64(exp)-15)
		}
		if h&0x8000 != 0 {
			want = -want
		}
		if float64(f) != want || math.Signbit(float64(f)) != (h&0x8000 != 0) {
			t.Fatalf("F16ToF32(%#04x) = %g, want %g", h, f, want)
		}
		if back := F32ToF16(f); back != h {
			t.Fatalf("F32ToF16(F16ToF32(%#04x)) = %#04x", h, back)
		}
	}
}

// Halfway between two neighbouring halves rounds to the even one; a float32
// ulp either side rounds to the nearer one.
func TestF32ToF16Rounding(t *testing.T) {
	for i := 0; i < 0x7bff; i++ { // positive finite halves but the largest
		lo, hi := uint16(i), uint16(i+1)
		a, b := F16ToF32(lo), F16ToF32(hi)
		mid := float32((float64(a) + float64(b)) / 2) // exact: 12 significant bits
		even := lo
		if lo&1 == 1 {
			even = hi
		}
		for _, c := range []struct {
			x    float32
			want uint16
		}{
			{mid, even},
			{math.Nextafter32(mid, 0), lo},
			{math.Nextafter32(mid, 1e9), hi},
		} {
			if got := F32ToF16(c.x); got != c.want {
				t.Fatalf("F32ToF16(%g) between %#04x and %#04x = %#04x, want %#04x", c.x, lo, hi, got, c.want)
			}
			if got := F32ToF16(-c.x); got != c.want|0x8000 {
				t.Fatalf("F32ToF16(%g) = %#04x, want %#04x", -c.x, got, c.want|0x8000)
			}
		}
	}
	for _, c := range []struct {
		x    float32
		want uint16
	}{
		{65504, 0x7bff},
		{65519.99, 0x7bff},
		{65520, 0x7c00}, // halfway to the next binade rounds up to Inf
		{1e10, 0x7c00},
		{float32(math.Inf(-1)), 0xfc00},
		{float32(math.Pow(2, -25)), 0}, // exactly half the smallest subnormal: ties to even (0)
		{math.Nextafter32(float32(math.Pow(2, -25)), 1), 1},            // just above: rounds up
		{float32(math.Pow(2, -26)), 0},                                 // far below
		{-float32(math.Pow(2, -30)), 0x8000},                           // negative underflow keeps the sign
		{float32(math.Pow(2, -14)) - float32(math.Pow(2, -25)), 0x400}, // largest subnormal + half rounds to smallest normal (even)
		{math.SmallestNonzeroFloat32, 0},
	} {
		if got := F32ToF16(c.x); got != c.want {
			t.Errorf("F32ToF16(%g) = %#04x, want %#04x", c.x, got, c.want)
		}
	}
}

func TestBF16(t *testing.T) {
	for _, c := range []struct {
		x    float32
		want uint16
	}{
		{1, 0x3f80},
		{-2, 0xc000},
		{math.Float32frombits(0x3f808000), 0x3f80}, // tie, even stays
		{math.Float32frombits(0x3f818000), 0x3f82}, // tie, odd rounds up
		{math.Float32frombits(0x3f808001), 0x3f81},
		{math.Float32frombits(0x7f7fffff), 0x7f80}, // max float rounds to Inf
		{float32(math.Inf(1)), 0x7f80},
	} {
		if got := F32ToBF16(c.x); got != c.want {
			t.Errorf("F32ToBF16(%g) = %#04x, want %#04x", c.x, got, c.want)
		}
	}
	if got := F32ToBF16(float32(math.NaN())); BF16ToF32(got) == BF16ToF32(got) {
		t.Errorf("NaN became %#04x", got)
	}
	if got := F32ToBF16(math.Float32frombits(0x7f800001)); got&0x7f != 0x40 || got&0x7f80 != 0x7f80 {
		t.Errorf("signalling NaN became %#04x, want a quiet NaN", got)
	}
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := BF16ToF32(h)
		if f != f {
			continue
		}
		if F32ToBF16(f) != h {
			t.Fatalf("BF16 %#04x does not round-trip", h)
		}
	}
}

func randVec(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

func relRMS(got, want []float32) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(num / den)
}

func TestQuantizeRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	x := randVec(r, 32*64)
	for _, c := range []struct {
		t      Type
		maxErr float64 // relative RMS error
		minErr float64
	}{
		{F32, 0, 0},
		{F16, 5e-4, 1e-5},
		{BF16, 4e-3, 1e-4},
		{Q8_0, 0.01, 1e-3},
		{Q4_0, 0.15, 0.03},
	} {
		b, err := Quantize(c.t, x)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := c.t.RowBytes(len(x)); len(b) != n {
			t.Fatalf("%s: %d bytes, want %d", c.t, len(b), n)
		}
		y := make([]float32, len(x))
		if err := Dequantize(c.t, b, y); err != nil {
			t.Fatal(err)
		}
		e := relRMS(y, x)
		if e > c.maxErr || e < c.minErr {
			t.Errorf("%s: relative RMS error %.5f, want in [%g, %g]", c.t, e, c.minErr, c.maxErr)
		}
		// Re-quantizing the dequantized values is stable for the float types.
		if c.t == F32 || c.t == F16 || c.t == BF16 {
			b2, _ := Quantize(c.t, y)
			if string(b2) != string(b) {
				t.Errorf("%s: re-quantization differs", c.t)
			}
		}
	}
}

// Hand-computed blocks check the reference rounding of llama.cpp.
func TestQ8_0Block(t *testing.T) {
	x := make([]float32, 32)
	x[0] = 127 * 0.5 // amax: d = 0.5
	x[1] = -0.25     // -0.5 → rounds away from zero to -1
	x[2] = 0.75      // 1.5 → 2
	x[3] = 0.2       // 0.4 → 0
	x[4] = -63.5     // -127
	b, err := Quantize(Q8_0, x)
	if err != nil {
		t.Fatal(err)
	}
	if d := F16ToF32(binary.LittleEndian.Uint16(b)); d != 0.5 {
		t.Errorf("d = %g", d)
	}
	want := []int8{127, -1, 2, 0, -127, 0}
	for i, w := range want {
		if int8(b[2+i]) != w {
			t.Errorf("qs[%d] = %d, want %d", i, int8(b[2+i]), w)
		}
	}
	zero, _ := Quantize(Q8_0, make([]float32, 32))
	for i, v := range zero {
		if v != 0 {
			t.Fatalf("zero block byte %d = %d", i, v)
		}
	}
}

func TestQ4_0Block(t *testing.T) {
	x := make([]float32, 32)
	x[0] = -8  // the largest magnitude, negative: d = -8/-8 = 1
	x[1] = 7   // 7*1+8.5 = 15.5 → 15
	x[16] = 3  // 11.5 → 11
	x[17] = -1 // 7.5 → 7
	x[2] = 6.6 // 15.1 → 15
	b, err := Quantize(Q4_0, x)
	if err != nil {
		t.Fatal(err)
	}
	if d := F16ToF32(binary.LittleEndian.Uint16(b)); d != 1 {
		t.Errorf("d = %g", d)
	}
	if b[2] != 0|11<<4 || b[3] != 15|7<<4 || b[4] != 15|8<<4 {
		t.Errorf("qs = %v", b[2:6])
	}
	y := make([]float32, 32)
	Dequantize(Q4_0, b, y)
	if y[0] != -8 || y[1] != 7 || y[16] != 3 || y[17] != -1 || y[2] != 7 || y[3] != 0 {
		t.Errorf("dequantized %v", y)
	}
	// Positive max: d = -max/8, so max maps to code 0 (-8*d = max).
	x = make([]float32, 32)
	x[5] = 4
	b, _ = Quantize(Q4_0, x)
	Dequantize(Q4_0, b, y)
	if y[5] != 4 || y[0] != 0 {
		t.Errorf("positive max: %v", y[:8])
	}
}

// A Q4_K block built field by field, decoded by the formula of
// dequantize_row_q4_K.
func TestQ4_KBlock(t *testing.T) {
	blk := make([]byte, 144)
	binary.LittleEndian.PutUint16(blk[0:], F32ToF16(0.5))  // d
	binary.LittleEndian.PutUint16(blk[2:], F32ToF16(0.25)) // dmin
	sc := []uint8{1, 2, 3, 4, 63, 33, 17, 9}
	mn := []uint8{5, 6, 7, 8, 40, 0, 63, 31}
	s := blk[4:16]
	for j := 0; j < 4; j++ {
		s[j] = sc[j] | (sc[j+4]>>4)<<6
		s[j+4] = mn[j] | (mn[j+4]>>4)<<6
		s[j+8] = sc[j+4]&0xF | (mn[j+4]&0xF)<<4
	}
	for j := 0; j < 8; j++ {
		a, b := ScaleMinK4(j, s)
		if a != sc[j] || b != mn[j] {
			t.Fatalf("ScaleMinK4(%d) = %d, %d, want %d, %d", j, a, b, sc[j], mn[j])
		}
	}
	for i := 0; i < 128; i++ {
		blk[16+i] = byte(i*37 + 11)
	}
	y := make([]float32, 256)
	if err := Dequantize(Q4_K, blk, y); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 256; i++ {
		chunk, within := i/64, i%64
		sub := 2*chunk + within/32
		q := blk[16+32*chunk+within%32]
		if within >= 32 {
			q >>= 4
		} else {
			q &= 0xF
		}
		want := 0.5*float32(sc[sub])*float32(q) - 0.25*float32(mn[sub])
		if y[i] != want {
			t.Fatalf("y[%d] = %g, want %g", i, y[i], want)
		}
	}
}

func TestQ6_KBlock(t *testing.T) {
	blk := make([]byte, 210)
	q := make([]int, 256) // 6-bit codes
	for i := range q {
		q[i] = (i*29 + 5) % 64
	}
	// Pack as quantize_row_q6_K_ref does.
	ql, qh := blk[0:128], blk[128:192]
	for j := 0; j < 256; j += 128 {
		for l := 0; l < 32; l++ {
			q1, q2, q3, q4 := q[j+l], q[j+l+32], q[j+l+64], q[j+l+96]
			ql[j/2+l] = byte(q1&0xF | (q3&0xF)<<4)
			ql[j/2+l+32] = byte(q2&0xF | (q4&0xF)<<4)
			qh[j/4+l] = byte(q1>>4 | (q2>>4)<<2 | (q3>>4)<<4 | (q4>>4)<<6)
		}
	}
	scales := []int8{1, -2, 3, -4, 5, -6, 7, -8, 127, -128, 0, 1, 2, 3, 4, 5}
	for i, s := range scales {
		blk[192+i] = byte(s)
	}
	binary.LittleEndian.PutUint16(blk[208:], F32ToF16(0.125))
	y := make([]float32, 256)
	if err := Dequantize(Q6_K, blk, y); err != nil {
		t.Fatal(err)
	}
	for i := range y {
		want := 0.125 * float32(scales[i/16]) * float32(q[i]-32)
		if y[i] != want {
			t.Fatalf("y[%d] = %g, want %g", i, y[i], want)
		}
	}
}

func TestConvertErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"short src", Dequantize(Q8_0, make([]byte, 33), make([]float32, 32)), "need 34 bytes, got 33"},
		{"partial block", Dequantize(Q4_K, make([]byte, 144), make([]float32, 255)), "block size"},
		{"unsupported", Dequantize(Q5_K, make([]byte, 176), make([]float32, 256)), "Q5_K: type not supported"},
		{"unknown", Dequantize(Type(77), nil, nil), "unknown tensor type 77"},
		{"quantize Q4_K", func() error { _, err := Quantize(Q4_K, make([]float32, 256)); return err }(), "Q4_K: not supported"},
		{"quantize partial", func() error { _, err := Quantize(Q8_0, make([]float32, 31)); return err }(), "block size"},
		{"quantize dst", QuantizeTo(F16, make([]float32, 4), make([]byte, 7)), "need 8 bytes, got 7"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: %v, want error containing %q", c.name, c.err, c.want)
		}
	}
}

func TestDequantizeAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x := randVec(r, 1024)
	y := make([]float32, 1024)
	for _, typ := range []Type{F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K} {
		n, _ := typ.RowBytes(1024)
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(r.Uint32())
		}
		if a := testing.AllocsPerRun(10, func() { _ = Dequantize(typ, src, y) }); a != 0 {
			t.Errorf("Dequantize %s: %g allocations", typ, a)
		}
	}
	for _, typ := range []Type{F32, F16, BF16, Q8_0, Q4_0} {
		n, _ := typ.RowBytes(1024)
		dst := make([]byte, n)
		if a := testing.AllocsPerRun(10, func() { _ = QuantizeTo(typ, x, dst) }); a != 0 {
			t.Errorf("QuantizeTo %s: %g allocations", typ, a)
		}
	}
}

func BenchmarkDequantize(b *testing.B) {
	for _, typ := range []Type{F16, Q8_0, Q4_0, Q4_K, Q6_K} {
		b.Run(typ.String(), func(b *testing.B) {
			n, _ := typ.RowBytes(4096)
			src := make([]byte, n)
			dst := make([]float32, 4096)
			b.SetBytes(int64(len(dst) * 4))
			for b.Loop() {
				_ = Dequantize(typ, src, dst)
			}
		})
	}
}
