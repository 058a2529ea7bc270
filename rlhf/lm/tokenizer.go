package lm

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strings"
	"unicode/utf8"
)

// Tokenizer is a SentencePiece-BPE vocabulary in llama2.c's tokenizer.bin
// form (score-ordered merges, byte fallback at ids 3..258).
type Tokenizer struct {
	pieces []string
	scores []float32
	index  map[string]int
}

// Special token ids of llama2.c vocabularies.
const (
	BOS = 1
	EOS = 2
)

// LoadTokenizer reads a llama2.c tokenizer.bin with vocab entries.
func LoadTokenizer(path string, vocab int) (*Tokenizer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("lm: read tokenizer: %w", err)
	}
	le := binary.LittleEndian
	if len(b) < 4 {
		return nil, fmt.Errorf("lm: %s: too short", path)
	}
	t := &Tokenizer{pieces: make([]string, vocab), scores: make([]float32, vocab), index: make(map[string]int, vocab)}
	off := 4
	for i := 0; i < vocab; i++ {
		if off+8 > len(b) {
			return nil, fmt.Errorf("lm: %s: truncated at token %d", path, i)
		}
		t.scores[i] = math.Float32frombits(le.Uint32(b[off:]))
		n := int(int32(le.Uint32(b[off+4:])))
		off += 8
		if n < 0 || off+n > len(b) {
			return nil, fmt.Errorf("lm: %s: bad length %d at token %d", path, n, i)
		}
		t.pieces[i] = string(b[off : off+n])
		off += n
		if _, dup := t.index[t.pieces[i]]; !dup {
			t.index[t.pieces[i]] = i
		}
	}
	return t, nil
}

// VocabSize is the number of tokens.
func (t *Tokenizer) VocabSize() int { return len(t.pieces) }

// Encode tokenizes text (no BOS) with SentencePiece's leading space.
func (t *Tokenizer) Encode(text string) []int {
	if text == "" {
		return nil
	}
	var ids []int
	if id, ok := t.index[" "]; ok {
		ids = append(ids, id)
	}
	for len(text) > 0 {
		_, n := utf8.DecodeRuneInString(text)
		if id, ok := t.index[text[:n]]; ok {
			ids = append(ids, id)
		} else {
			for i := 0; i < n; i++ {
				ids = append(ids, int(text[i])+3)
			}
		}
		text = text[n:]
	}
	for {
		best, bestID, bestScore := -1, -1, float32(math.Inf(-1))
		for i := 0; i+1 < len(ids); i++ {
			if id, ok := t.index[t.pieces[ids[i]]+t.pieces[ids[i+1]]]; ok && t.scores[id] > bestScore {
				best, bestID, bestScore = i, id, t.scores[id]
			}
		}
		if best < 0 {
			return ids
		}
		ids[best] = bestID
		ids = append(ids[:best+1], ids[best+2:]...)
	}
}

// Decode turns ids into text; the leading space of the first piece is
// dropped, as SentencePiece does.
func (t *Tokenizer) Decode(ids []int) string {
	var sb strings.Builder
	for i, id := range ids {
		if id < 0 || id >= len(t.pieces) || id == BOS || id == EOS {
			continue
		}
		p := t.pieces[id]
		if i == 0 {
			p = strings.TrimPrefix(p, " ")
		}
		var by byte
		if len(p) == 6 && strings.HasPrefix(p, "<0x") && p[5] == '>' {
			if _, err := fmt.Sscanf(p, "<0x%02X>", &by); err == nil {
				sb.WriteByte(by)
				continue
			}
		}
		sb.WriteString(p)
	}
	return sb.String()
}
