package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/hone-ai/hone/model"
)

// runTokenize is `hone tokenize`: the token ids of a text, space-separated,
// without BOS unless --bos. Only the tokenizer is loaded, so vocabulary-only
// GGUF files work.
func runTokenize(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("tokenize", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	modelPath := fs.String("m", "", "model or vocabulary file (.gguf, or llama2.c .bin with --tokenizer)")
	tokPath := fs.String("tokenizer", "", "tokenizer.bin of a llama2.c checkpoint (default: tokenizer.bin beside it)")
	file := fs.String("file", "", "tokenize the whole content of this file (- for stdin)")
	bos := fs.Bool("bos", false, "start with the BOS token")
	special := fs.Bool("special", false, "parse special tokens written as text (such as <|im_start|>)")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, `usage: hone tokenize -m MODEL [--file F] [--bos] [--special] ["TEXT"]`)
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if *modelPath == "" {
		return usageError("tokenize: -m MODEL is required")
	}
	var text string
	switch {
	case *file != "" && len(pos) > 0:
		return usageError("tokenize: give either --file or TEXT, not both")
	case len(pos) > 1:
		return usageError("tokenize: give the text as one argument (quote it); got %d", len(pos))
	case *file == "-" || (*file == "" && len(pos) == 0):
		b, err := io.ReadAll(e.stdin)
		if err != nil {
			return fmt.Errorf("tokenize: reading stdin: %w", err)
		}
		text = string(b)
	case *file != "":
		b, err := os.ReadFile(*file)
		if err != nil {
			return fmt.Errorf("tokenize: --file: %w", err)
		}
		text = string(b)
	default:
		text = pos[0]
	}
	path, err := modelFile(ctx, e, *modelPath)
	if err != nil {
		return err
	}
	tok, _, err := model.LoadTokenizer(path, model.LoadOptions{Tokenizer: *tokPath})
	if err != nil {
		return err
	}
	var ids []int
	if *bos {
		if tok.BOS() < 0 {
			return fmt.Errorf("tokenize: --bos: the vocabulary of %s has no BOS token", *modelPath)
		}
		ids = append(ids, tok.BOS())
	}
	if *special {
		ids = append(ids, tok.EncodeSpecial(text)...)
	} else {
		ids = append(ids, tok.Encode(text)...)
	}
	var sb strings.Builder
	for i, id := range ids {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(strconv.Itoa(id))
	}
	sb.WriteByte('\n')
	_, err = io.WriteString(e.stdout, sb.String())
	return err
}
