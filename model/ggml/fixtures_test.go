package ggml_test

import (
	"math"
	"testing"

	"github.com/hone-ai/hone/model/fixtures"
	"github.com/hone-ai/hone/model/ggml"
	"github.com/hone-ai/hone/model/gguf"
)

// The r256-TYPE.gguf fixtures hold the same random weights, quantized by
// llama.cpp's llama-quantize. Dequantizing each tensor must give back the
// F32 original up to the quantization error of its type; a layout or scale
// mistake gives errors near or above 100%.
func TestDequantizeLlamaCppFiles(t *testing.T) {
	ref := openGGUF(t, "r256-f32.gguf")
	// Relative RMS error bounds by type around the measured values:
	// F16 0.021%, Q8_0 0.53%, Q6_K 1.76%, Q4_K 7.1%, Q4_0 8.6%.
	bound := map[ggml.Type][2]float64{
		ggml.F32:  {0, 0},
		ggml.F16:  {5e-5, 5e-4},
		ggml.Q8_0: {3e-3, 8e-3},
		ggml.Q6_K: {0.01, 0.025},
		ggml.Q4_K: {0.05, 0.09},
		ggml.Q4_0: {0.06, 0.11},
	}
	for _, name := range []string{"r256-f16.gguf", "r256-q8_0.gguf", "r256-q4_0.gguf", "r256-q4_k.gguf", "r256-q6_k.gguf"} {
		f := openGGUF(t, name)
		seen := map[ggml.Type]int{}
		for i := range f.Tensors {
			ti := &f.Tensors[i]
			rt, ok := ref.Tensor(ti.Name)
			if !ok {
				t.Fatalf("%s: tensor %s not in the F32 file", name, ti.Name)
			}
			if rt.NumElements() != ti.NumElements() {
				t.Fatalf("%s: %s has %d elements, F32 file %d", name, ti.Name, ti.NumElements(), rt.NumElements())
			}
			want := tensorF32(t, ref, rt)
			got := tensorF32(t, f, ti)
			e := relRMS(got, want)
			b, ok := bound[ti.Type]
			if !ok {
				t.Fatalf("%s: %s has type %s", name, ti.Name, ti.Type)
			}
			if e < b[0] || e > b[1] {
				t.Errorf("%s: %s (%s): relative RMS error %.5f, want in [%g, %g]", name, ti.Name, ti.Type, e, b[0], b[1])
			}
			seen[ti.Type]++
			if testing.Verbose() {
				t.Logf("%s %s %s %.5f", name, ti.Name, ti.Type, e)
			}
		}
		t.Logf("%s: tensors by type %v", name, seen)
	}
}

// Quantizing the F32 weights with hone reproduces llama.cpp's files byte
// for byte (llama-quantize without an importance matrix uses the same
// reference rounding).
func TestQuantizeMatchesLlamaCpp(t *testing.T) {
	ref := openGGUF(t, "r256-f32.gguf")
	for _, c := range []struct {
		file string
		typ  ggml.Type
	}{
		{"r256-q8_0.gguf", ggml.Q8_0},
		{"r256-q4_0.gguf", ggml.Q4_0},
		{"r256-f16.gguf", ggml.F16},
	} {
		q := openGGUF(t, c.file)
		checked := 0
		for i := range q.Tensors {
			ti := &q.Tensors[i]
			if ti.Type != c.typ {
				continue
			}
			want, err := q.Data(ti)
			if err != nil {
				t.Fatal(err)
			}
			rt, _ := ref.Tensor(ti.Name)
			got, err := ggml.Quantize(c.typ, tensorF32(t, ref, rt))
			if err != nil {
				t.Fatal(err)
			}
			diff := 0
			for j := range want {
				if got[j] != want[j] {
					diff++
				}
			}
			if diff != 0 {
				t.Errorf("%s: %s: %d of %d bytes differ from llama.cpp's %s", c.file, ti.Name, diff, len(want), c.typ)
			}
			checked++
		}
		if checked == 0 {
			t.Fatalf("%s: no %s tensors", c.file, c.typ)
		}
	}
}

func openGGUF(t *testing.T, name string) *gguf.File {
	t.Helper()
	f, err := gguf.Open(fixtures.Path(t, "quant", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func tensorF32(t *testing.T, f *gguf.File, ti *gguf.TensorInfo) []float32 {
	t.Helper()
	data, err := f.Data(ti)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, ti.NumElements())
	if err := ggml.Dequantize(ti.Type, data, out); err != nil {
		t.Fatalf("%s: %v", ti.Name, err)
	}
	return out
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
