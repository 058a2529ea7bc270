package gguf

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/hone-ai/hone/model/fixtures"
	"github.com/hone-ai/hone/model/ggml"
)

// allValues holds one metadata value of every kind GGUF can store.
func allValues() []KV {
	return []KV{
		{"general.architecture", "llama"},
		{"u8", uint8(200)},
		{"i8", int8(-100)},
		{"u16", uint16(60000)},
		{"i16", int16(-30000)},
		{"u32", uint32(4000000000)},
		{"i32", int32(-2000000000)},
		{"u64", uint64(1) << 63},
		{"i64", int64(-1) << 62},
		{"f32", float32(1e-5)},
		{"f64", math.Pi},
		{"bool.t", true},
		{"bool.f", false},
		{"str.empty", ""},
		{"str.utf8", "한국어 ✓ \x00 nul"},
		{"a.u8", []uint8{1, 2, 255}},
		{"a.i8", []int8{-1, 0, 127}},
		{"a.u16", []uint16{1, 65535}},
		{"a.i16", []int16{-32768, 32767}},
		{"a.u32", []uint32{0, 1, 4294967295}},
		{"a.i32", []int32{-1, 2, 3}},
		{"a.f32", []float32{0.5, -1.25, float32(math.Inf(1))}},
		{"a.bool", []bool{true, false, true}},
		{"a.str", []string{"<unk>", "", "▁the"}},
		{"a.u64", []uint64{math.MaxUint64}},
		{"a.i64", []int64{math.MinInt64, 0}},
		{"a.f64", []float64{1e300}},
		{"a.empty", []int32{}},
		{"a.nested", []any{[]int32{1, 2}, []string{"x"}, []any{[]float32{3}}, []uint8{}}},
	}
}

type testTensor struct {
	name string
	typ  ggml.Type
	dims []uint64
}

var testTensors = []testTensor{
	{"token_embd.weight", ggml.F32, []uint64{4, 3}},
	{"blk.0.attn_q.weight", ggml.F16, []uint64{8, 2}},
	{"blk.0.ffn_up.weight", ggml.Q8_0, []uint64{64, 2}},
	{"blk.0.ffn_down.weight", ggml.Q4_K, []uint64{256, 1}},
	{"output_norm.weight", ggml.F32, []uint64{5}},
	{"x.4d", ggml.BF16, []uint64{2, 3, 4, 5}},
}

func tensorPayload(tt testTensor, seed byte) []byte {
	n, err := tensorBytes(tt.typ, tt.dims)
	if err != nil {
		panic(err)
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

func buildTestFile(t testing.TB) ([]byte, map[string][]byte) {
	t.Helper()
	w := NewWriter()
	for _, kv := range allValues() {
		w.Set(kv.Key, kv.Value)
	}
	data := map[string][]byte{}
	for i, tt := range testTensors {
		b := tensorPayload(tt, byte(i))
		data[tt.name] = b
		if err := w.AddTensor(tt.name, tt.typ, tt.dims, b); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), data
}

func checkRoundTrip(t *testing.T, f *File, data map[string][]byte) {
	t.Helper()
	if f.Version != 3 || f.Alignment != 32 || f.DataOffset%32 != 0 {
		t.Errorf("version %d alignment %d data offset %d", f.Version, f.Alignment, f.DataOffset)
	}
	want := allValues()
	if !reflect.DeepEqual(f.KV, want) {
		for i := range want {
			if i >= len(f.KV) || !reflect.DeepEqual(f.KV[i], want[i]) {
				t.Errorf("KV %d: got %#v, want %#v", i, f.KV[min(i, len(f.KV)-1)], want[i])
			}
		}
	}
	if len(f.Tensors) != len(testTensors) {
		t.Fatalf("%d tensors, want %d", len(f.Tensors), len(testTensors))
	}
	for i, tt := range testTensors {
		ti := f.Tensors[i]
		if ti.Name != tt.name || ti.Type != tt.typ || !reflect.DeepEqual(ti.Dims, tt.dims) || ti.Offset%32 != 0 {
			t.Errorf("tensor %d: got %+v, want %+v", i, ti, tt)
		}
		got, err := f.TensorData(tt.name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data[tt.name]) {
			t.Errorf("tensor %s: data differs", tt.name)
		}
		if p, ok := f.Tensor(tt.name); !ok || p != &f.Tensors[i] {
			t.Errorf("Tensor(%q) = %v, %v", tt.name, p, ok)
		}
	}
}

func TestRoundTripBytes(t *testing.T) {
	b, data := buildTestFile(t)
	f, err := OpenBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	checkRoundTrip(t, f, data)

	g, err := Parse(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	checkRoundTrip(t, g, data)

	// Version 2 has the same layout.
	v2 := bytes.Clone(b)
	binary.LittleEndian.PutUint32(v2[4:], 2)
	f2, err := OpenBytes(v2)
	if err != nil {
		t.Fatal(err)
	}
	if f2.Version != 2 || !reflect.DeepEqual(f2.KV, f.KV) || !reflect.DeepEqual(f2.Tensors, f.Tensors) {
		t.Error("version 2 file parses differently")
	}
}

func TestWriteFileOpen(t *testing.T) {
	b, data := buildTestFile(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "m.gguf")
	w := NewWriter()
	for _, kv := range allValues() {
		w.Set(kv.Key, kv.Value)
	}
	for _, tt := range testTensors {
		if err := w.AddTensor(tt.name, tt.typ, tt.dims, data[tt.name]); err != nil {
			t.Fatal(err)
		}
	}
	// Overwrites an existing file atomically.
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	onDisk, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, b) {
		t.Error("WriteFile and WriteTo wrote different bytes")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries after WriteFile, want 1 (temp file left behind?)", len(ents))
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	checkRoundTrip(t, f, data)
	if f.Path != path {
		t.Errorf("Path = %q", f.Path)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := f.TensorData("output_norm.weight"); err == nil {
		t.Error("TensorData after Close succeeded")
	}
	// Metadata survives Close.
	if s, ok := f.String("general.architecture"); !ok || s != "llama" {
		t.Errorf("after Close: %q %v", s, ok)
	}
}

func TestWriteFileFailureLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	w := NewWriter()
	w.Set("bad", 5) // Go int has no GGUF type
	path := filepath.Join(dir, "m.gguf")
	err := w.WriteFile(path)
	if err == nil || !strings.Contains(err.Error(), `"bad"`) || !strings.Contains(err.Error(), "uint32") {
		t.Fatalf("err = %v, want one naming the key and suggesting a sized type", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("directory not empty after failed write: %v", ents)
	}
}

func TestGetters(t *testing.T) {
	b, _ := buildTestFile(t)
	f, err := OpenBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key  string
		u    uint64
		uok  bool
		i    int64
		iok  bool
		fl   float64
		flok bool
	}{
		{"u8", 200, true, 200, true, 200, true},
		{"i8", 0, false, -100, true, -100, true},
		{"u32", 4000000000, true, 4000000000, true, 4e9, true},
		{"u64", 1 << 63, true, 0, false, 1 << 63, true},
		{"f32", 0, false, 0, false, float64(float32(1e-5)), true},
		{"f64", 0, false, 0, false, math.Pi, true},
		{"bool.t", 0, false, 0, false, 0, false},
		{"missing", 0, false, 0, false, 0, false},
	} {
		u, uok := f.Uint(c.key)
		i, iok := f.Int(c.key)
		fl, flok := f.Float(c.key)
		if u != c.u && c.uok || uok != c.uok || i != c.i && c.iok || iok != c.iok || fl != c.fl || flok != c.flok {
			t.Errorf("%s: Uint %d %v, Int %d %v, Float %g %v", c.key, u, uok, i, iok, fl, flok)
		}
	}
	if v, ok := f.Bool("bool.t"); !v || !ok {
		t.Error("Bool(bool.t)")
	}
	if _, ok := f.Bool("u8"); ok {
		t.Error("Bool(u8) ok")
	}
	if s, ok := f.Strings("a.str"); !ok || len(s) != 3 || s[2] != "▁the" {
		t.Errorf("Strings = %q %v", s, ok)
	}
	if _, ok := f.Strings("str.utf8"); ok {
		t.Error("Strings on a scalar string")
	}
	if s, ok := f.Float32s("a.f32"); !ok || s[1] != -1.25 {
		t.Errorf("Float32s = %v %v", s, ok)
	}
	if s, ok := f.Int32s("a.i32"); !ok || !reflect.DeepEqual(s, []int32{-1, 2, 3}) {
		t.Errorf("Int32s(a.i32) = %v %v", s, ok)
	}
	if s, ok := f.Int32s("a.u8"); !ok || !reflect.DeepEqual(s, []int32{1, 2, 255}) {
		t.Errorf("Int32s(a.u8) = %v %v", s, ok)
	}
	if _, ok := f.Int32s("a.u32"); ok {
		t.Error("Int32s(a.u32) with 4294967295 converted")
	}
	if v, ok := f.Get("a.nested"); !ok || len(v.([]any)) != 4 {
		t.Errorf("Get(a.nested) = %v", v)
	}
	if f.Arch() != "llama" {
		t.Errorf("Arch = %q", f.Arch())
	}
	if got := f.TensorNames(); len(got) != len(testTensors) || got[0] != "token_embd.weight" {
		t.Errorf("TensorNames = %v", got)
	}
}

func TestWriterSetReplacesInPlace(t *testing.T) {
	w := NewWriter()
	w.Set("a", uint32(1))
	w.Set("b", uint32(2))
	w.Set("a", "x")
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := OpenBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if want := []KV{{"a", "x"}, {"b", uint32(2)}}; !reflect.DeepEqual(f.KV, want) {
		t.Errorf("KV = %v, want %v", f.KV, want)
	}
	if len(f.Tensors) != 0 {
		t.Errorf("tensors: %v", f.Tensors)
	}
}

func TestWriterCustomAlignment(t *testing.T) {
	w := NewWriter()
	w.Set(KeyAlignment, uint32(64))
	for i, n := range []uint64{3, 5} {
		if err := w.AddTensor("t"+string(rune('0'+i)), ggml.F32, []uint64{n}, make([]byte, 4*n)); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := OpenBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if f.Alignment != 64 || f.DataOffset%64 != 0 || f.Tensors[1].Offset != 64 {
		t.Errorf("alignment %d, data offset %d, second offset %d", f.Alignment, f.DataOffset, f.Tensors[1].Offset)
	}
	w.Set(KeyAlignment, uint32(48))
	if _, err := w.WriteTo(&bytes.Buffer{}); err == nil {
		t.Error("alignment 48 accepted")
	}
}

func TestAddTensorErrors(t *testing.T) {
	w := NewWriter()
	if err := w.AddTensor("a", ggml.F32, []uint64{2}, make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		typ  ggml.Type
		dims []uint64
		n    int
		want string
	}{
		{"a", ggml.F32, []uint64{2}, 8, "twice"},
		{"", ggml.F32, []uint64{2}, 8, "empty"},
		{strings.Repeat("x", 64), ggml.F32, []uint64{2}, 8, "longer"},
		{"b", ggml.F32, []uint64{2}, 7, "needs 8 bytes"},
		{"b", ggml.Q8_0, []uint64{33}, 34, "block size"},
		{"b", ggml.Type(99), []uint64{2}, 8, "unknown"},
		{"b", ggml.F32, nil, 0, "dimensions"},
		{"b", ggml.F32, []uint64{1, 1, 1, 1, 1}, 4, "dimensions"},
		{"b", ggml.F32, []uint64{0}, 0, "dimension 0 is 0"},
		{"b", ggml.F32, []uint64{1 << 62, 1 << 62}, 0, "overflow"},
	} {
		err := w.AddTensor(c.name, c.typ, c.dims, make([]byte, c.n))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("AddTensor(%q, %v, %v, %d): %v, want error containing %q", c.name, c.typ, c.dims, c.n, err, c.want)
		}
	}
}

// TestFixtures opens GGUF files written by llama.cpp's own tools.
func TestFixtures(t *testing.T) {
	p := fixtures.Path(t, "gguf", "llama-2-tiny-random.gguf")
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Version != 3 || len(f.KV) != 18 || len(f.Tensors) != 12 {
		t.Errorf("version %d, %d KV, %d tensors", f.Version, len(f.KV), len(f.Tensors))
	}
	if n, ok := f.Uint("llama.embedding_length"); !ok || n != 8 {
		t.Errorf("embedding_length = %d %v", n, ok)
	}
	if e, ok := f.Float("llama.attention.layer_norm_rms_epsilon"); !ok || float32(e) != 1e-5 {
		t.Errorf("rms eps = %g %v", e, ok)
	}
	toks, ok := f.Strings("tokenizer.ggml.tokens")
	if !ok || len(toks) != 32000 || toks[1] != "<s>" || toks[3] != "<0x00>" {
		t.Errorf("tokens: %d", len(toks))
	}
	if ty, ok := f.Int32s("tokenizer.ggml.token_type"); !ok || len(ty) != 32000 || ty[0] != 2 {
		t.Errorf("token types: %v", ok)
	}
	ti, ok := f.Tensor("token_embd.weight")
	if !ok || ti.Type != ggml.F16 || !reflect.DeepEqual(ti.Dims, []uint64{8, 32000}) || ti.Rows() != 32000 || ti.Cols() != 8 {
		t.Fatalf("token_embd: %+v", ti)
	}
	d, err := f.TensorData("token_embd.weight")
	if err != nil || len(d) != 8*32000*2 {
		t.Fatalf("token_embd data: %d bytes, %v", len(d), err)
	}
	norm, err := f.TensorData("output_norm.weight")
	if err != nil || len(norm) != 32 {
		t.Fatal(err)
	}

	// Every GGUF fixture parses and every tensor's data is in bounds.
	for _, dir := range []string{"gguf", "quant", "vocab"} {
		paths, _ := filepath.Glob(filepath.Join(filepath.Dir(filepath.Dir(p)), dir, "*.gguf"))
		for _, path := range paths {
			g, err := Open(path)
			if err != nil {
				t.Errorf("%v", err)
				continue
			}
			for i := range g.Tensors {
				if _, err := g.Data(&g.Tensors[i]); err != nil {
					t.Error(err)
				}
			}
			g.Close()
		}
	}
}

func TestCheckSupported(t *testing.T) {
	ti := TensorInfo{Name: "blk.0.attn_q.weight", Type: ggml.Q5_K, Dims: []uint64{256, 4}}
	err := ti.CheckSupported()
	if err == nil || !strings.Contains(err.Error(), "tensor blk.0.attn_q.weight has type Q5_K, which hone does not support") {
		t.Errorf("err = %v", err)
	}
	ti.Type = ggml.Q6_K
	if err := ti.CheckSupported(); err != nil {
		t.Error(err)
	}
}

// raw builds GGUF bytes by hand, for malformed inputs.
type raw struct{ bytes.Buffer }

func (r *raw) u32(v uint32) *raw { binary.Write(&r.Buffer, binary.LittleEndian, v); return r }
func (r *raw) u64(v uint64) *raw { binary.Write(&r.Buffer, binary.LittleEndian, v); return r }
func (r *raw) str(s string) *raw { r.u64(uint64(len(s))); r.WriteString(s); return r }
func (r *raw) head(version uint32, nt, nkv uint64) *raw {
	r.WriteString("GGUF")
	return r.u32(version).u64(nt).u64(nkv)
}
func (r *raw) tensor(name string, typ uint32, off uint64, dims ...uint64) *raw {
	r.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		r.u64(d)
	}
	return r.u32(typ).u64(off)
}
func (r *raw) padTo(n int) *raw {
	for r.Len()%n != 0 {
		r.WriteByte(0)
	}
	return r
}
func (r *raw) zeros(n int) *raw { r.Write(make([]byte, n)); return r }

func TestMalformed(t *testing.T) {
	cases := []struct {
		name string
		b    []byte
		want string // substring of the error
	}{
		{"empty", nil, "magic"},
		{"wrong magic", []byte("GGML\x03\x00\x00\x00" + strings.Repeat("\x00", 16)), "not a GGUF file"},
		{"version 1", new(raw).head(1, 0, 0).Bytes(), "version 1"},
		{"version 4", new(raw).head(4, 0, 0).Bytes(), "unsupported GGUF version 4"},
		{"big endian", new(raw).head(3<<24, 0, 0).Bytes(), "big-endian"},
		{"truncated counts", []byte("GGUF\x03\x00\x00\x00\x01"), "tensor count"},
		{"huge kv count", new(raw).head(3, 0, 1<<60).Bytes(), "metadata count"},
		{"huge tensor count", new(raw).head(3, math.MaxUint64, 0).Bytes(), "tensor count"},
		{"huge key length", new(raw).head(3, 0, 1).u64(1 << 62).zeros(8).Bytes(), "string length"},
		{"truncated value", new(raw).head(3, 0, 1).str("k").u32(uint32(TypeUint64)).zeros(4).Bytes(), `"k"`},
		{"unknown value type", new(raw).head(3, 0, 1).str("k").u32(13).zeros(8).Bytes(), "unknown value type id 13"},
		{"huge array", new(raw).head(3, 0, 1).str("k").u32(uint32(TypeArray)).u32(uint32(TypeFloat64)).u64(1 << 61).zeros(64).Bytes(), "array of 2305843009213693952 float64"},
		{"huge string array", new(raw).head(3, 0, 1).str("k").u32(uint32(TypeArray)).u32(uint32(TypeString)).u64(1000).zeros(64).Bytes(), "array of 1000 string"},
		{"array of unknown", new(raw).head(3, 0, 1).str("k").u32(uint32(TypeArray)).u32(77).u64(1).zeros(8).Bytes(), "unknown element type id 77"},
		{"huge string in array", new(raw).head(3, 0, 1).str("k").u32(uint32(TypeArray)).u32(uint32(TypeString)).u64(1).u64(1 << 40).Bytes(), "array element 0: string length"},
		{"duplicate key", new(raw).head(3, 0, 2).str("k").u32(uint32(TypeUint8)).zeros(1).str("k").u32(uint32(TypeUint8)).zeros(1).Bytes(), `"k": duplicate key`},
		{"alignment type", new(raw).head(3, 0, 1).str(KeyAlignment).u32(uint32(TypeUint64)).u64(32).Bytes(), "must be a uint32"},
		{"alignment zero", new(raw).head(3, 0, 1).str(KeyAlignment).u32(uint32(TypeUint32)).u32(0).Bytes(), "not a power of two"},
		{"alignment 3", new(raw).head(3, 0, 1).str(KeyAlignment).u32(uint32(TypeUint32)).u32(3).Bytes(), "not a power of two"},
		{"too many dims", new(raw).head(3, 1, 0).tensor("t", 0, 0, 1, 1, 1, 1, 1).padTo(32).zeros(4).Bytes(), "5 dimensions"},
		{"huge n_dims", new(raw).head(3, 1, 0).str("t").u32(1 << 31).zeros(64).Bytes(), "dimensions"},
		{"dim out of range", new(raw).head(3, 1, 0).tensor("t", 0, 0, 1<<63).padTo(32).Bytes(), "out of range"},
		{"dims overflow", new(raw).head(3, 1, 0).tensor("t", 0, 0, 1<<32, 1<<32).padTo(32).Bytes(), "overflows"},
		{"dims overflow 3", new(raw).head(3, 1, 0).tensor("t", 1, 0, 1<<21, 1<<21, 1<<21).padTo(32).Bytes(), "overflows"},
		{"unknown tensor type", new(raw).head(3, 1, 0).tensor("blk.0.x", 5, 0, 4).padTo(32).zeros(16).Bytes(), `"blk.0.x"): unknown tensor type id 5`},
		{"block size", new(raw).head(3, 1, 0).tensor("t", uint32(ggml.Q8_0), 0, 33).padTo(32).zeros(64).Bytes(), "not a multiple of the block size"},
		{"misaligned offset", new(raw).head(3, 1, 0).tensor("t", 0, 4, 1).padTo(32).zeros(64).Bytes(), "not a multiple of the alignment"},
		{"offset past end", new(raw).head(3, 1, 0).tensor("t", 0, 1<<40, 1).padTo(32).zeros(64).Bytes(), "past the end"},
		{"offset wraps", new(raw).head(3, 1, 0).tensor("t", 0, math.MaxUint64-31, 16).padTo(32).zeros(64).Bytes(), "past the end"},
		{"data truncated", new(raw).head(3, 1, 0).tensor("t", 0, 0, 16).padTo(32).zeros(63).Bytes(), "past the end"},
		{"no data section", new(raw).head(3, 1, 0).tensor("t", 0, 0, 1).Bytes(), "past the end"},
		{"duplicate tensor", new(raw).head(3, 2, 0).tensor("t", 0, 0, 1).tensor("t", 0, 32, 1).padTo(32).zeros(64).Bytes(), `"t"): duplicate tensor name`},
		{"scalar of a block type", new(raw).head(3, 1, 0).tensor("t", uint32(ggml.Q8_0), 0).padTo(32).zeros(64).Bytes(), "row of 1 elements is not a multiple of the block size 32"},
		{"truncated tensor info", new(raw).head(3, 1, 0).str("t").u32(3).u64(4).u64(4).Bytes(), "dimension 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := OpenBytes(c.b)
			runtime.ReadMemStats(&after)
			// Claimed counts and lengths are checked before allocating: the
			// parser allocates a few times the input at most.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<10+8*uint64(len(c.b)) {
				t.Errorf("allocated %d bytes for a %d-byte input", alloc, len(c.b))
			}
			if err == nil {
				t.Fatalf("no error")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "gguf (bytes)") {
				t.Errorf("error %q does not contain %q and the file name", err, c.want)
			}
		})
	}
}

func TestMalformedOpenNamesPath(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.gguf")
	if err := os.WriteFile(p, new(raw).head(3, 0, 1).str("general.name").u32(uint32(TypeString)).u64(1000).Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "general.name") {
		t.Errorf("err = %v", err)
	}
	short := filepath.Join(dir, "short.gguf")
	os.WriteFile(short, []byte("GGUF"), 0o644)
	if _, err := Open(short); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Errorf("short file: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "missing.gguf")); err == nil {
		t.Error("missing file opened")
	}
	if _, err := Open(dir); err == nil {
		t.Error("directory opened")
	}
}

// Every truncation of a valid file is an error, never a panic.
func TestTruncations(t *testing.T) {
	b, _ := buildTestFile(t)
	f, err := OpenBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	last := &f.Tensors[len(f.Tensors)-1]
	size, _ := last.Size()
	end := int(f.DataOffset + last.Offset + size)
	if len(b)%32 != 0 || end > len(b) || end <= len(b)-32 {
		t.Fatalf("file of %d bytes, data ends at %d: want the end padded to 32", len(b), end)
	}
	for n := 0; n < len(b); n++ {
		_, err := OpenBytes(b[:n:n])
		if n < end && err == nil {
			t.Fatalf("truncated to %d of %d bytes: no error", n, len(b))
		}
		if n >= end && err != nil {
			t.Fatalf("truncated to %d of %d bytes, only padding lost: %v", n, len(b), err)
		}
	}
}

func TestNestingBound(t *testing.T) {
	r := new(raw).head(3, 0, 1).str("k").u32(uint32(TypeArray))
	for range 20 {
		r.u32(uint32(TypeArray)).u64(1)
	}
	r.u32(uint32(TypeUint8)).u64(0)
	_, err := OpenBytes(r.Bytes())
	if err == nil || !strings.Contains(err.Error(), "nested") {
		t.Errorf("err = %v", err)
	}
}

// Re-writing files that llama.cpp wrote reproduces them byte for byte.
func TestRewriteLlamaCppFiles(t *testing.T) {
	for _, name := range [][]string{
		{"quant", "r256-q4_k.gguf"},
		{"gguf", "stories260K-f16.gguf"},
		{"gguf", "llama-2-tiny-random.gguf"},
		{"vocab", "ggml-vocab-gpt-2.gguf"},
	} {
		p := fixtures.Path(t, name...)
		f, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		w := NewWriter()
		for _, kv := range f.KV {
			w.Set(kv.Key, kv.Value)
		}
		for i := range f.Tensors {
			ti := &f.Tensors[i]
			d, err := f.Data(ti)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.AddTensor(ti.Name, ti.Type, ti.Dims, d); err != nil {
				t.Fatal(err)
			}
		}
		var buf bytes.Buffer
		if _, err := w.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		f.Close()
		orig, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), orig) {
			n := 0
			for n < min(len(orig), buf.Len()) && orig[n] == buf.Bytes()[n] {
				n++
			}
			t.Errorf("%s: rewritten file (%d bytes) differs from the original (%d bytes) from byte %d", name[1], buf.Len(), len(orig), n)
		}
	}
}

func TestDump(t *testing.T) {
	b, _ := buildTestFile(t)
	f, err := OpenBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := f.Dump(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"GGUF v3  (bytes)",
		`general.architecture                          string "llama"`,
		"u32                                           uint32 4000000000",
		`[]string(3) ["<unk>" "" "▁the"]`,
		"[]interface {}(4) [[]int32(2) [1 2] []string(1) [\"x\"]",
		"blk.0.ffn_down.weight                    Q4_K  [256 1]                       144 bytes at",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dump lacks %q:\n%s", want, out.String())
		}
	}
	if got := FormatValue(make([]float32, 100), 3); got != "[]float32(100) [0 0 0 ...]" {
		t.Errorf("FormatValue = %q", got)
	}
}

// A zero-element tensor may sit exactly at the end of the file.
func TestEmptyTensorAtEnd(t *testing.T) {
	b := new(raw).head(3, 1, 0).tensor("empty", 0, 0, 0, 4).padTo(32).Bytes()
	for _, open := range []func() (*File, error){
		func() (*File, error) { return OpenBytes(b) },
		func() (*File, error) { return Parse(bytes.NewReader(b), int64(len(b))) },
	} {
		f, err := open()
		if err != nil {
			t.Fatal(err)
		}
		d, err := f.TensorData("empty")
		if err != nil || len(d) != 0 {
			t.Errorf("TensorData = %v, %v", d, err)
		}
	}
}
