package tokenizer

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hone-ai/hone/model/fixtures"
	"github.com/hone-ai/hone/model/gguf"
)

// runcEncode is llama2.c run.c's encode() (dummy prefix on, no BOS/EOS),
// transcribed literally as the reference for tokenizer.bin vocabularies.
func runcEncode(v *Vocab, lookup map[string]int, text string) []int {
	var toks []int
	if text != "" {
		toks = append(toks, lookup[" "])
	}
	for i := 0; i < len(text); {
		_, w := utf8.DecodeRuneInString(text[i:])
		c := text[i : i+w]
		if id, ok := lookup[c]; ok {
			toks = append(toks, id)
		} else {
			for j := 0; j < len(c); j++ {
				toks = append(toks, int(c[j])+3)
			}
		}
		i += w
	}
	for {
		best, bestID, bestIdx := float32(-1e10), -1, -1
		for i := 0; i+1 < len(toks); i++ {
			s := strings.ReplaceAll(v.Tokens[toks[i]], spaceMarker, " ") + strings.ReplaceAll(v.Tokens[toks[i+1]], spaceMarker, " ")
			if id, ok := lookup[s]; ok && v.Scores[id] > best {
				best, bestID, bestIdx = v.Scores[id], id, i
			}
		}
		if bestIdx < 0 {
			break
		}
		toks[bestIdx] = bestID
		toks = append(toks[:bestIdx+1], toks[bestIdx+2:]...)
	}
	return toks
}

func loadLlama2CTokenizer(t testing.TB, elem ...string) (*Vocab, *Tokenizer) {
	t.Helper()
	p := fixtures.Path(t, elem...)
	v, err := LoadLlama2C(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := New(v)
	if err != nil {
		t.Fatal(err)
	}
	return v, tok
}

// TestLlama2CMatchesRunC: Encode on llama2.c vocabularies equals run.c's
// encoder on plain English text (greedy.json prompts, Shakespeare lines).
func TestLlama2CMatchesRunC(t *testing.T) {
	texts := []string{"Once upon a time", "Lily wanted to", "The dog", "One day, a little boy named Tim",
		"Hello world", "  two  spaces", "tab\there", "new\nline", "café 안녕하세요 😀", ""}
	if p := fixtures.Dir(); p != "" {
		if b, err := os.ReadFile(p + "/stories260k/greedy.json"); err == nil {
			var cases []struct{ Prompt string }
			if err := json.Unmarshal(b, &cases); err != nil {
				t.Fatal(err)
			}
			for _, c := range cases {
				texts = append(texts, c.Prompt)
			}
		}
		if f, err := os.Open(p + "/corpus/tinyshakespeare.txt"); err == nil {
			sc := bufio.NewScanner(f)
			for n := 0; sc.Scan() && n < 300; n++ {
				texts = append(texts, sc.Text())
			}
			f.Close()
		}
	}
	for _, name := range [][]string{{"stories260k", "tok512.bin"}, {"llama2", "tokenizer.bin"}} {
		t.Run(name[0], func(t *testing.T) {
			v, tok := loadLlama2CTokenizer(t, name...)
			lookup := map[string]int{} // run.c's sorted vocabulary (texts are unique here)
			for i, s := range v.Tokens {
				lookup[strings.ReplaceAll(s, spaceMarker, " ")] = i
			}
			for _, text := range texts {
				got, want := tok.Encode(text), runcEncode(v, lookup, text)
				if !equalIDs(got, want) {
					t.Errorf("Encode(%q) = %v, run.c %v", text, got, want)
				}
				if d := tok.Decode(got); d != text {
					t.Errorf("Decode(Encode(%q)) = %q", text, d)
				}
			}
		})
	}
}

// TestStoriesGGUFVocabMatchesTokenizerBin: the vocabulary llama.cpp's
// converter wrote into stories260K-f32.gguf tokenizes like tok512.bin.
func TestStoriesGGUFVocabMatchesTokenizerBin(t *testing.T) {
	_, bin := loadLlama2CTokenizer(t, "stories260k", "tok512.bin")
	f, err := gguf.Open(fixtures.Path(t, "gguf", "stories260K-f32.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(v)
	if err != nil {
		t.Fatal(err)
	}
	if g.BOS() != 1 || g.EOS() != 2 || !g.AddBOS() || bin.BOS() != 1 || bin.EOS() != 2 {
		t.Errorf("BOS/EOS: gguf %d/%d (add %v), bin %d/%d", g.BOS(), g.EOS(), g.AddBOS(), bin.BOS(), bin.EOS())
	}
	for _, s := range []string{"Once upon a time, there was a little girl named Lily.", "Lily's mom said, \"Lily, let's go!\"\n", "ü 한"} {
		a, b := g.Encode(s), bin.Encode(s)
		if !equalIDs(a, b) {
			t.Errorf("Encode(%q): gguf %v, tokenizer.bin %v", s, a, b)
		}
		if g.Decode(a) != s || bin.Decode(b) != s {
			t.Errorf("round trip of %q: %q / %q", s, g.Decode(a), bin.Decode(b))
		}
	}
}

func TestTinyRandomGGUFVocab(t *testing.T) {
	f, err := gguf.Open(fixtures.Path(t, "gguf", "llama-2-tiny-random.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := New(v)
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 32000 || tok.BOS() != 1 || tok.EOS() != 2 || !tok.IsControl(1) || tok.IsControl(3) {
		t.Fatalf("vocab size %d, BOS %d, EOS %d", tok.VocabSize(), tok.BOS(), tok.EOS())
	}
	for _, s := range roundTripTexts {
		if got := tok.Decode(tok.Encode(s)); got != s {
			t.Errorf("round trip of %q gives %q", s, got)
		}
	}
}

// handSPM is a small SentencePiece vocabulary built by hand.
func handSPM(t testing.TB, extra ...string) *Tokenizer {
	t.Helper()
	v := &Vocab{Model: ModelSPM, BOS: 1, EOS: 2, UNK: 0, PAD: -1, AddBOS: true, AddSpacePrefix: true}
	add := func(s string, score float32, typ int32) {
		v.Tokens = append(v.Tokens, s)
		v.Scores = append(v.Scores, score)
		v.Types = append(v.Types, typ)
	}
	add("<unk>", 0, TypeUnknown)
	add("<s>", 0, TypeControl)
	add("</s>", 0, TypeControl)
	for b := 0; b < 256; b++ {
		add(fmt.Sprintf("<0x%02X>", b), 0, TypeByte)
	}
	// pieces with scores: higher merges first
	for i, s := range []string{"he", "ll", "llo", "hello", "▁hello", "or", "ld", "orld", "world", "▁world", "ab", "ba", "▁", "h", "e", "l", "o", "w", "r", "d", "a", "b"} {
		add(s, -float32(i), TypeNormal)
	}
	add("<|im_start|>", 0, TypeControl)
	add("<|im_end|>", 0, TypeUserDefined) // forced control by name, as llama.cpp
	for _, s := range extra {
		add(s, 0, TypeUserDefined)
	}
	tok, err := New(v)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func pieces(tok *Tokenizer, ids []int) []string {
	var out []string
	for _, id := range ids {
		out = append(out, tok.Token(id))
	}
	return out
}

func TestSPMHand(t *testing.T) {
	tok := handSPM(t, "<tool>")
	for _, tc := range []struct {
		text    string
		special bool
		want    string // tokens joined by |
	}{
		{"hello world", false, "▁hello|▁world"},
		{"hello", false, "▁hello"},
		{" hello", false, "▁|▁hello"},
		{"", false, ""},
		{"abab", false, "▁|ab|ab"},
		{"hé", false, "▁|h|<0xC3>|<0xA9>"},
		{"\n", false, "▁|<0x0A>"},
		{"<|im_start|>hello", false, "▁|<0x3C>|<0x7C>|<0x69>|<0x6D>|<0x5F>|<0x73>|<0x74>|<0x61>|<0x72>|<0x74>|<0x7C>|<0x3E>|hello"},
		{"<|im_start|>hello", true, "<|im_start|>|▁hello"},
		{"hello<|im_end|>", true, "▁hello|<|im_end|>"},
		{"hello<tool>world", false, "▁hello|<tool>|▁world"},
		{"<s>", true, "<s>"},
	} {
		f := tok.Encode
		if tc.special {
			f = tok.EncodeSpecial
		}
		got := strings.Join(pieces(tok, f(tc.text)), "|")
		if tc.text == "<|im_start|>hello" && !tc.special {
			// the control token is not matched from raw text: its characters
			// fall back to bytes (no pieces for them), "hello" merges
			if strings.Contains(got, "<|im_start|>") {
				t.Errorf("Encode(%q) matched a control token: %s", tc.text, got)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("Encode(%q, special=%v) = %s, want %s", tc.text, tc.special, got, tc.want)
		}
	}
	if !tok.IsControl(tok.BOS()) || tok.IsControl(3) {
		t.Error("IsControl wrong")
	}
	id, _ := tok.TokenID("<|im_end|>")
	if !tok.IsControl(id) || !tok.IsEOG(id) || !tok.IsEOG(tok.EOS()) {
		t.Error("<|im_end|> should be a control, end-of-generation token")
	}
	if got := tok.Decode(tok.EncodeSpecial("<|im_start|>hello<|im_end|>")); got != "hello" {
		t.Errorf("Decode drops control tokens and the prefix space: got %q", got)
	}
	if got := tok.Piece(tok.BOS()); got != "<s>" {
		t.Errorf("Piece(BOS) = %q", got)
	}
	if got := tok.Piece(3 + 0x0A); got != "\n" {
		t.Errorf("Piece(<0x0A>) = %q", got)
	}
	if tok.Piece(-1) != "" || tok.Piece(1<<30) != "" || tok.Decode([]int{-5, 1 << 30}) != "" {
		t.Error("ids out of range must give empty text")
	}
}

func TestDecodeLeadingSpace(t *testing.T) {
	tok := handSPM(t)
	hello, _ := tok.TokenID("▁hello")
	world, _ := tok.TokenID("▁world")
	bos := tok.BOS()
	for _, tc := range []struct {
		ids      []int
		dec, raw string
	}{
		{[]int{hello, world}, "hello world", " hello world"},
		{[]int{bos, hello, world}, "hello world", " hello world"},
		{[]int{bos, hello, bos, world}, "helloworld", " hello world"},
		{[]int{world}, "world", " world"},
	} {
		if got := tok.Decode(tc.ids); got != tc.dec {
			t.Errorf("Decode(%v) = %q, want %q", tc.ids, got, tc.dec)
		}
		if got := tok.DecodeRaw(tc.ids); got != tc.raw {
			t.Errorf("DecodeRaw(%v) = %q, want %q", tc.ids, got, tc.raw)
		}
	}
}

func TestNewRejects(t *testing.T) {
	good := func() *Vocab {
		return &Vocab{Model: ModelSPM, Tokens: []string{"<unk>", "a"}, BOS: -1, EOS: -1, UNK: 0, PAD: -1}
	}
	for _, tc := range []struct {
		name string
		mod  func(v *Vocab)
		want string
	}{
		{"bert", func(v *Vocab) { v.Model = "bert" }, "WordPiece"},
		{"unknown model", func(v *Vocab) { v.Model = "t5" }, `"t5"`},
		{"empty", func(v *Vocab) { v.Tokens = nil }, "empty"},
		{"scores", func(v *Vocab) { v.Scores = []float32{1} }, "scores"},
		{"types", func(v *Vocab) { v.Types = []int32{1, 1, 1} }, "types"},
		{"bos range", func(v *Vocab) { v.BOS = 2 }, "BOS"},
		{"eos negative", func(v *Vocab) { v.EOS = -2 }, "EOS"},
		{"addbos", func(v *Vocab) { v.AddBOS = true }, "AddBOS"},
		{"pre", func(v *Vocab) { v.Model = ModelBPE; v.Pre = "klingon" }, `"klingon"`},
	} {
		v := good()
		tc.mod(v)
		_, err := New(v)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New error = %v, want one containing %s", tc.name, err, tc.want)
		}
	}
	if _, err := New(good()); err != nil {
		t.Fatal(err)
	}
	if _, err := New(nil); err == nil {
		t.Error("New(nil) must fail")
	}
}

func TestSPMNoByteTokens(t *testing.T) {
	// Without byte tokens unknown characters become <unk>, never a panic.
	tok, err := New(&Vocab{Model: ModelSPM, Tokens: []string{"<unk>", "▁", "a"}, Types: []int32{2, 1, 1}, BOS: -1, EOS: -1, UNK: 0, PAD: -1, AddSpacePrefix: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Encode("aé"); !equalIDs(got, []int{1, 2, 0, 0}) {
		t.Errorf("Encode = %v", got)
	}
}

func TestPhi3RStrip(t *testing.T) {
	tok := loadGGUFTokenizer(t, "phi-3")
	// </s> is a user-defined token in Phi-3: matched from raw text, and
	// llama.cpp strips the whitespace after it.
	a := tok.Encode("hi</s>  there")
	b := tok.Encode("hi</s>there")
	if !equalIDs(a, b) {
		t.Errorf("rstrip after </s>: %v vs %v", pieces(tok, a), pieces(tok, b))
	}
	ids := tok.EncodeSpecial("<|user|>\nHello<|end|>\n<|assistant|>\n")
	want := []string{"<|user|>", "▁Hello", "<|end|>", "<|assistant|>"}
	if got := pieces(tok, ids); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("EncodeSpecial chat = %v, want %v", got, want)
	}
}

// TestLlama2BinMatchesGGUF: llama2.c's tokenizer.bin and the GGUF of the same
// Llama 2 vocabulary tokenize alike.
func TestLlama2BinMatchesGGUF(t *testing.T) {
	_, bin := loadLlama2CTokenizer(t, "llama2", "tokenizer.bin")
	g := loadGGUFTokenizer(t, "llama-spm")
	for _, s := range roundTripTexts {
		a, b := bin.Encode(s), g.Encode(s)
		if !equalIDs(a, b) {
			t.Errorf("Encode(%q): tokenizer.bin %v, GGUF %v", s, a, b)
		}
	}
}
