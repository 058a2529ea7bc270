package tokenizer

import (
	"os"
	"strings"
	"testing"

	"github.com/hone-ai/hone/model/fixtures"
)

// benchText returns about 100 KB of text: Shakespeare and Korean from the
// corpus fixtures, or generated text when they are absent.
func benchText(b *testing.B) string {
	var sb strings.Builder
	if d := fixtures.Dir(); d != "" {
		if s, err := os.ReadFile(d + "/corpus/tinyshakespeare.txt"); err == nil {
			sb.Write(s[:min(len(s), 80_000)])
		}
		if s, err := os.ReadFile(d + "/corpus/ChatbotData.csv"); err == nil {
			sb.Write(s[:min(len(s), 20_000)])
		}
	}
	for sb.Len() < 100_000 {
		sb.WriteString("The quick brown fox jumps over the lazy dog. 안녕하세요 🙂 1234567\n")
	}
	return sb.String()
}

// BenchmarkEncode100KB tokenizes about 100 KB of text per iteration.
func BenchmarkEncode100KB(b *testing.B) {
	text := benchText(b)
	run := func(name string, tok *Tokenizer) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				tok.Encode(text)
			}
		})
	}
	for _, name := range []string{"llama-spm", "gpt-2", "deepseek-llm", "mpt"} {
		run(name, loadGGUFTokenizer(b, name))
	}
	_, tok := loadLlama2CTokenizer(b, "stories260k", "tok512.bin")
	run("tok512", tok)
}

// BenchmarkEncodeDegenerate tokenizes 100 KB of one repeated character and
// of whitespace, the inputs that make naive BPE quadratic.
func BenchmarkEncodeDegenerate(b *testing.B) {
	for _, name := range []string{"llama-spm", "gpt-2"} {
		tok := loadGGUFTokenizer(b, name)
		for _, in := range []struct{ name, text string }{
			{"a", strings.Repeat("a", 100_000)},
			{"space", strings.Repeat(" ", 100_000)},
			{"newline-space", strings.Repeat("\n ", 50_000)},
		} {
			b.Run(name+"/"+in.name, func(b *testing.B) {
				b.SetBytes(int64(len(in.text)))
				for b.Loop() {
					tok.Encode(in.text)
				}
			})
		}
	}
}

func BenchmarkStreamDecode(b *testing.B) {
	tok := loadGGUFTokenizer(b, "llama-spm")
	ids := tok.Encode(benchText(b))
	b.ResetTimer()
	for b.Loop() {
		d := tok.NewStreamDecoder()
		for _, id := range ids {
			d.Add(id)
		}
		d.Flush()
	}
}
