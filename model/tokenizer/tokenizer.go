package tokenizer

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// spaceMarker is SentencePiece's escaped space, U+2581.
const spaceMarker = "\u2581"

// Token attributes (llama.cpp's llama_token_attr, the subset used here).
const (
	attrNormal uint8 = 1 << iota
	attrUnknown
	attrControl
	attrUserDefined
	attrByte
	attrLStrip
	attrRStrip
)

const (
	kindSPM = iota
	kindBPE
)

// Tokenizer encodes text to token ids and back. It is immutable after New
// and safe for concurrent use.
type Tokenizer struct {
	v    Vocab // copy of the vocabulary (slices shared, never modified)
	kind int

	tokens []string
	scores []float32
	attr   []uint8
	toID   map[string]int32 // text → id over every token (a later id wins, as in llama.cpp)

	// SentencePiece
	mergeID map[string]int32 // text → id of the tokens merges may produce
	byteTok [256]int32       // byte fallback token of each byte, -1 = none

	// byte-level BPE
	ranks map[mergePair]int32
	pre   *preTokenizer

	// special tokens (control, user-defined, unknown), longest text first
	special []int32
	trie    specialTrie

	pieces []string // decoded text of each token (control and unknown: their text)
	silent []bool   // tokens that decode to "" (control, unknown, unused, undefined)
	eog    map[int32]bool
}

type mergePair struct{ left, right string }

// Names of tokens llama.cpp treats as control tokens whatever their type
// (end-of-generation and fill-in-the-middle tokens).
var forcedControl = map[string]bool{
	"<|eot_id|>": true, "<|im_end|>": true, "<|end|>": true, "<end_of_turn>": true,
	"<|endoftext|>": true, "<|eom_id|>": true, "<EOT>": true, "<｜end▁of▁sentence｜>": true,
	"<|fim_prefix|>": true, "<fim-prefix>": true, "<｜fim▁begin｜>": true, "<PRE>": true,
	"<|fim_suffix|>": true, "<fim-suffix>": true, "<｜fim▁hole｜>": true, "<SUF>": true,
	"<|fim_middle|>": true, "<fim-middle>": true, "<｜fim▁end｜>": true, "<MID>": true,
	"<|fim_pad|>": true, "<fim-pad>": true, "<PAD>": true,
	"<|fim_repo|>": true, "<|repo_name|>": true, "<fim-repo>": true, "<REPO>": true,
	"<|file_sep|>": true,
}

// Tokens that end generation in llama.cpp (besides EOS).
var eogNames = map[string]bool{
	"<|eot_id|>": true, "<|im_end|>": true, "<|end|>": true, "<end_of_turn>": true,
	"<|endoftext|>": true, "<|eom_id|>": true, "<EOT>": true,
}

// maxVocab bounds the vocabulary size (ids are int32 in GGUF).
const maxVocab = 1 << 24

// New validates v and builds its tokenizer. v is not modified and must not be
// modified afterwards.
func New(v *Vocab) (*Tokenizer, error) {
	if v == nil {
		return nil, errors.New("tokenizer: nil vocabulary")
	}
	t := &Tokenizer{v: *v}
	switch v.Model {
	case ModelSPM:
		t.kind = kindSPM
	case ModelBPE:
		t.kind = kindBPE
	case "bert":
		return nil, fmt.Errorf("tokenizer: model %q (WordPiece) is not supported", v.Model)
	default:
		return nil, fmt.Errorf("tokenizer: model %q is not supported (want %q or %q)", v.Model, ModelSPM, ModelBPE)
	}
	n := len(v.Tokens)
	if n == 0 {
		return nil, errors.New("tokenizer: empty vocabulary")
	}
	if n > maxVocab {
		return nil, fmt.Errorf("tokenizer: vocabulary of %d tokens exceeds %d", n, maxVocab)
	}
	if v.Scores != nil && len(v.Scores) != n {
		return nil, fmt.Errorf("tokenizer: %d scores for %d tokens", len(v.Scores), n)
	}
	if v.Types != nil && len(v.Types) != n {
		return nil, fmt.Errorf("tokenizer: %d token types for %d tokens", len(v.Types), n)
	}
	for _, s := range []struct {
		name string
		id   int
	}{{"BOS", v.BOS}, {"EOS", v.EOS}, {"UNK", v.UNK}, {"PAD", v.PAD}} {
		if s.id < -1 || s.id >= n {
			return nil, fmt.Errorf("tokenizer: %s id %d out of range [-1, %d)", s.name, s.id, n)
		}
	}
	if v.AddBOS && v.BOS < 0 {
		return nil, errors.New("tokenizer: AddBOS without a BOS token")
	}
	if v.AddEOS && v.EOS < 0 {
		return nil, errors.New("tokenizer: AddEOS without an EOS token")
	}

	t.tokens = make([]string, n)
	t.scores = make([]float32, n)
	t.attr = make([]uint8, n)
	t.toID = make(map[string]int32, n)
	for i, s := range v.Tokens {
		if s == "" {
			s = "[EMPTY_" + strconv.Itoa(i) + "]" // as llama.cpp
		}
		t.tokens[i] = s
		t.toID[s] = int32(i)
		if v.Scores != nil {
			t.scores[i] = v.Scores[i]
		}
		typ := TypeNormal
		if v.Types != nil {
			typ = v.Types[i]
		}
		switch typ {
		case TypeNormal:
			t.attr[i] = attrNormal
		case TypeUnknown:
			t.attr[i] = attrUnknown
		case TypeControl:
			t.attr[i] = attrControl
		case TypeUserDefined:
			t.attr[i] = attrUserDefined
		case TypeByte:
			t.attr[i] = attrByte
		default: // unused, undefined: never produced by encoding text, decode to ""
			t.attr[i] = 0
		}
		if forcedControl[s] {
			t.attr[i] = attrControl
		}
	}
	t.eog = map[int32]bool{}
	if v.EOS >= 0 {
		t.eog[int32(v.EOS)] = true
	}
	for i, s := range t.tokens {
		if eogNames[s] {
			t.eog[int32(i)] = true
		}
	}

	for i := range t.byteTok {
		t.byteTok[i] = -1
	}
	switch t.kind {
	case kindSPM:
		t.mergeID = make(map[string]int32, n)
		for i, s := range t.tokens {
			if t.attr[i]&(attrControl|attrUnknown|attrByte) == 0 {
				t.mergeID[s] = int32(i)
			}
		}
		for b := 0; b < 256; b++ {
			if id, ok := t.toID[fmt.Sprintf("<0x%02X>", b)]; ok {
				t.byteTok[b] = id
			} else if id, ok := t.toID[string([]byte{byte(b)})]; ok {
				t.byteTok[b] = id
			}
		}
	case kindBPE:
		pre, err := newPreTokenizer(v.Pre)
		if err != nil {
			return nil, err
		}
		t.pre = pre
		t.ranks = make(map[mergePair]int32, len(v.Merges))
		for i, m := range v.Merges {
			var p mergePair
			if len(m) > 1 {
				if j := strings.IndexByte(m[1:], ' '); j >= 0 {
					p = mergePair{m[:j+1], m[j+2:]}
				}
			}
			if _, dup := t.ranks[p]; !dup {
				t.ranks[p] = int32(i)
			}
		}
		for b := 0; b < 256; b++ {
			if id, ok := t.toID[byteToUnicode[b]]; ok {
				t.byteTok[b] = id
			}
		}
	}

	// Special tokens: matched as whole strings before tokenizing.
	for i := range t.tokens {
		if t.attr[i]&(attrControl|attrUserDefined|attrUnknown) != 0 {
			t.special = append(t.special, int32(i))
		}
	}
	sort.SliceStable(t.special, func(a, b int) bool {
		return len(t.tokens[t.special[a]]) > len(t.tokens[t.special[b]])
	})
	if name := strings.ToLower(v.Name); strings.Contains(name, "phi-3") || strings.Contains(name, "phi3") {
		// llama.cpp: Phi-3 strips whitespace after its special tokens.
		for _, id := range t.special {
			t.attr[id] |= attrRStrip
		}
		for _, s := range []string{"</s>"} {
			if id, ok := t.toID[s]; ok {
				t.attr[id] |= attrRStrip
			}
		}
		for _, s := range []string{"<unk>", "<s>", "<|endoftext|>"} {
			if id, ok := t.toID[s]; ok {
				t.attr[id] &^= attrRStrip
			}
		}
	}
	t.trie = buildTrie(t.tokens, t.special)

	t.pieces = make([]string, n)
	t.silent = make([]bool, n)
	for i, s := range t.tokens {
		a := t.attr[i]
		switch {
		case a&(attrControl|attrUnknown) != 0:
			t.pieces[i], t.silent[i] = s, true
		case a&attrUserDefined != 0:
			t.pieces[i] = s
		case a&attrNormal != 0:
			if t.kind == kindSPM {
				t.pieces[i] = strings.ReplaceAll(s, spaceMarker, " ")
			} else {
				t.pieces[i] = bytesFromUnicode(s)
			}
		case a&attrByte != 0 && t.kind == kindSPM:
			if b, ok := parseByteToken(s); ok {
				t.pieces[i] = string([]byte{b})
			} else {
				t.pieces[i] = s
			}
		default:
			t.pieces[i], t.silent[i] = "", true
		}
	}
	return t, nil
}

// Encode tokenizes text as llama.cpp does with add_special=false and
// parse_special=false: no BOS/EOS; user-defined tokens are matched as whole
// strings, control tokens are not; SentencePiece vocabularies prefix the
// text (and any text after a matched token) with a space when
// AddSpacePrefix is set.
func (t *Tokenizer) Encode(text string) []int {
	return t.encode(text, false)
}

// EncodeSpecial is Encode with parse_special=true: control and unknown
// tokens written in the text (such as <|im_start|> or <s>) are matched too.
// Chat templates use it.
func (t *Tokenizer) EncodeSpecial(text string) []int {
	return t.encode(text, true)
}

func (t *Tokenizer) encode(text string, parseSpecial bool) []int {
	out := make([]int, 0, len(text)/3+1)
	frags := t.partition(text, parseSpecial)
	prevSpecial := true
	for _, f := range frags {
		if f.tok >= 0 {
			out = append(out, int(f.tok))
			prevSpecial = true
			continue
		}
		raw := text[f.start:f.end]
		switch t.kind {
		case kindSPM:
			out = t.encodeSPM(raw, t.v.AddSpacePrefix && prevSpecial, out)
		case kindBPE:
			out = t.encodeBPE(raw, out)
		}
		prevSpecial = false
	}
	return out
}

// fragment is a piece of the text: raw text [start, end) or a token.
type fragment struct {
	start, end int
	tok        int32 // -1 for raw text
}

// partition splits text at the special tokens it contains, longest tokens
// first, as llama.cpp's tokenizer_st_partition.
func (t *Tokenizer) partition(text string, parseSpecial bool) []fragment {
	if text == "" {
		return nil
	}
	frags := []fragment{{0, len(text), -1}}
	present := t.trie.occurring(text)
	if len(present) == 0 {
		return frags
	}
	var next []fragment
	for _, id := range t.special {
		if !present[id] {
			continue
		}
		a := t.attr[id]
		if !parseSpecial && a&(attrControl|attrUnknown) != 0 {
			continue
		}
		tok := t.tokens[id]
		next = next[:0]
		for _, f := range frags {
			if f.tok >= 0 {
				next = append(next, f)
				continue
			}
			off, end := f.start, f.end
			for off < end {
				j := strings.Index(text[off:end], tok)
				if j < 0 {
					next = append(next, fragment{off, end, -1})
					break
				}
				m := off + j
				if m > off {
					le := m
					if a&attrLStrip != 0 {
						for le > off && isCSpace(text[le-1]) {
							le--
						}
					}
					if le > off {
						next = append(next, fragment{off, le, -1})
					}
				}
				next = append(next, fragment{0, 0, id})
				off = m + len(tok)
				if a&attrRStrip != 0 {
					for off < end && isCSpace(text[off]) {
						off++
					}
				}
			}
		}
		frags, next = next, frags
	}
	return frags
}

func isCSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r')
}

// Decode returns the text of ids as one sequence: control and unknown tokens
// give "", byte tokens their byte. For SentencePiece vocabularies with
// AddSpacePrefix it removes the space Encode put in front of the text: the
// leading space of the first text piece, and of the first text piece after
// each BOS (run.c's rule). Decode(Encode(s)) == s for text without special
// tokens. Ids out of range give "".
func (t *Tokenizer) Decode(ids []int) string {
	return t.decode(ids, t.stripsSpace())
}

// DecodeRaw is Decode without the leading-space removal: the plain
// concatenation of the pieces, for text that continues a sequence.
func (t *Tokenizer) DecodeRaw(ids []int) string {
	return t.decode(ids, false)
}

func (t *Tokenizer) stripsSpace() bool {
	return t.kind == kindSPM && t.v.AddSpacePrefix
}

func (t *Tokenizer) decode(ids []int, strip bool) string {
	var sb strings.Builder
	pending := strip
	for _, id := range ids {
		if strip && id >= 0 && id == t.v.BOS {
			pending = true
		}
		p := t.text(id)
		if p == "" {
			continue
		}
		if pending {
			pending = false
			if p[0] == ' ' {
				p = p[1:]
			}
		}
		sb.WriteString(p)
	}
	return sb.String()
}

// text is the decoded text of id ("" for control tokens and bad ids).
func (t *Tokenizer) text(id int) string {
	if id < 0 || id >= len(t.pieces) || t.silent[id] {
		return ""
	}
	return t.pieces[id]
}

// Piece returns the text of one token: spaces unescaped, a byte token's
// byte, a control token's own text (e.g. "<s>"); "" for an id out of range.
func (t *Tokenizer) Piece(id int) string {
	if id < 0 || id >= len(t.pieces) {
		return ""
	}
	return t.pieces[id]
}

// Token returns the vocabulary text of id as stored (e.g. "▁the", "<0x0A>",
// "Ġthe"); "" for an id out of range.
func (t *Tokenizer) Token(id int) string {
	if id < 0 || id >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// TokenID returns the id of the token whose vocabulary text is exactly s.
func (t *Tokenizer) TokenID(s string) (int, bool) {
	id, ok := t.toID[s]
	return int(id), ok
}

// BOS returns the beginning-of-sequence token id, -1 if none.
func (t *Tokenizer) BOS() int { return t.v.BOS }

// EOS returns the end-of-sequence token id, -1 if none.
func (t *Tokenizer) EOS() int { return t.v.EOS }

// AddBOS reports whether the model expects sequences to start with BOS.
func (t *Tokenizer) AddBOS() bool { return t.v.AddBOS }

// IsControl reports whether id is a control token (BOS, EOS, <|im_start|>,
// ...), which decodes to "".
func (t *Tokenizer) IsControl(id int) bool {
	return id >= 0 && id < len(t.attr) && t.attr[id]&attrControl != 0
}

// IsEOG reports whether id ends generation: EOS, or one of the tokens
// llama.cpp treats so (<|eot_id|>, <|im_end|>, <|end|>, <end_of_turn>,
// <|endoftext|>, <|eom_id|>, <EOT>).
func (t *Tokenizer) IsEOG(id int) bool {
	return id >= 0 && id < len(t.attr) && t.eog[int32(id)]
}

// VocabSize returns the number of tokens.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// Model returns the tokenizer model ("llama" or "gpt2").
func (t *Tokenizer) Model() string { return t.v.Model }

// specialTrie finds which special tokens occur in a text.
type specialTrie struct {
	next map[uint64]int32 // node<<8 | byte → child node
	ids  map[int32][]int32
}

func buildTrie(tokens []string, special []int32) specialTrie {
	tr := specialTrie{next: map[uint64]int32{}, ids: map[int32][]int32{}}
	nodes := int32(1)
	for _, id := range special {
		node := int32(0)
		s := tokens[id]
		for i := 0; i < len(s); i++ {
			k := uint64(node)<<8 | uint64(s[i])
			c, ok := tr.next[k]
			if !ok {
				c = nodes
				nodes++
				tr.next[k] = c
			}
			node = c
		}
		tr.ids[node] = append(tr.ids[node], id)
	}
	return tr
}

// occurring returns the special tokens that occur in text.
func (tr specialTrie) occurring(text string) map[int32]bool {
	if len(tr.ids) == 0 {
		return nil
	}
	var found map[int32]bool
	for i := 0; i < len(text); i++ {
		node := int32(0)
		for j := i; j < len(text); j++ {
			c, ok := tr.next[uint64(node)<<8|uint64(text[j])]
			if !ok {
				break
			}
			node = c
			if ids := tr.ids[node]; ids != nil {
				if found == nil {
					found = map[int32]bool{}
				}
				for _, id := range ids {
					found[id] = true
				}
			}
		}
	}
	return found
}
