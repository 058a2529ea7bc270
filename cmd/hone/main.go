// Command hone is a terminal chatbot that learns from its users' ratings.
//
// Usage: hone [--home DIR] [--db PATH] [COMMAND] [FLAGS] [ARGS]
//
// With no command it opens the chat (or answers -p / piped stdin once).
// Exit codes: 0 ok, 1 error, 2 usage, 3 nothing to do, 4 locked.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// Exit codes of the command-line contract.
const (
	exitOK      = 0
	exitError   = 1
	exitUsage   = 2
	exitNothing = 3
	exitLocked  = 4
)

// exitErr carries a specific exit code with an error.
type exitErr struct {
	code int
	err  error
}

func (e *exitErr) Error() string { return e.err.Error() }
func (e *exitErr) Unwrap() error { return e.err }

// usageError reports a bad flag or argument (exit code 2).
func usageError(format string, a ...any) error {
	return &exitErr{code: exitUsage, err: fmt.Errorf(format, a...)}
}

// env is what every command gets: streams, environment and the global
// flags, so commands are testable without touching the process globals.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	home           string // --home / HONE_HOME / $XDG_DATA_HOME/hone
	db             string // --db / HONE_DB / HOME/hone.db
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// commands lists every subcommand. Each lives in its own file.
func commands() []command {
	return []command{
		// Each subcommand registers itself here, one line each.
		{"bench", "measure kernels, decoding and training against same-run baselines", runBench},
		{"train", "the scheduled retraining job: reward model, KTO/DPO/RLOO, gates, promotion", runTrain},
		{"models", "the policy registry: list, show, promote, rollback, export", runModels},
		{"lab", "closed-loop experiment with a simulated annotator: generate, annotate, train, evaluate", runLab},
		{"chat", "chat in the terminal (the default); -p TEXT or piped stdin answers once", runChat},
		{"annotate", "the annotation queue (TUI); --auto CMD lets a program rate", runAnnotate},
		{"complete", "raw continuation of a prompt (no chat template), run.c semantics", runComplete},
		{"tokenize", "token ids of a text, space-separated", runTokenize},
		{"convert", "convert a model (GGUF, llama2.c) to GGUF f32/f16/q8_0 or llama2.c", runConvert},
		{"rate", "rate a reply from scripts: MESSAGE_ID up|down|clear", runRate},
		{"export", "write preference data as JSONL (trl-kto, trl-dpo, openai-dpo)", runExport},
		{"import", "read preference data JSONL back into the store", runImport},
		{"finetune", "supervised fine-tuning (chat JSONL or plain text), full or LoRA, to GGUF", runFinetune},
		{"perplexity", "perplexity of a model on a text file", runPerplexity},
		{"pretrain", "rebuild the embedded default model from scratch", runPretrain},
		{"eval", "score a chat model on held-out prompts (language, addition, definitions)", runEval},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run is main without the process: it parses global flags, picks the
// subcommand and maps its error to an exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	rest, err := parseGlobals(e, args)
	if err == nil {
		err = dispatch(ctx, e, rest)
	}
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	code := exitError
	var ee *exitErr
	if errors.As(err, &ee) {
		code = ee.code
	}
	if code != exitNothing || err.Error() != "" {
		fmt.Fprintf(stderr, "hone: %v\n", err)
	}
	return code
}

// parseGlobals consumes --home and --db (in either -x or --x, with = or a
// separate value) from the front of args and resolves their defaults.
func parseGlobals(e *env, args []string) ([]string, error) {
	home, db := e.getenv("HONE_HOME"), e.getenv("HONE_DB")
	for len(args) > 0 {
		a := args[0]
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || (name != "home" && name != "db") {
			break
		}
		if !hasVal {
			if len(args) < 2 {
				return nil, usageError("flag --%s needs a value", name)
			}
			val, args = args[1], args[1:]
		}
		args = args[1:]
		if name == "home" {
			home = val
		} else {
			db = val
		}
	}
	if home == "" {
		data := e.getenv("XDG_DATA_HOME")
		if data == "" {
			h := e.getenv("HOME")
			if h == "" {
				h = "."
			}
			data = filepath.Join(h, ".local", "share")
		}
		home = filepath.Join(data, "hone")
	}
	if db == "" {
		db = filepath.Join(home, "hone.db")
	}
	e.home, e.db = home, db
	return args, nil
}

func dispatch(ctx context.Context, e *env, args []string) error {
	cmds := commands()
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name := args[0]
		if name == "help" {
			printUsage(e.stdout, cmds)
			return nil
		}
		for _, c := range cmds {
			if c.name == name {
				return c.run(ctx, e, args[1:])
			}
		}
		if name != "chat" {
			return usageError("unknown command %q (see hone help)", name)
		}
		args = args[1:]
	}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		printUsage(e.stdout, cmds)
		return nil
	}
	for _, c := range cmds {
		if c.name == "chat" {
			return c.run(ctx, e, args)
		}
	}
	printUsage(e.stderr, cmds)
	return usageError("no command given")
}

func printUsage(w io.Writer, cmds []command) {
	fmt.Fprintln(w, "usage: hone [--home DIR] [--db PATH] [COMMAND] [FLAGS] [ARGS]")
	fmt.Fprintln(w, "\ncommands:")
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'hone COMMAND -h' for a command's flags.")
}
