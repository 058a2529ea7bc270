package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
)

func runImport(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: hone import FILE   (JSONL in trl-kto, trl-dpo or openai-dpo form; - for stdin)")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return usageError("import: name one FILE")
	}
	var r io.Reader = e.stdin
	name := "stdin"
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		defer f.Close()
		r, name = f, pos[0]
	}
	s, err := openStore(ctx, e, false)
	if err != nil {
		return err
	}
	defer s.Close()
	st, err := s.Import(ctx, r)
	if err != nil {
		return storeErr(fmt.Errorf("import %s: %w (nothing was imported)", name, err))
	}
	fmt.Fprintf(e.stdout, "imported %d rows from %s: %d conversations, %d messages, %d ratings, %d comparisons\n",
		st.Rows, name, st.Conversations, st.Messages, st.Ratings, st.Comparisons)
	return nil
}
