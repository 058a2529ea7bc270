package model

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/hone-ai/hone/model/fixtures"
)

// agreement returns the RMS difference and the Pearson correlation of a
// and b.
func agreement(a, b []float32) (rms, corr float64) {
	var sa, sb, saa, sbb, sab, sd float64
	n := float64(len(a))
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		sa += x
		sb += y
		saa += x * x
		sbb += y * y
		sab += x * y
		sd += (x - y) * (x - y)
	}
	cov := sab/n - sa/n*sb/n
	va, vb := saa/n-sa/n*sa/n, sbb/n-sb/n*sb/n
	return math.Sqrt(sd / n), cov / math.Sqrt(va*vb)
}

func readTokens(t *testing.T, path string) []int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var toks []int
	for _, f := range strings.Fields(string(b)) {
		v, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		toks = append(toks, v)
	}
	return toks
}

func readF32(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// TestQuantLogits holds every tensor type to llama.cpp's logits (see
// fixtures/README.md, quant/): F32 and F16 within RMS 0.01; quantized
// types with correlation ≥ 0.999 and RMS ≤ 0.25.
func TestQuantLogits(t *testing.T) {
	toks := readTokens(t, fixtures.Path(t, "quant", "tokens.txt"))
	for _, tc := range []struct {
		typ     string
		maxRMS  float64
		minCorr float64
	}{
		{"f32", 0.01, 0.9999},
		{"f16", 0.01, 0.9999},
		{"q8_0", 0.25, 0.999},
		{"q4_0", 0.25, 0.999},
		{"q4_k", 0.25, 0.999},
		{"q6_k", 0.25, 0.999},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			m := loadFixture(t, LoadOptions{}, "quant", "r256-"+tc.typ+".gguf")
			want := readF32(t, fixtures.Path(t, "quant", "logits-"+tc.typ+".f32"))
			rows, err := m.Logits(context.Background(), toks)
			if err != nil {
				t.Fatal(err)
			}
			var got []float32
			for _, r := range rows {
				got = append(got, r...)
			}
			if len(got) != len(want) {
				t.Fatalf("%d logits, reference has %d", len(got), len(want))
			}
			rms, corr := agreement(got, want)
			t.Logf("%s: RMS %.4f, correlation %.6f", tc.typ, rms, corr)
			if rms > tc.maxRMS || corr < tc.minCorr {
				t.Errorf("%s: RMS %.4f (max %.2f), correlation %.6f (min %.4f)", tc.typ, rms, tc.maxRMS, corr, tc.minCorr)
			}
		})
	}
}
