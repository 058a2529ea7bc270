package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hone-ai/hone/feedback"
)

func runExport(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	names := make([]string, 0, 3)
	for _, f := range feedback.Formats() {
		names = append(names, string(f))
	}
	format := fs.String("format", "", "one of "+strings.Join(names, ", ")+" (required)")
	out := fs.String("o", "", "output file (default: stdout)")
	since := fs.Int64("since", 0, "only data after this watermark (seq)")
	until := fs.Int64("until", 0, "only data up to this watermark (0: no bound)")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: hone export --format %s [-o FILE] [--since SEQ] [--until SEQ]\n", strings.Join(names, "|"))
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		fs.Usage()
		return usageError("export: unexpected argument %q", pos[0])
	}
	f, err := feedback.ParseFormat(*format)
	if err != nil {
		return usageError("export: --format: %v", err)
	}
	s, err := openStore(ctx, e, true)
	if err != nil {
		return err
	}
	defer s.Close()
	win := feedback.Window{Since: *since, Until: *until}
	if *out == "" || *out == "-" {
		_, err := s.Export(ctx, e.stdout, f, win)
		return storeErr(err)
	}
	// Temp file + fsync + rename: a failed export never leaves half a file
	// under the requested name. 0600: it holds conversations.
	tmp, err := os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".tmp*")
	if err != nil {
		return fmt.Errorf("export: creating %s: %w", *out, err)
	}
	defer os.Remove(tmp.Name())
	n, err := s.Export(ctx, tmp, f, win)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return storeErr(fmt.Errorf("export: writing %s: %w", *out, err))
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return fmt.Errorf("export: writing %s: %w", *out, err)
	}
	fmt.Fprintf(e.stderr, "exported %d %s rows to %s\n", n, f, *out)
	return nil
}
