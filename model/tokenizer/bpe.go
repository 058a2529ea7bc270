package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// byteToUnicode is GPT-2's reversible mapping of bytes to printable
// characters (bytes_to_unicode), as UTF-8 strings; unicodeToByte inverts it.
var byteToUnicode, unicodeToByte = func() ([256]string, map[rune]byte) {
	var fwd [256]string
	inv := make(map[rune]byte, 256)
	mapped := [256]bool{}
	for b := 0; b < 256; b++ {
		if (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			mapped[b] = true
			fwd[b] = string(rune(b))
			inv[rune(b)] = byte(b)
		}
	}
	n := 0
	for b := 0; b < 256; b++ {
		if !mapped[b] {
			r := rune(256 + n)
			fwd[b] = string(r)
			inv[r] = byte(b)
			n++
		}
	}
	return fwd, inv
}()

// bytesFromUnicode maps a byte-level BPE token text back to bytes;
// characters outside the mapping are kept as they are.
func bytesFromUnicode(s string) string {
	var sb strings.Builder
	sb.Grow(len(s))
	for _, r := range s {
		if b, ok := unicodeToByte[r]; ok {
			sb.WriteByte(b)
		} else {
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

// bpeBigram is a candidate merge of two adjacent symbols with their sizes
// when it was made (a later size change makes it stale).
type bpeBigram struct {
	left, right int
	rank        int32
	ln, rn      int
}

// bpeBefore orders bigrams as llama.cpp's llm_bigram_bpe comparator: lowest
// rank first, then leftmost.
func bpeBefore(a, b *bpeBigram) bool {
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.left < b.left
}

// encodeBPE appends the byte-level BPE tokens of raw (llama.cpp's
// llm_tokenizer_bpe): pre-tokenize into words, map each word's bytes to
// GPT-2's characters, merge by rank.
func (t *Tokenizer) encodeBPE(raw string, out []int) []int {
	var (
		enc  strings.Builder
		syms []symbol
		q    = pqueue[bpeBigram]{before: bpeBefore}
	)
	for _, w := range t.pre.split(raw) {
		enc.Reset()
		for i := w[0]; i < w[1]; i++ {
			enc.WriteString(byteToUnicode[raw[i]])
		}
		word := enc.String()
		if t.pre.ignoreMerges {
			if id, ok := t.toID[word]; ok {
				out = append(out, int(id))
				continue
			}
		}
		syms = splitSymbols(word, syms)
		q.items = q.items[:0]
		tryAdd := func(left, right int) {
			if left < 0 || right < 0 {
				return
			}
			l, r := syms[left], syms[right]
			rank, ok := t.ranks[mergePair{word[l.start : l.start+l.n], word[r.start : r.start+r.n]}]
			if !ok {
				return
			}
			q.push(bpeBigram{left: left, right: right, rank: rank, ln: l.n, rn: r.n})
		}
		for i := 1; i < len(syms); i++ {
			tryAdd(i-1, i)
		}
		for q.len() > 0 {
			b := q.pop()
			l, r := &syms[b.left], &syms[b.right]
			if l.n == 0 || r.n == 0 || l.n != b.ln || r.n != b.rn {
				continue // stale
			}
			l.n += r.n
			r.n = 0
			l.next = r.next
			if r.next >= 0 {
				syms[r.next].prev = b.left
			}
			tryAdd(l.prev, b.left)
			tryAdd(b.left, l.next)
		}
		for i := 0; i >= 0 && len(syms) > 0; i = syms[i].next {
			s := word[syms[i].start : syms[i].start+syms[i].n]
			if id, ok := t.toID[s]; ok {
				out = append(out, int(id))
				continue
			}
			// llama.cpp looks up each byte of the symbol on its own, which
			// loses non-ASCII characters; look up each character first.
			for k, r := range s {
				c := s[k : k+utf8.RuneLen(r)]
				if r == utf8.RuneError {
					c = s[k : k+1]
				}
				if id, ok := t.toID[c]; ok {
					out = append(out, int(id))
					continue
				}
				for j := 0; j < len(c); j++ {
					if id, ok := t.toID[c[j:j+1]]; ok {
						out = append(out, int(id))
					}
				}
			}
		}
	}
	return out
}
