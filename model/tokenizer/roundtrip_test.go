package tokenizer

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/hone-ai/hone/model/fixtures"
)

// roundTripTexts exercise whitespace runs, Korean, emoji, CJK, RTL, combining
// marks and control characters.
var roundTripTexts = []string{
	"Hello world",
	" Hello  world ",
	"   leading and trailing   ",
	"\t\ttabs\tand\nnewlines\n\n\n",
	"\r\nwindows\r\nlines\r\n",
	"안녕하세요, 만나서 반갑습니다!",
	"오늘 날씨가 좋네요 😀😃🎉",
	"👨‍👩‍👧‍👦 family 🏳️‍🌈 flag ✅",
	"日本語のテキスト、中文文本。",
	"مرحبا بالعالم",
	"e\u0301 combining é",
	"numbers 1234567890 3.14159 1,000,000",
	"code: func main() { fmt.Println(\"hi\") } // done",
	"quotes ' \" ` and 's 't 're 've 'm 'll 'd",
	"\x00\x01\x7f control",
	"                                            many spaces",
	"a\u00a0b\u2003c\u3000d",
	"",
}

// fixtureTokenizers loads every vocabulary fixture that the package
// supports (nil when fixtures are absent).
func fixtureTokenizers(t testing.TB) map[string]*Tokenizer {
	t.Helper()
	out := map[string]*Tokenizer{}
	for _, name := range []string{"llama-spm", "phi-3", "baichuan", "gpt-2", "falcon", "mpt", "starcoder", "refact", "deepseek-llm", "deepseek-coder", "gpt-neox"} {
		out[name] = loadGGUFTokenizer(t, name)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	toks := fixtureTokenizers(t)
	for name, tok := range toks {
		for _, s := range roundTripTexts {
			ids := tok.Encode(s)
			if got := tok.Decode(ids); got != s {
				t.Errorf("%s: Decode(Encode(%q)) = %q (tokens %v)", name, s, got, pieces(tok, ids))
			}
			checkStream(t, name, tok, ids)
		}
	}
}

// checkStream checks that streaming ids gives Decode's text, and only whole
// characters per Add when the text is valid UTF-8.
func checkStream(t *testing.T, name string, tok *Tokenizer, ids []int) {
	t.Helper()
	for _, strip := range []bool{false, true} {
		var d *StreamDecoder
		want := tok.DecodeRaw(ids)
		if strip {
			d = tok.NewStreamDecoder(StripLeadingSpace())
			want = tok.Decode(ids)
		} else {
			d = tok.NewStreamDecoder()
		}
		valid := utf8.ValidString(want)
		var sb strings.Builder
		for _, id := range ids {
			p := d.Add(id)
			if valid && !utf8.ValidString(p) {
				t.Errorf("%s: Add(%d) returned a split character %q", name, id, p)
			}
			sb.WriteString(p)
		}
		sb.WriteString(d.Flush())
		if sb.String() != want {
			t.Errorf("%s: stream (strip %v) gave %q, want %q", name, strip, sb.String(), want)
		}
	}
}

func TestStreamKoreanByteTokens(t *testing.T) {
	_, tok := loadLlama2CTokenizer(t, "stories260k", "tok512.bin")
	ids := tok.Encode("안녕 친구")
	// The 512-token vocabulary has no Hangul: every syllable is 3 byte tokens.
	if len(ids) < 9 {
		t.Fatalf("expected byte fallback, got %v", pieces(tok, ids))
	}
	d := tok.NewStreamDecoder(StripLeadingSpace())
	var got []string
	for _, id := range ids {
		if p := d.Add(id); p != "" {
			got = append(got, p)
		}
	}
	if f := d.Flush(); f != "" {
		got = append(got, f)
	}
	if strings.Join(got, "") != "안녕 친구" {
		t.Fatalf("stream = %q", got)
	}
	for _, p := range got {
		if !utf8.ValidString(p) {
			t.Errorf("piece %q splits a character", p)
		}
	}
	// An incomplete character at the end comes out of Flush.
	d = tok.NewStreamDecoder()
	if p := d.Add(3 + 0xEC); p != "" {
		t.Errorf("Add(<0xEC>) = %q, want held back", p)
	}
	if f := d.Flush(); f != "\xEC" {
		t.Errorf("Flush = %q", f)
	}
	// A byte that can never start a character is not held back.
	if p := d.Add(3 + 0xFF); p != "\xFF" {
		t.Errorf("Add(<0xFF>) = %q", p)
	}
}

func TestBPEHand(t *testing.T) {
	// GPT-2 style vocabulary: all 256 byte characters plus a few merges.
	v := &Vocab{Model: ModelBPE, Pre: "gpt-2", BOS: -1, EOS: -1, UNK: -1, PAD: -1}
	for b := 0; b < 256; b++ {
		v.Tokens = append(v.Tokens, byteToUnicode[b])
	}
	for _, m := range []string{"Ġ w", "o r", "Ġw or", "l d", "Ġwor ld", "h e", "l l", "he ll", "hell o"} {
		v.Merges = append(v.Merges, m)
		v.Tokens = append(v.Tokens, strings.ReplaceAll(m, " ", ""))
	}
	v.Tokens = append(v.Tokens, "<|endoftext|>")
	v.Types = make([]int32, len(v.Tokens))
	for i := range v.Types {
		v.Types[i] = TypeNormal
	}
	v.Types[len(v.Types)-1] = TypeControl
	tok, err := New(v)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(pieces(tok, tok.Encode("hello world")), "|")
	if got != "hello|Ġworld" {
		t.Errorf("Encode = %s", got)
	}
	eot := len(v.Tokens) - 1
	if ids := tok.EncodeSpecial("hello<|endoftext|>"); len(ids) != 2 || ids[1] != eot {
		t.Errorf("EncodeSpecial = %v", pieces(tok, ids))
	}
	if ids := tok.Encode("<|endoftext|>"); len(ids) < 3 {
		t.Errorf("Encode must not match a control token: %v", pieces(tok, ids))
	}
	if !tok.IsEOG(eot) || !tok.IsControl(eot) {
		t.Error("<|endoftext|> is a control end-of-generation token")
	}
	if got := tok.Decode(tok.Encode("héllo wörld 안녕")); got != "héllo wörld 안녕" {
		t.Errorf("round trip = %q", got)
	}
}

func TestPreTokenizerSplits(t *testing.T) {
	for _, tc := range []struct {
		pre, text string
		want      []string
	}{
		{"gpt-2", "Hello world", []string{"Hello", " world"}},
		{"gpt-2", "I've  got 123 apples!!", []string{"I", "'ve", " ", " got", " 123", " apples", "!!"}},
		{"gpt-2", "a   \n", []string{"a", "   \n"}},
		{"gpt-2", "x  y", []string{"x", " ", " y"}},
		{"starcoder", "ab 123", []string{"ab", " ", "1", "2", "3"}},
		{"falcon", "x=12345", []string{"x", "=", "123", "45"}},
		{"default", "a+b 1234", []string{"a", "+", "b", " 1234"[0:1], "123", "4"}},
		{"deepseek-coder", "a1\nb", []string{"a", "1", "\n", "b"}},
		{"deepseek-llm", "hi  ", []string{"hi", "  "}},
		{"llama3", "Hello 12345\n\nWorld", []string{"Hello", " ", "123", "45", "\n\n", "World"}},
		{"qwen2", "ab12", []string{"ab", "1", "2"}},
	} {
		p, err := newPreTokenizer(tc.pre)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, w := range p.split(tc.text) {
			got = append(got, tc.text[w[0]:w[1]])
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s split %q = %q, want %q", tc.pre, tc.text, got, tc.want)
		}
	}
}

func TestLoadLlama2CMalformed(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	le := func(x uint32) []byte { return []byte{byte(x), byte(x >> 8), byte(x >> 16), byte(x >> 24)} }
	entry := func(s string) []byte {
		b := append(le(0), le(uint32(len(s)))...)
		return append(b, s...)
	}
	good := append(le(8), append(append(entry("<unk>"), entry("\n<s>\n")...), entry("\n</s>\n")...)...)
	good = append(good, entry("<0x41>")...)
	good = append(good, entry(" a")...)
	for _, tc := range []struct {
		name  string
		data  []byte
		vocab int
		want  string
	}{
		{"empty", nil, 0, "too short"},
		{"bad max", le(0xFFFFFFFF), 0, "max_token_length"},
		{"too many", le(8), 10, "vocab size"},
		{"truncated header", append(le(8), 1, 2, 3), 0, "header"},
		{"negative length", append(le(8), append(le(0), le(0xFFFFFFF0)...)...), 0, "bad length"},
		{"past end", append(le(8), append(le(0), le(100)...)...), 0, "past the end"},
		{"no tokens", le(8), 0, "no tokens"},
	} {
		_, err := LoadLlama2C(write(tc.name, tc.data), tc.vocab)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := LoadLlama2C(filepath.Join(dir, "missing"), 0); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: %v", err)
	}
	v, err := LoadLlama2C(write("good", good), 5)
	if err != nil {
		t.Fatal(err)
	}
	if v.Tokens[1] != "<s>" || v.Tokens[2] != "</s>" || v.Tokens[4] != "▁a" || v.Types[3] != TypeByte || v.Types[0] != TypeUnknown {
		t.Errorf("parsed %q %v", v.Tokens, v.Types)
	}
	if _, err := LoadLlama2C(write("good", good), 3); err != nil {
		t.Errorf("a vocab size below the file's count reads a prefix: %v", err)
	}
}

var (
	fuzzOnce sync.Once
	fuzzSPM  *Tokenizer
	fuzzBPE  []*Tokenizer
)

// fuzzTokenizers returns the llama-spm tokenizer and the byte-level BPE
// ones from the fixtures, or hand-built ones when fixtures are absent.
func fuzzTokenizers(t testing.TB) (*Tokenizer, []*Tokenizer) {
	fuzzOnce.Do(func() {
		dir := fixtures.Dir()
		load := func(name string) *Tokenizer {
			if dir == "" {
				return nil
			}
			return loadGGUFTokenizer(t, name)
		}
		fuzzSPM = load("llama-spm")
		if fuzzSPM == nil {
			fuzzSPM = handSPM(t)
		}
		for _, n := range []string{"gpt-2", "falcon", "starcoder", "deepseek-llm", "deepseek-coder", "gpt-neox"} {
			if tok := load(n); tok != nil {
				fuzzBPE = append(fuzzBPE, tok)
			}
		}
		if len(fuzzBPE) == 0 {
			v := &Vocab{Model: ModelBPE, BOS: -1, EOS: -1, UNK: -1, PAD: -1}
			for b := 0; b < 256; b++ {
				v.Tokens = append(v.Tokens, byteToUnicode[b])
			}
			v.Tokens = append(v.Tokens, "Ġt", "he")
			v.Merges = []string{"Ġ t", "h e"}
			tok, err := New(v)
			if err != nil {
				t.Fatal(err)
			}
			fuzzBPE = append(fuzzBPE, tok)
		}
	})
	return fuzzSPM, fuzzBPE
}

func FuzzSPM(f *testing.F) {
	for _, s := range roundTripTexts {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, _ := fuzzTokenizers(t)
		ids := tok.Encode(s)
		_ = tok.EncodeSpecial(s)
		for _, id := range ids {
			if id < 0 || id >= tok.VocabSize() {
				t.Fatalf("id %d out of range", id)
			}
		}
		// U+2581 is SentencePiece's space: it cannot round-trip.
		if utf8.ValidString(s) && !strings.Contains(s, spaceMarker) {
			if got := tok.Decode(ids); got != s {
				t.Fatalf("Decode(Encode(%q)) = %q", s, got)
			}
		}
		checkStream(t, "spm", tok, ids)
	})
}

func FuzzBPE(f *testing.F) {
	for _, s := range roundTripTexts {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, toks := fuzzTokenizers(t)
		for _, tok := range toks {
			ids := tok.Encode(s)
			_ = tok.EncodeSpecial(s)
			// Falcon's vocabulary lacks 28 byte characters (starcoder's one):
			// such bytes are dropped, by llama.cpp too.
			if got := tok.Decode(ids); got != s && utf8.ValidString(s) && coversBytes(tok, s) {
				t.Fatalf("%s: Decode(Encode(%q)) = %q", tok.v.Pre, s, got)
			}
			checkStream(t, tok.v.Pre, tok, ids)
		}
	})
}

// coversBytes reports whether the vocabulary has a token for every byte of s.
func coversBytes(tok *Tokenizer, s string) bool {
	for i := 0; i < len(s); i++ {
		if tok.byteTok[s[i]] < 0 {
			return false
		}
	}
	return true
}

// FuzzStream feeds arbitrary id sequences to the stream decoder.
func FuzzStream(f *testing.F) {
	f.Add([]byte{1, 3 + 0xEC, 3 + 0x95, 3 + 0x88, 200, 2}, true)
	f.Add([]byte{0xFF, 0x10, 0x03, 0x04}, false)
	f.Fuzz(func(t *testing.T, b []byte, strip bool) {
		tok, _ := fuzzTokenizers(t)
		ids := make([]int, 0, len(b)/2)
		for i := 0; i+1 < len(b); i += 2 {
			ids = append(ids, (int(b[i])<<8|int(b[i+1]))%(tok.VocabSize()+2)-1)
		}
		checkStream(t, "spm", tok, ids)
	})
}

// FuzzLlama2C parses arbitrary tokenizer.bin contents: errors, never panics.
func FuzzLlama2C(f *testing.F) {
	f.Add([]byte{8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 'a'}, 0)
	f.Add([]byte{8, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 127}, 1)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		v, err := parseLlama2C(b, n)
		if err != nil {
			return
		}
		tok, err := New(v)
		if err != nil {
			return
		}
		ids := tok.Encode("hello <0x41> wörld")
		_ = tok.Decode(ids)
	})
}

func TestPreTokenize(t *testing.T) {
	got, err := PreTokenize("gpt-2", "Hello  world's 42!")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Hello", " ", " world", "'s", " 42", "!"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("PreTokenize = %q, want %q", got, want)
	}
	if _, err := PreTokenize("nonesuch", "x"); err == nil || !strings.Contains(err.Error(), `"nonesuch"`) {
		t.Errorf("unknown pre: %v", err)
	}
}
