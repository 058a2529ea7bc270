package chat

import (
	"strings"
	"unicode/utf8"
)

// Sanitize makes model output (or any stored text) inert before it reaches a
// terminal: escape sequences (CSI, OSC, DCS, APC, PM, SOS and two-byte ESC
// sequences) and every C0/C1 control character except newline and tab are
// replaced by visible placeholders, so the text shows what was there but the
// terminal never interprets it. ESC becomes "␛" and other C0 controls their
// Unicode control pictures (U+2400 block), DEL becomes "␡", C1 controls
// (U+0080–U+009F, including the 8-bit CSI U+009B and OSC U+009D) become
// "\u009b"-style text, carriage returns become "␍" (a bare CR would let text
// overwrite the line), and invalid UTF-8 becomes U+FFFD. Bidirectional
// overrides and isolates (U+202A–U+202E, U+2066–U+2069) are shown as
// <U+202E> so they cannot reorder what the user sees.
func Sanitize(s string) string {
	if isClean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
			i++
			continue
		}
		i += size
		switch {
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r < 0x20:
			b.WriteRune(0x2400 + r) // ␀ … ␟; ESC is ␛
		case r == 0x7f:
			b.WriteRune('␡')
		case r >= 0x80 && r <= 0x9f:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&0xf])
		case isBidiControl(r):
			b.WriteString("<U+")
			const hex = "0123456789ABCDEF"
			b.WriteByte(hex[r>>12&0xf])
			b.WriteByte(hex[r>>8&0xf])
			b.WriteByte(hex[r>>4&0xf])
			b.WriteByte(hex[r&0xf])
			b.WriteByte('>')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isClean reports whether s needs no sanitizing (the common case, checked
// without allocating).
func isClean(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || (r >= 0x80 && r <= 0x9f) || isBidiControl(r) {
			return false
		}
		i += size
	}
	return true
}

func isBidiControl(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}
