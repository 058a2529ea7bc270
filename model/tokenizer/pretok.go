package tokenizer

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Pre-tokenization of byte-level BPE text, as llama.cpp's
// unicode_regex_split does it: a list of regular expressions is applied in
// turn, each one splitting every fragment left by the previous ones into its
// matches and the text between them. Go's regexp has no lookahead, so every
// expression is written out by hand here with std::regex's semantics
// (leftmost match, ordered alternation, greedy repetition). Character classes
// follow llama.cpp: \s is Unicode White_Space (unicode.IsSpace), \p{L},
// \p{N}, \p{P} are the Unicode general categories.

// cpText is a text decoded into code points; an invalid UTF-8 byte becomes
// one code point U+FFFD of width 1 so that no byte is lost.
type cpText struct {
	cp  []rune
	off []int // byte offset of each code point; off[len(cp)] = len(text)
}

func decodeCPs(s string) cpText {
	t := cpText{cp: make([]rune, 0, len(s)), off: make([]int, 0, len(s)+1)}
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		t.cp = append(t.cp, r)
		t.off = append(t.off, i)
		i += w
	}
	t.off = append(t.off, len(s))
	return t
}

// splitFn splits the fragment cp[s:e] and appends the lengths (in code
// points) of its pieces, in order, covering the fragment exactly.
type splitFn func(cp []rune, s, e int, out []int) []int

// matchFn reports the length of the match starting at i within cp[:e], or 0
// for none; skip > 0 says the next skip-1 positions cannot match either.
type matchFn func(cp []rune, i, e int) (n, skip int)

// scan turns a match function into a splitter with regex_iterator semantics:
// matches and the gaps between them become pieces.
func scan(m matchFn) splitFn {
	return func(cp []rune, s, e int, out []int) []int {
		gap := s
		for i := s; i < e; {
			n, skip := m(cp, i, e)
			if n > 0 {
				if i > gap {
					out = append(out, i-gap)
				}
				out = append(out, n)
				i += n
				gap = i
				continue
			}
			if skip < 1 {
				skip = 1
			}
			i += skip
		}
		if e > gap {
			out = append(out, e-gap)
		}
		return out
	}
}

func isSpace(r rune) bool  { return unicode.IsSpace(r) }
func isLetter(r rune) bool { return unicode.IsLetter(r) }
func isNumber(r rune) bool { return unicode.IsNumber(r) }
func isPunct(r rune) bool  { return unicode.IsPunct(r) }

// runLen is the length of the run of class members starting at i.
func runLen(cp []rune, i, e int, class func(rune) bool) int {
	j := i
	for j < e && class(cp[j]) {
		j++
	}
	return j - i
}

// classRun matches [class]+.
func classRun(class func(rune) bool) splitFn {
	return scan(func(cp []rune, i, e int) (int, int) {
		n := runLen(cp, i, e, class)
		return n, 0
	})
}

// classOne matches [class] (one code point).
func classOne(class func(rune) bool) splitFn {
	return scan(func(cp []rune, i, e int) (int, int) {
		if class(cp[i]) {
			return 1, 0
		}
		return 0, 0
	})
}

// spaceOptRun matches \s?[class]+.
func spaceOptRun(class func(rune) bool) splitFn {
	return scan(func(cp []rune, i, e int) (int, int) {
		if isSpace(cp[i]) && i+1 < e && class(cp[i+1]) {
			return 1 + runLen(cp, i+1, e, class), 0
		}
		return runLen(cp, i, e, class), 0
	})
}

// trailingSpace matches \s+$ (whitespace that ends the fragment).
var trailingSpace = scan(func(cp []rune, i, e int) (int, int) {
	n := runLen(cp, i, e, isSpace)
	if n == 0 {
		return 0, 0
	}
	if i+n == e {
		return n, 0
	}
	return 0, n
})

// digits3 matches [0-9][0-9][0-9].
var digits3 = scan(func(cp []rune, i, e int) (int, int) {
	if i+3 <= e && isDigit(cp[i]) && isDigit(cp[i+1]) && isDigit(cp[i+2]) {
		return 3, 0
	}
	return 0, 0
})

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

// crlf matches [\r\n].
var crlf = classOne(func(r rune) bool { return r == '\r' || r == '\n' })

// punctOrASCIISymbol is [\p{P}\$\+<=>\^~\|`] (withBacktick) or the same
// without the backtick.
func punctOrASCIISymbol(withBacktick bool) func(rune) bool {
	return func(r rune) bool {
		switch r {
		case '$', '+', '<', '=', '>', '^', '~', '|':
			return true
		case '`':
			return withBacktick
		}
		return isPunct(r)
	}
}

// gpt2Split is llama.cpp's unicode_regex_split_custom_gpt2, the GPT-2
// pre-tokenizer 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+|
// ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+.
func gpt2Split(cp []rune, s, e int, out []int) []int {
	const none = -1 // "out of range": no code point
	get := func(p int) rune {
		if p >= s && p < e {
			return cp[p]
		}
		return none
	}
	// class of position p: 0 out of range, 'L', 'N', 'S' (space), 'O' other.
	class := func(p int) byte {
		if p < s || p >= e {
			return 0
		}
		r := cp[p]
		switch {
		case isLetter(r):
			return 'L'
		case isNumber(r):
			return 'N'
		case isSpace(r):
			return 'S'
		}
		return 'O'
	}
	prev := s
	add := func(end int) int {
		n := end - prev
		if n > 0 {
			out = append(out, n)
		}
		prev = end
		return n
	}
	for pos := s; pos < e; {
		c := get(pos)
		if c == '\'' && pos+1 < e {
			n1 := get(pos + 1)
			if n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd' {
				pos += add(pos + 2)
				continue
			}
			if pos+2 < e {
				n2 := get(pos + 2)
				if (n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l') {
					pos += add(pos + 3)
					continue
				}
			}
		}
		f2 := class(pos)
		if c == ' ' {
			f2 = class(pos + 1)
		}
		if f2 == 'L' || f2 == 'N' || f2 == 'O' {
			if c == ' ' {
				pos++
			}
			for class(pos) == f2 {
				pos++
			}
			add(pos)
			continue
		}
		ws := 0
		for class(pos+ws) == 'S' {
			ws++
		}
		if ws > 1 && get(pos+ws) != none { // \s+(?!\S)
			pos += ws - 1
			add(pos)
			continue
		}
		if ws > 0 { // \s+
			pos += ws
			add(pos)
			continue
		}
		pos++ // no match
		add(pos)
	}
	return out
}

// llama3Split is llama.cpp's unicode_regex_split_custom_llama3, the Llama 3
// pre-tokenizer (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|
// \p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ with at most
// maxDigits digits per number piece (3 for Llama 3, 1 for Qwen 2).
func llama3Split(maxDigits int) splitFn {
	return func(cp []rune, s, e int, out []int) []int {
		const none = -1
		get := func(p int) rune {
			if p >= s && p < e {
				return cp[p]
			}
			return none
		}
		in := func(p int) bool { return p >= s && p < e }
		letter := func(p int) bool { return in(p) && isLetter(cp[p]) }
		number := func(p int) bool { return in(p) && isNumber(cp[p]) }
		space := func(p int) bool { return in(p) && isSpace(cp[p]) }
		prev := s
		add := func(end int) int {
			n := end - prev
			if n > 0 {
				out = append(out, n)
			}
			prev = end
			return n
		}
		for pos := s; pos < e; {
			c := get(pos)
			if c == '\'' && pos+1 < e {
				n1 := unicode.ToLower(get(pos + 1))
				if n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd' {
					pos += add(pos + 2)
					continue
				}
				if pos+2 < e {
					n2 := unicode.ToLower(get(pos + 2))
					if (n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l') {
						pos += add(pos + 3)
						continue
					}
				}
			}
			// [^\r\n\p{L}\p{N}]?\p{L}+
			if !(c == '\r' || c == '\n' || number(pos)) {
				if letter(pos) || letter(pos+1) {
					pos++
					for letter(pos) {
						pos++
					}
					add(pos)
					continue
				}
			}
			// \p{N}{1,maxDigits}
			if number(pos) {
				ini := pos
				for number(pos) {
					pos++
					if pos-ini >= maxDigits {
						add(pos)
						ini = pos
					}
				}
				add(pos)
				continue
			}
			// <space>?[^\s\p{L}\p{N}]+[\r\n]*
			p2 := pos
			if c == ' ' {
				p2 = pos + 1
			}
			other := func(p int) bool { return in(p) && !isSpace(cp[p]) && !isLetter(cp[p]) && !isNumber(cp[p]) }
			if other(p2) {
				pos = p2
				for other(pos) {
					pos++
				}
				for r := get(pos); r == '\r' || r == '\n'; r = get(pos) {
					pos++
				}
				add(pos)
				continue
			}
			ws, lastNL := 0, 0
			for space(pos + ws) {
				if r := get(pos + ws); r == '\r' || r == '\n' {
					lastNL = pos + ws + 1
				}
				ws++
			}
			if lastNL > 0 { // \s*[\r\n]+
				pos = lastNL
				add(pos)
				continue
			}
			if ws > 1 && get(pos+ws) != none { // \s+(?!\S)
				pos += ws - 1
				add(pos)
				continue
			}
			if ws > 0 {
				pos += ws
				add(pos)
				continue
			}
			pos++
			add(pos)
		}
		return out
	}
}

// rangeClass is a character class given as ranges [lo, hi] (inclusive).
type rangeClass [][2]rune

func (rc rangeClass) has(r rune) bool {
	for _, x := range rc {
		if r >= x[0] && r <= x[1] {
			return true
		}
	}
	return false
}

// parseClass parses the inside of a regex bracket expression made only of
// literal characters and a-b ranges (as llama.cpp's DeepSeek expressions).
func parseClass(s string) rangeClass {
	rs := []rune(s)
	var rc rangeClass
	for i := 0; i < len(rs); i++ {
		if i+2 < len(rs) && rs[i+1] == '-' {
			rc = append(rc, [2]rune{rs[i], rs[i+2]})
			i += 2
			continue
		}
		rc = append(rc, [2]rune{rs[i], rs[i]})
	}
	return rc
}

// Character classes of llama.cpp's DeepSeek pre-tokenizers, verbatim.
const (
	deepseekLetters = "A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃"
	deepseekPunct   = "!-/:-~！-／：-～‘-‟　-。"
	deepseekCJK     = "一-龥ࠀ-一가-퟿"
)

// preTokenizer is the pre-tokenizer of one tokenizer.ggml.pre value.
type preTokenizer struct {
	splits       []splitFn
	ignoreMerges bool // a whole word that is a token is taken as is (Llama 3)
}

// newPreTokenizer returns llama.cpp's pre-tokenizer for a
// tokenizer.ggml.pre value.
func newPreTokenizer(pre string) (*preTokenizer, error) {
	gpt2 := splitFn(gpt2Split)
	switch pre {
	case "", "default":
		return &preTokenizer{splits: []splitFn{
			classRun(punctOrASCIISymbol(false)), gpt2, classRun(isNumber), digits3,
		}}, nil
	case "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v1-en", "jina-v2-es",
		"jina-v2-de", "jina-v2-code", "roberta-bpe", "mpt", "olmo", "jais":
		return &preTokenizer{splits: []splitFn{gpt2}}, nil
	case "falcon":
		return &preTokenizer{splits: []splitFn{
			classRun(punctOrASCIISymbol(true)), gpt2, digits3,
		}}, nil
	case "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b":
		return &preTokenizer{splits: []splitFn{classOne(isNumber), gpt2}}, nil
	case "deepseek-llm":
		letters, punct, cjk := parseClass(deepseekLetters), parseClass(deepseekPunct), parseClass(deepseekCJK)
		return &preTokenizer{splits: []splitFn{
			crlf, spaceOptRun(letters.has), spaceOptRun(punct.has), trailingSpace,
			classRun(cjk.has), classRun(isNumber),
		}}, nil
	case "deepseek-coder":
		cjk := parseClass(deepseekCJK)
		return &preTokenizer{splits: []splitFn{
			crlf, spaceOptRun(isLetter), spaceOptRun(isPunct), classRun(cjk.has), classOne(isNumber),
		}}, nil
	case "llama3", "llama-v3", "llama-bpe", "falcon3":
		return &preTokenizer{splits: []splitFn{llama3Split(3)}, ignoreMerges: true}, nil
	case "dbrx", "smaug-bpe", "chatglm-bpe":
		return &preTokenizer{splits: []splitFn{llama3Split(3)}}, nil
	case "qwen2", "stablelm2", "megrez":
		return &preTokenizer{splits: []splitFn{llama3Split(1)}}, nil
	}
	return nil, fmt.Errorf("tokenizer: pre-tokenizer %q (tokenizer.ggml.pre) is not supported", pre)
}

// split returns the words of text as byte ranges [start, end).
func (p *preTokenizer) split(text string) [][2]int {
	if text == "" {
		return nil
	}
	t := decodeCPs(text)
	lens := []int{len(t.cp)}
	var next []int
	for _, f := range p.splits {
		next = next[:0]
		start := 0
		for _, n := range lens {
			next = f(t.cp, start, start+n, next)
			start += n
		}
		lens, next = next, lens
	}
	words := make([][2]int, 0, len(lens))
	start := 0
	for _, n := range lens {
		words = append(words, [2]int{t.off[start], t.off[start+n]})
		start += n
	}
	return words
}
