package llama2c

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hone-ai/hone/model/fixtures"
)

func TestFixturesV0AndV1Agree(t *testing.T) {
	v0, err := Open(fixtures.Path(t, "stories260k", "stories260K.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer v0.Close()
	v1, err := Open(fixtures.Path(t, "stories260k", "stories260K.v1.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer v1.Close()

	want := Header{Version: 0, Dim: 64, HiddenDim: 172, NLayers: 5, NHeads: 8, NKVHeads: 4, VocabSize: 512, SeqLen: 512, SharedClassifier: true}
	if v0.Header != want {
		t.Errorf("v0 header %+v, want %+v", v0.Header, want)
	}
	want.Version = 1
	if v1.Header != want {
		t.Errorf("v1 header %+v, want %+v", v1.Header, want)
	}
	if v0.Header.HeadSize() != 8 || v0.Header.KVDim() != 32 {
		t.Errorf("head size %d, kv dim %d", v0.Header.HeadSize(), v0.Header.KVDim())
	}
	same := func(name string, a, b []float32, n int) {
		t.Helper()
		if len(a) != n || len(b) != n {
			t.Errorf("%s: lengths %d and %d, want %d", name, len(a), len(b), n)
			return
		}
		if !slices.Equal(a, b) {
			t.Errorf("%s differs between v0 and v1", name)
		}
		allZero := true
		for _, x := range a {
			if x != x || math.IsInf(float64(x), 0) {
				t.Errorf("%s holds %g", name, x)
				return
			}
			allZero = allZero && x == 0
		}
		if allZero {
			t.Errorf("%s is all zero", name)
		}
	}
	h := v0.Header
	same("token embedding", v0.TokenEmbedding, v1.TokenEmbedding, 512*64)
	same("final norm", v0.FinalNorm, v1.FinalNorm, 64)
	same("classifier", v0.Classifier, v1.Classifier, 512*64)
	if &v0.Classifier[0] != &v0.TokenEmbedding[0] {
		t.Error("shared classifier is not the embedding")
	}
	if len(v0.Layers) != 5 || len(v1.Layers) != 5 {
		t.Fatalf("%d and %d layers", len(v0.Layers), len(v1.Layers))
	}
	for i := range v0.Layers {
		a, b := v0.Layers[i], v1.Layers[i]
		same("attn norm", a.AttnNorm, b.AttnNorm, h.Dim)
		same("ffn norm", a.FFNNorm, b.FFNNorm, h.Dim)
		same("wq", a.Wq, b.Wq, h.Dim*h.Dim)
		same("wk", a.Wk, b.Wk, h.KVDim()*h.Dim)
		same("wv", a.Wv, b.Wv, h.KVDim()*h.Dim)
		same("wo", a.Wo, b.Wo, h.Dim*h.Dim)
		same("w1", a.W1, b.W1, h.HiddenDim*h.Dim)
		same("w2", a.W2, b.W2, h.HiddenDim*h.Dim)
		same("w3", a.W3, b.W3, h.HiddenDim*h.Dim)
	}
	// RMSNorm weights of a trained model sit near 1, unlike projections.
	var mean float64
	for _, x := range v0.FinalNorm {
		mean += float64(x) / 64
	}
	if mean < 0.3 || mean > 5 {
		t.Errorf("final norm mean %g: layout looks wrong", mean)
	}

	// Re-encoding the parsed checkpoints reproduces the files byte for byte
	// (except the legacy freq_cis arrays, which hone computes in float64).
	for _, c := range []struct {
		ck   *Checkpoint
		file string
	}{{v1, "stories260K.v1.bin"}} {
		b, err := c.ck.Encode()
		if err != nil {
			t.Fatal(err)
		}
		orig, _ := os.ReadFile(fixtures.Path(t, "stories260k", c.file))
		if !slices.Equal(b, orig) {
			t.Errorf("re-encoded %s differs", c.file)
		}
	}
	// The legacy file matches too, its freq_cis arrays up to rounding.
	b, err := v0.Encode()
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(fixtures.Path(t, "stories260k", "stories260K.bin"))
	nFreq := 2 * h.SeqLen * h.HeadSize() / 2
	freqStart := len(orig) - 4*nFreq
	if len(b) != len(orig) || !slices.Equal(b[:freqStart], orig[:freqStart]) {
		t.Error("re-encoded stories260K.bin differs before freq_cis")
	}
	for i := freqStart; i+4 <= min(len(b), len(orig)); i += 4 {
		x := math.Float32frombits(binary.LittleEndian.Uint32(b[i:]))
		y := math.Float32frombits(binary.LittleEndian.Uint32(orig[i:]))
		if math.Abs(float64(x-y)) > 1e-4 {
			t.Fatalf("freq_cis at byte %d: %g, file has %g", i, x, y)
		}
	}
	if err := v0.Close(); err != nil {
		t.Fatal(err)
	}
	if v0.TokenEmbedding != nil || v0.Layers != nil {
		t.Error("Close left slices into the unmapped file")
	}
}

// randomCheckpoint builds a small model with distinct random weights.
func randomCheckpoint(h Header, seed uint64) *Checkpoint {
	r := rand.New(rand.NewPCG(seed, 7))
	vec := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	c := &Checkpoint{Header: h}
	c.TokenEmbedding = vec(h.VocabSize * h.Dim)
	c.FinalNorm = vec(h.Dim)
	if h.SharedClassifier {
		c.Classifier = c.TokenEmbedding
	} else {
		c.Classifier = vec(h.VocabSize * h.Dim)
	}
	for range h.NLayers {
		c.Layers = append(c.Layers, Layer{
			AttnNorm: vec(h.Dim), Wq: vec(h.Dim * h.Dim), Wk: vec(h.KVDim() * h.Dim), Wv: vec(h.KVDim() * h.Dim),
			Wo: vec(h.Dim * h.Dim), FFNNorm: vec(h.Dim), W1: vec(h.HiddenDim * h.Dim), W2: vec(h.HiddenDim * h.Dim), W3: vec(h.HiddenDim * h.Dim),
		})
	}
	return c
}

func equalWeights(t *testing.T, got, want *Checkpoint) {
	t.Helper()
	if got.Header != want.Header {
		t.Fatalf("header %+v, want %+v", got.Header, want.Header)
	}
	if !slices.Equal(got.TokenEmbedding, want.TokenEmbedding) || !slices.Equal(got.FinalNorm, want.FinalNorm) || !slices.Equal(got.Classifier, want.Classifier) {
		t.Error("embedding, final norm or classifier differ")
	}
	if !reflect.DeepEqual(got.Layers, want.Layers) {
		t.Error("layers differ")
	}
}

var smallHeader = Header{Dim: 8, HiddenDim: 12, NLayers: 2, NHeads: 4, NKVHeads: 2, VocabSize: 10, SeqLen: 6}

func TestWriteParseAllVariants(t *testing.T) {
	dir := t.TempDir()
	for _, version := range []int{0, 1} {
		for _, shared := range []bool{true, false} {
			h := smallHeader
			h.Version, h.SharedClassifier = version, shared
			want := randomCheckpoint(h, uint64(version*2+len(dir)))
			b, err := want.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if version == 0 {
				v := int32(binary.LittleEndian.Uint32(b[20:]))
				if shared && v != 10 || !shared && v != -10 {
					t.Errorf("legacy vocab_size field %d (shared %v)", v, shared)
				}
			}
			got, err := Parse(b)
			if err != nil {
				t.Fatalf("v%d shared=%v: %v", version, shared, err)
			}
			equalWeights(t, got, want)
			if shared && &got.Classifier[0] != &got.TokenEmbedding[0] {
				t.Error("shared classifier not aliased")
			}
			// An unaligned buffer takes the copying path and agrees.
			un := make([]byte, len(b)+1)
			copy(un[1:], b)
			got2, err := Parse(un[1:])
			if err != nil {
				t.Fatal(err)
			}
			equalWeights(t, got2, want)

			path := filepath.Join(dir, "m.bin")
			if err := want.WriteFile(path); err != nil {
				t.Fatal(err)
			}
			got3, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			equalWeights(t, got3, want)
			if got3.Path != path {
				t.Errorf("Path %q", got3.Path)
			}
			if err := got3.Close(); err != nil {
				t.Fatal(err)
			}
			if err := got3.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("%d directory entries, want 1 (temp files left?)", len(ents))
	}
}

func TestMalformed(t *testing.T) {
	h := smallHeader
	good0, _ := randomCheckpoint(h, 1).Encode()
	h.Version = 1
	good1, _ := randomCheckpoint(h, 1).Encode()
	legacy := func(ints ...int32) []byte {
		b := make([]byte, 28, 1024)
		for i, v := range ints {
			binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
		}
		return b
	}
	with := func(b []byte, off int, v uint32) []byte {
		c := slices.Clone(b)
		binary.LittleEndian.PutUint32(c[off:], v)
		return c
	}
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"short", []byte{1, 2, 3}, "too short"},
		{"zero dim", legacy(0, 1, 1, 1, 1, 1, 1), "dim is 0"},
		{"negative layers", legacy(8, 1, -1, 1, 1, 1, 1), "n_layers is -1"},
		{"min int vocab", legacy(8, 1, 1, 1, 1, math.MinInt32, 1), "vocab_size"},
		{"zero vocab", legacy(8, 1, 1, 1, 1, 0, 1), "vocab_size is 0"},
		{"heads", legacy(8, 1, 1, 3, 1, 1, 1), "not a multiple of n_heads"},
		{"kv heads", legacy(8, 1, 1, 4, 3, 1, 1), "n_kv_heads"},
		{"kv > heads", legacy(8, 1, 1, 2, 4, 1, 1), "n_kv_heads"},
		{"odd head", legacy(6, 1, 1, 2, 2, 1, 1), "odd"},
		{"too many layers", legacy(8, 1, 5000, 1, 1, 1, 1), "n_layers 5000"},
		{"huge dims", legacy(math.MaxInt32-1, math.MaxInt32, 4096, 1, 1, math.MaxInt32, math.MaxInt32), "larger than any file"},
		{"header only", legacy(8, 12, 2, 4, 2, 10, 6), "file holds 0"},
		{"truncated v0", good0[:len(good0)-4], "implies"},
		{"extra v0", append(slices.Clone(good0), 0, 0, 0, 0), "implies"},
		{"truncated v1", good1[:len(good1)-1], "implies"},
		{"v1 short header", good1[:100], "256-byte header"},
		{"v1 version 2", with(good1, 4, 2), "version 2"},
		{"v1 version 9", with(good1, 4, 9), "version 9"},
		{"v1 negative vocab", with(good1, 28, uint32(0xfffffff6)), "vocab_size is -10"},
		{"v1 shared byte", func() []byte { c := slices.Clone(good1); c[36] = 7; return c }(), "shared_classifier"},
		{"v1 shared flips size", func() []byte { c := slices.Clone(good1); c[36] ^= 1; return c }(), "implies"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.b)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "llama2c (bytes): ") {
				t.Errorf("error %q, want one containing %q", err, c.want)
			}
		})
	}
}

func TestTruncations(t *testing.T) {
	for _, v := range []int{0, 1} {
		h := smallHeader
		h.Version = v
		b, _ := randomCheckpoint(h, 3).Encode()
		for n := 0; n < len(b); n++ {
			if _, err := Parse(b[:n]); err == nil {
				t.Fatalf("v%d truncated to %d of %d bytes: no error", v, n, len(b))
			}
		}
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.bin")
	os.WriteFile(p, make([]byte, 28), 0o644)
	if _, err := Open(p); err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "dim is 0") {
		t.Errorf("err = %v", err)
	}
	os.WriteFile(p, make([]byte, 3), 0o644)
	if _, err := Open(p); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Errorf("err = %v", err)
	}
	if _, err := Open(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file opened")
	}
	if _, err := Open(dir); err == nil {
		t.Error("directory opened")
	}
}

func TestValidateRefusesInconsistent(t *testing.T) {
	c := randomCheckpoint(smallHeader, 4)
	c.Layers[1].Wk = c.Layers[1].Wk[:5]
	if err := c.WriteFile(filepath.Join(t.TempDir(), "x.bin")); err == nil || !strings.Contains(err.Error(), "layer 1 wk") {
		t.Errorf("err = %v", err)
	}
	c = randomCheckpoint(smallHeader, 4)
	c.Header.Version = 2
	if _, err := c.Encode(); err == nil {
		t.Error("version 2 encoded")
	}
}
