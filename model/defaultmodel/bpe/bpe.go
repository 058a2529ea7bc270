// Package bpe trains a byte-level BPE vocabulary (the GPT-2 scheme that
// GGUF stores as tokenizer.ggml.model = "gpt2") on a text corpus.
package bpe

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Vocab is a trained vocabulary in GGUF's gpt2 form: tokens are byte
// strings spelled with GPT-2's byte-to-unicode alphabet, merges are
// "left right" pairs in rank order.
type Vocab struct {
	Tokens []string
	Types  []int32 // 1 normal, 3 control
	Merges []string
}

// Options configure training.
type Options struct {
	// Size is the target vocabulary size including bytes and specials.
	Size int
	// Specials are control tokens added after the 256 byte tokens (e.g.
	// "<|endoftext|>", "<|im_start|>", "<|im_end|>"); they are never
	// produced by merges.
	Specials []string
	// Split is the pre-tokenizer: it cuts text into words that merges never
	// cross. It must be the same one the runtime tokenizer uses.
	Split func(string) []string
	// MinCount stops merging when the best pair is rarer than this.
	MinCount int
}

// ByteToUnicode returns GPT-2's reversible mapping of bytes to printable
// runes.
func ByteToUnicode() [256]rune {
	var m [256]rune
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			m[b] = rune(b)
		} else {
			m[b] = rune(256 + n)
			n++
		}
	}
	return m
}

type word struct {
	syms  []int // symbol ids
	count int
}

type pair struct{ a, b int }

// Train learns merges from texts until the vocabulary reaches opts.Size.
func Train(ctx context.Context, texts []string, opts Options) (*Vocab, error) {
	if opts.Split == nil {
		return nil, fmt.Errorf("bpe: a pre-tokenizer (Options.Split) is required")
	}
	if opts.Size < 256+len(opts.Specials) {
		return nil, fmt.Errorf("bpe: vocabulary size %d is below the %d byte and special tokens", opts.Size, 256+len(opts.Specials))
	}
	if opts.MinCount <= 0 {
		opts.MinCount = 2
	}
	b2u := ByteToUnicode()
	v := &Vocab{}
	// Bytes first, in byte order, then the specials.
	for b := 0; b < 256; b++ {
		v.Tokens = append(v.Tokens, string(b2u[b]))
		v.Types = append(v.Types, 1)
	}
	for _, s := range opts.Specials {
		v.Tokens = append(v.Tokens, s)
		v.Types = append(v.Types, 3)
	}
	// Count words.
	counts := map[string]int{}
	for _, t := range texts {
		for _, w := range opts.Split(t) {
			counts[w]++
		}
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic
	words := make([]word, 0, len(keys))
	for _, k := range keys {
		syms := make([]int, len(k))
		for i := 0; i < len(k); i++ {
			syms[i] = int(k[i])
		}
		words = append(words, word{syms: syms, count: counts[k]})
	}
	// Pair counts and the words each pair occurs in.
	pairCount := map[pair]int{}
	where := map[pair]map[int]struct{}{}
	addWord := func(wi, sign int) {
		w := words[wi]
		for i := 0; i+1 < len(w.syms); i++ {
			p := pair{w.syms[i], w.syms[i+1]}
			pairCount[p] += sign * w.count
			if sign > 0 {
				s := where[p]
				if s == nil {
					s = map[int]struct{}{}
					where[p] = s
				}
				s[wi] = struct{}{}
			}
		}
	}
	for wi := range words {
		addWord(wi, 1)
	}
	for len(v.Tokens) < opts.Size {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		best, bestN := pair{-1, -1}, 0
		for p, n := range pairCount {
			if n > bestN || (n == bestN && n > 0 && (p.a < best.a || (p.a == best.a && p.b < best.b))) {
				best, bestN = p, n
			}
		}
		if bestN < opts.MinCount {
			break
		}
		id := len(v.Tokens)
		v.Tokens = append(v.Tokens, v.Tokens[best.a]+v.Tokens[best.b])
		v.Types = append(v.Types, 1)
		v.Merges = append(v.Merges, v.Tokens[best.a]+" "+v.Tokens[best.b])
		affected := where[best]
		delete(where, best)
		ids := make([]int, 0, len(affected))
		for wi := range affected {
			ids = append(ids, wi)
		}
		sort.Ints(ids)
		for _, wi := range ids {
			addWord(wi, -1)
			w := &words[wi]
			out := w.syms[:0]
			for i := 0; i < len(w.syms); i++ {
				if i+1 < len(w.syms) && w.syms[i] == best.a && w.syms[i+1] == best.b {
					out = append(out, id)
					i++
				} else {
					out = append(out, w.syms[i])
				}
			}
			w.syms = out
			addWord(wi, 1)
		}
		for p, n := range pairCount {
			if n <= 0 {
				delete(pairCount, p)
			}
		}
	}
	return v, nil
}

// Encode applies the vocabulary's merges to one pre-tokenized word (raw
// bytes), the way a byte-level BPE tokenizer does; it is the trainer's own
// check that the merges reproduce the training segmentation.
func (v *Vocab) Encode(word string) []string {
	b2u := ByteToUnicode()
	syms := make([]string, 0, len(word))
	for i := 0; i < len(word); i++ {
		syms = append(syms, string(b2u[word[i]]))
	}
	rank := make(map[string]int, len(v.Merges))
	for i, m := range v.Merges {
		rank[m] = i
	}
	for len(syms) > 1 {
		best, bi := -1, -1
		for i := 0; i+1 < len(syms); i++ {
			if r, ok := rank[syms[i]+" "+syms[i+1]]; ok && (best < 0 || r < best) {
				best, bi = r, i
			}
		}
		if bi < 0 {
			break
		}
		syms = append(syms[:bi], append([]string{syms[bi] + syms[bi+1]}, syms[bi+2:]...)...)
	}
	return syms
}

// String summarises the vocabulary.
func (v *Vocab) String() string {
	return fmt.Sprintf("bpe vocab: %d tokens, %d merges (e.g. %s)", len(v.Tokens), len(v.Merges), strings.Join(v.Tokens[len(v.Tokens)-min(5, len(v.Merges)):], " "))
}
