package tokenizer

import "unicode/utf8"

// StreamDecoder decodes tokens one at a time for streaming. Add returns only
// whole UTF-8 characters: the bytes of a character split over several tokens
// (Korean arrives as byte tokens <0xEC><0x95><0x88>) are held until the
// character is complete. A byte sequence that can never become valid UTF-8
// is passed through as it is, so the concatenation of every Add and the
// final Flush always equals DecodeRaw of the same ids (Decode with the
// StripLeadingSpace option). Not safe for concurrent use.
type StreamDecoder struct {
	t       *Tokenizer
	strip   bool // apply Decode's leading-space rule
	pending bool // the next text piece loses a leading space
	buf     []byte
}

// StreamOption configures a StreamDecoder.
type StreamOption func(*StreamDecoder)

// StripLeadingSpace makes the decoder apply Decode's rule for the space that
// SentencePiece encoding puts in front of a text: the first text piece of
// the stream, and the first text piece after each BOS, lose one leading
// space (as llama.cpp does for a sequence start and run.c after BOS). Use it
// when the stream starts a text; leave it out for a continuation. It has no
// effect on vocabularies without AddSpacePrefix.
func StripLeadingSpace() StreamOption {
	return func(d *StreamDecoder) { d.strip = d.t.stripsSpace(); d.pending = d.strip }
}

// NewStreamDecoder returns an incremental decoder. By default it decodes a
// continuation: pieces are concatenated as they are (DecodeRaw).
func (t *Tokenizer) NewStreamDecoder(opts ...StreamOption) *StreamDecoder {
	d := &StreamDecoder{t: t}
	for _, o := range opts {
		o(d)
	}
	return d
}

// Add decodes one more token and returns the text that is now complete.
func (d *StreamDecoder) Add(id int) string {
	if d.strip && id >= 0 && id == d.t.v.BOS {
		d.pending = true
	}
	p := d.t.text(id)
	if p == "" {
		return ""
	}
	if d.pending {
		d.pending = false
		if p[0] == ' ' {
			p = p[1:]
		}
	}
	if len(d.buf) == 0 {
		if k := incompleteTail(p); k == 0 {
			return p
		}
	}
	d.buf = append(d.buf, p...)
	k := incompleteTail(string(d.buf))
	out := string(d.buf[:len(d.buf)-k])
	d.buf = append(d.buf[:0], d.buf[len(d.buf)-k:]...)
	return out
}

// Flush returns whatever is held back (an incomplete character at the end of
// the stream) and resets the decoder's buffer.
func (d *StreamDecoder) Flush() string {
	out := string(d.buf)
	d.buf = d.buf[:0]
	return out
}

// incompleteTail returns how many bytes at the end of s are the beginning
// of a UTF-8 character that is not complete yet (0 to 3).
func incompleteTail(s string) int {
	for k := 1; k <= 3 && k <= len(s); k++ {
		c := s[len(s)-k]
		if c < 0x80 {
			return 0 // ASCII: complete
		}
		if c >= 0xC0 { // a leading byte
			if utf8.FullRuneInString(s[len(s)-k:]) {
				return 0
			}
			return k
		}
		// continuation byte: look further back
	}
	return 0
}
