package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// symbol is a piece of the text being merged: bytes [start, start+n) and its
// neighbours in the linked list (-1 = none). n == 0 once merged away.
type symbol struct {
	start, n   int
	prev, next int
}

// splitSymbols splits s into one symbol per UTF-8 character (an invalid
// byte is a symbol of its own).
func splitSymbols(s string, syms []symbol) []symbol {
	syms = syms[:0]
	for i := 0; i < len(s); {
		_, w := utf8.DecodeRuneInString(s[i:])
		syms = append(syms, symbol{start: i, n: w, prev: len(syms) - 1, next: len(syms) + 1})
		i += w
	}
	if len(syms) > 0 {
		syms[len(syms)-1].next = -1
	}
	return syms
}

// spmBigram is a candidate merge of two adjacent symbols.
type spmBigram struct {
	left, right int
	score       float32
	size        int
}

// spmBefore orders bigrams as llama.cpp's llm_bigram_spm comparator:
// highest score first, then leftmost.
func spmBefore(a, b *spmBigram) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return a.left < b.left
}

// encodeSPM appends the SentencePiece-BPE tokens of raw (llama.cpp's
// llm_tokenizer_spm): spaces become U+2581, characters merge pairwise by
// best token score, leftovers fall back to byte tokens.
func (t *Tokenizer) encodeSPM(raw string, spacePrefix bool, out []int) []int {
	text := raw
	if spacePrefix {
		text = " " + text
	}
	text = strings.ReplaceAll(text, " ", spaceMarker)
	if text == "" {
		return out
	}
	syms := splitSymbols(text, nil)
	q := pqueue[spmBigram]{items: make([]spmBigram, 0, len(syms)), before: spmBefore}
	tryAdd := func(left, right int) {
		if left < 0 || right < 0 {
			return
		}
		l, r := syms[left], syms[right]
		s := text[l.start : r.start+r.n]
		id, ok := t.mergeID[s]
		if !ok {
			return
		}
		q.push(spmBigram{left: left, right: right, score: t.scores[id], size: len(s)})
	}
	for i := 1; i < len(syms); i++ {
		tryAdd(i-1, i)
	}
	for q.len() > 0 {
		b := q.pop()
		l, r := &syms[b.left], &syms[b.right]
		if l.n == 0 || r.n == 0 || l.n+r.n != b.size {
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
	for i := 0; i >= 0; i = syms[i].next {
		s := text[syms[i].start : syms[i].start+syms[i].n]
		if id, ok := t.mergeID[s]; ok {
			out = append(out, int(id))
			continue
		}
		for j := 0; j < len(s); j++ {
			if id := t.byteTok[s[j]]; id >= 0 {
				out = append(out, int(id))
			} else if t.v.UNK >= 0 {
				out = append(out, t.v.UNK)
			}
		}
	}
	return out
}
