package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// benchResult is one measured figure with the baseline measured in the
// same run, printed as one JSON object per line with --json.
type benchResult struct {
	Bench         string  `json:"bench"`
	Value         float64 `json:"value"`
	Unit          string  `json:"unit"`
	Baseline      string  `json:"baseline"`
	BaselineValue float64 `json:"baseline_value"`
}

// benchOptions are the flags every suite sees.
type benchOptions struct {
	model     string // -m: a model file for suites that can use one
	tokenizer string // --tokenizer for llama2.c checkpoints
	quick     bool   // --quick: smaller sizes and shorter runs
}

// benchSuite runs one family of benchmarks, calling report for each result.
type benchSuite func(ctx context.Context, e *env, opts benchOptions, report func(benchResult)) error

// benchSuites maps `hone bench NAME` to its suite; each suite lives in
// bench_NAME.go.
func benchSuites() map[string]benchSuite {
	return map[string]benchSuite{
		// "kernels": benchKernels, "decode": benchDecode, "train": benchTrain
		"kernels": benchKernels,
		"decode":  benchDecode,
		"train":   benchTrain,
	}
}

func runBench(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var opts benchOptions
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	fs.StringVar(&opts.model, "m", "", "model file for suites that use one")
	fs.StringVar(&opts.tokenizer, "tokenizer", "", "tokenizer.bin for llama2.c checkpoints")
	fs.BoolVar(&opts.quick, "quick", false, "smaller sizes, shorter runs")
	suites := benchSuites()
	names := make([]string, 0, len(suites))
	for n := range suites {
		names = append(names, n)
	}
	sort.Strings(names)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: hone bench %s [--json] [-m MODEL] [--quick]\n", strings.Join(names, "|"))
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return usageError("bench: name one suite: %s", strings.Join(names, ", "))
	}
	suite, ok := suites[pos[0]]
	if !ok {
		return usageError("bench: unknown suite %q (have %s)", pos[0], strings.Join(names, ", "))
	}
	return suite(ctx, e, opts, func(r benchResult) { printBench(e.stdout, r, *asJSON) })
}

func printBench(w io.Writer, r benchResult, asJSON bool) {
	if asJSON {
		b, _ := json.Marshal(r)
		fmt.Fprintln(w, string(b))
		return
	}
	ratio := ""
	if r.BaselineValue != 0 {
		ratio = fmt.Sprintf("  (%.2f× %s)", r.Value/r.BaselineValue, r.Baseline)
	}
	fmt.Fprintf(w, "%-36s %10.2f %-8s baseline %-24s %10.2f%s\n", r.Bench, r.Value, r.Unit, r.Baseline, r.BaselineValue, ratio)
}

// parseInterspersed parses flags that may appear before, between or after
// positional arguments ("--" ends flag parsing) and returns the positionals.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return nil, err
			}
			return nil, usageError("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
