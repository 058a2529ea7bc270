package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hone-ai/hone/model/ggml"

	"github.com/hone-ai/hone/model"
)

// runConvert is `hone convert`: any loadable model (GGUF, llama2.c) to a
// GGUF file llama.cpp also reads, or to a llama2.c checkpoint when OUT ends
// in .bin.
func runConvert(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("convert", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	in := fs.String("m", "", "model to convert (.gguf or llama2.c .bin)")
	tokPath := fs.String("tokenizer", "", "tokenizer.bin of a llama2.c checkpoint (default: tokenizer.bin beside it)")
	out := fs.String("o", "", "output file: OUT.gguf, or OUT.bin for a llama2.c checkpoint (F32)")
	typ := fs.String("type", "f32", "matrix type of a GGUF output: f32, f16, bf16 or q8_0 (rows that are not whole blocks stay F16)")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: hone convert -m IN -o OUT.gguf [--type f32|f16|q8_0]")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("convert: unexpected argument %q", pos[0])
	}
	if *in == "" || *out == "" {
		return usageError("convert: -m IN and -o OUT are required")
	}
	types := map[string]ggml.Type{"f32": ggml.F32, "f16": ggml.F16, "bf16": ggml.BF16, "q8_0": ggml.Q8_0}
	t, ok := types[strings.ToLower(*typ)]
	if !ok {
		return usageError("convert: --type %q: want f32, f16, bf16 or q8_0", *typ)
	}
	path, err := modelFile(ctx, e, *in)
	if err != nil {
		return err
	}
	if filepath.Clean(path) == filepath.Clean(*out) {
		return usageError("convert: -o must differ from the input %s", path)
	}
	m, err := model.Load(path, model.LoadOptions{Tokenizer: *tokPath})
	if err != nil {
		return err
	}
	defer m.Close()
	if strings.HasSuffix(strings.ToLower(*out), ".bin") {
		if t != ggml.F32 {
			return usageError("convert: llama2.c checkpoints are float32; --type %s applies to GGUF output only", *typ)
		}
		return m.SaveLlama2C(*out)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return m.SaveGGUF(*out, model.SaveOptions{Type: t})
}
