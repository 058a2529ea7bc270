package bpe

import (
	"context"
	"strings"
	"testing"
)

func spaceSplit(s string) []string {
	var out []string
	for i, w := range strings.Split(s, " ") {
		if i > 0 {
			w = " " + w
		}
		if w != "" {
			out = append(out, w)
		}
	}
	return out
}

func TestTrainMergesFrequentPairs(t *testing.T) {
	texts := []string{"low lower lowest low low", "newer newest new new", "안녕 안녕 안녕하세요"}
	v, err := Train(context.Background(), texts, Options{Size: 300, Specials: []string{"<|im_end|>"}, Split: spaceSplit})
	if err != nil {
		t.Fatal(err)
	}
	if v.Tokens[256] != "<|im_end|>" || v.Types[256] != 3 {
		t.Fatalf("special token not at 256: %q", v.Tokens[256])
	}
	if len(v.Tokens) != 257+len(v.Merges) {
		t.Fatalf("tokens %d != 257 + merges %d", len(v.Tokens), len(v.Merges))
	}
	seen := map[string]bool{}
	for _, tok := range v.Tokens {
		if seen[tok] {
			t.Fatalf("duplicate token %q", tok)
		}
		seen[tok] = true
	}
	// A frequent word becomes one token; its bytes round-trip.
	b2u := ByteToUnicode()
	u2b := map[rune]byte{}
	for b, r := range b2u {
		u2b[r] = byte(b)
	}
	for _, w := range []string{" low", " 안녕", "lowest"} {
		pieces := v.Encode(w)
		var got []byte
		for _, p := range pieces {
			for _, r := range p {
				got = append(got, u2b[r])
			}
		}
		if string(got) != w {
			t.Errorf("Encode(%q) pieces %q decode to %q", w, pieces, got)
		}
	}
	if p := v.Encode(" low"); len(p) != 1 {
		t.Errorf("frequent word \" low\" split into %q", p)
	}
}

func TestByteToUnicodeIsBijective(t *testing.T) {
	m := ByteToUnicode()
	seen := map[rune]bool{}
	for _, r := range m {
		if seen[r] {
			t.Fatalf("rune %q used twice", r)
		}
		seen[r] = true
	}
	if m[' '] != 'Ġ' || m['A'] != 'A' {
		t.Fatalf("unexpected mapping: space→%q", m[' '])
	}
}

func TestTrainRefusesBadOptions(t *testing.T) {
	if _, err := Train(context.Background(), nil, Options{Size: 10, Split: spaceSplit}); err == nil {
		t.Error("size below byte count accepted")
	}
	if _, err := Train(context.Background(), nil, Options{Size: 300}); err == nil {
		t.Error("missing Split accepted")
	}
}
