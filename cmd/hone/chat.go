package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"
	"golang.org/x/term"

	"github.com/hone-ai/hone/chat"
	"github.com/hone-ai/hone/feedback"
	"github.com/hone-ai/hone/model"
	"github.com/hone-ai/hone/tui"
)

// chatFlags are the flags of `hone` / `hone chat`.
type chatFlags struct {
	model, tokenizer, template string
	system                     string
	cont                       bool
	prompt                     string
	promptSet                  bool
	asJSON, noLog              bool
	sampling                   chat.Sampling
}

func parseChatFlags(e *env, args []string) (*chatFlags, []string, error) {
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	f := &chatFlags{sampling: chat.DefaultSampling()}
	fs.StringVar(&f.model, "m", "", "model file (.gguf or llama2.c .bin) or registered policy NAME[@VERSION]; default: the active policy")
	fs.StringVar(&f.tokenizer, "tokenizer", "", "tokenizer.bin for a llama2.c checkpoint")
	fs.StringVar(&f.template, "template", "", "chat template: chatml, llama2, llama3, zephyr, plain (default: from the model)")
	fs.StringVar(&f.system, "s", "", "system prompt")
	fs.BoolVar(&f.cont, "c", false, "continue the last conversation")
	fs.Func("p", "answer `TEXT` once and print the reply (no TUI)", func(s string) error {
		f.prompt, f.promptSet = s, true
		return nil
	})
	fs.BoolVar(&f.asJSON, "json", false, "one-shot: print {conversation_id, message_id, reply, tokens, tokens_per_second}")
	fs.BoolVar(&f.noLog, "no-log", false, "do not store the conversation")
	sp := &f.sampling
	fs.Func("temperature", "sampling temperature (0 = greedy; default 0.8)", func(s string) error { return sp.Set("temperature", s) })
	fs.Func("top-p", "nucleus sampling threshold (default 0.95)", func(s string) error { return sp.Set("top_p", s) })
	fs.Func("top-k", "keep the K most likely tokens (default 40; 0 = off)", func(s string) error { return sp.Set("top_k", s) })
	fs.Func("min-p", "drop tokens below P × the top one's probability (default 0.05)", func(s string) error { return sp.Set("min_p", s) })
	fs.Func("repeat-penalty", "repetition penalty (default 1.1; 1 = off)", func(s string) error { return sp.Set("repeat_penalty", s) })
	fs.Func("seed", "sampling seed (default: a fresh one per reply)", func(s string) error { return sp.Set("seed", s) })
	fs.Func("max-tokens", "longest reply in tokens (default 512)", func(s string) error { return sp.Set("max_tokens", s) })
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, `usage: hone [chat] [-m MODEL] [-s SYSTEM] [-c] [--temperature T] [--top-p P] [--top-k K] [--seed N]
              [--max-tokens N] [--template NAME] [--tokenizer FILE] [--no-log]
       hone -p "TEXT" [--json] [...]      one reply to stdout
       echo TEXT | hone [--json] [...]     the same, reading the prompt from stdin`)
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, nil, err
	}
	return f, pos, nil
}

// isTerminal reports whether r or w is a terminal.
func isTerminal(x any) bool {
	f, ok := x.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func runChat(ctx context.Context, e *env, args []string) error {
	f, pos, err := parseChatFlags(e, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 && !f.promptSet {
		return usageError("chat: unexpected argument %q (use -p \"TEXT\" for a one-shot reply)", pos[0])
	}
	oneShot := f.promptSet || !isTerminal(e.stdin)
	if !oneShot && f.asJSON {
		return usageError("chat: --json needs -p TEXT or a prompt on stdin")
	}
	prompt := f.prompt
	if oneShot && !f.promptSet {
		b, err := io.ReadAll(e.stdin)
		if err != nil {
			return fmt.Errorf("chat: read the prompt from stdin: %w", err)
		}
		prompt = string(b)
	}
	if oneShot && strings.TrimSpace(prompt) == "" {
		return usageError("chat: empty prompt (give -p \"TEXT\" or text on stdin)")
	}

	// The store: history and logging, and where the active policy is.
	var st *feedback.Store
	if !f.noLog || f.model == "" || f.cont {
		st, err = openStore(ctx, e, false)
		if err != nil {
			return err
		}
		defer st.Close()
	}
	eng, policy, label, err := loadChatModel(ctx, e, st, f)
	if err != nil {
		return err
	}
	// The model in use at the end is closed (/model in the TUI swaps it
	// and closes the one it replaces).
	defer func() { closeEngine(eng) }()

	var store chat.Store
	if !f.noLog {
		store = st
	}
	rater := defaultRater(e)
	var sess *chat.Session
	if f.cont {
		if st == nil {
			return usageError("chat: -c needs the store")
		}
		last, err := st.LastConversation(ctx)
		if errors.Is(err, feedback.ErrNotFound) {
			return &exitErr{code: exitNothing, err: errors.New("chat -c: no conversation to continue")}
		}
		if err != nil {
			return storeErr(err)
		}
		if f.noLog {
			// Read it, but write nothing back.
			sess, err = chat.Load(ctx, st, eng, last.ID, rater)
			if err == nil {
				sess.Store = nil
			}
		} else {
			sess, err = chat.Load(ctx, st, eng, last.ID, rater)
		}
		if err != nil {
			return err
		}
		if f.system != "" {
			sess.Conv.System = f.system
		}
	} else {
		sess = chat.NewSession(eng, store, f.system)
		sess.Rater = rater
	}
	sess.Sampling, sess.Model, sess.Policy = f.sampling, eng.Name(), policy

	if oneShot {
		return chatOnce(ctx, e, sess, prompt, f.asJSON)
	}
	var hist tui.History
	if !f.noLog {
		hist = st
	}
	editor := e.getenv("VISUAL")
	if editor == "" {
		editor = e.getenv("EDITOR")
	}
	m := tui.New(tui.Options{Session: sess, History: hist, PolicyLabel: label, Dark: true, Context: ctx,
		Editor: editor, LoadModel: func(ctx context.Context, name string) (chat.Engine, error) {
			mf := *f
			mf.model = name
			eng, _, _, err := loadChatModel(ctx, e, st, &mf)
			return eng, err
		}})
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(e.stdin), tea.WithOutput(e.stdout))
	_, err = p.Run()
	m.Close() // no generation may outlive the model
	eng = m.Session().Engine
	if err != nil && !(errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil) {
		return fmt.Errorf("chat: %w", err)
	}
	return nil
}

// chatOnce answers prompt once: streamed to a terminal, printed whole to
// a pipe, or as one JSON object with --json.
func chatOnce(ctx context.Context, e *env, sess *chat.Session, prompt string, asJSON bool) error {
	parent := int64(0)
	if leaf := sess.Conv.Leaf(); leaf != nil {
		parent = leaf.ID
	}
	if _, err := sess.AddUser(ctx, parent, prompt); err != nil {
		return storeErr(err)
	}
	stream := !asJSON && isTerminal(e.stdout)
	var emit func(string)
	if stream {
		emit = func(p string) { io.WriteString(e.stdout, chat.Sanitize(p)) }
	}
	leaf := sess.Conv.Leaf()
	msg, err := sess.Reply(ctx, leaf.ID, emit)
	if err != nil {
		return storeErr(err)
	}
	if asJSON {
		out := struct {
			ConversationID *int64  `json:"conversation_id"`
			MessageID      *int64  `json:"message_id"`
			Reply          string  `json:"reply"`
			Tokens         int     `json:"tokens"`
			TokensPerSec   float64 `json:"tokens_per_second"`
			Stopped        bool    `json:"stopped,omitempty"`
		}{Reply: msg.Content, Tokens: msg.Stats.Tokens, TokensPerSec: msg.Stats.TokensPerSecond(), Stopped: msg.Stopped}
		if sess.Logged() {
			cid, mid := sess.Conv.ID, msg.ID
			out.ConversationID, out.MessageID = &cid, &mid
		}
		b, err := json.Marshal(out)
		if err != nil {
			return fmt.Errorf("chat: encode reply: %w", err)
		}
		fmt.Fprintln(e.stdout, string(b))
	} else if stream {
		fmt.Fprintln(e.stdout)
	} else {
		fmt.Fprintln(e.stdout, chat.Sanitize(msg.Content))
	}
	if msg.Stopped && ctx.Err() != nil {
		return errors.New("chat: interrupted; the partial reply was kept")
	}
	return nil
}

// loadChatModel loads the model the chat runs on: -m FILE, -m NAME[@V]
// from the policy registry, or the active policy — on first run the
// embedded default model, installed as policy version 1. It returns the
// engine, the policy version (0 for a plain file) and a status-line label.
func loadChatModel(ctx context.Context, e *env, st *feedback.Store, f *chatFlags) (chat.Engine, int64, string, error) {
	opts := model.LoadOptions{Tokenizer: f.tokenizer, Template: f.template}
	load := func(path string, name string) (*chat.ModelEngine, error) {
		m, err := model.Load(path, opts)
		if err != nil {
			return nil, fmt.Errorf("chat: load model %s: %w", path, err)
		}
		return chat.FromModel(m, name), nil
	}
	if f.model != "" {
		if _, err := os.Stat(f.model); err == nil {
			me, err := load(f.model, "")
			if err != nil {
				return nil, 0, "", err
			}
			return me, 0, "", nil
		}
		if st == nil {
			return nil, 0, "", fmt.Errorf("chat: -m %s: no such file", f.model)
		}
		p, err := findPolicy(ctx, st, f.model)
		if err != nil {
			return nil, 0, "", err
		}
		me, err := load(p.Path, policyName(p))
		if err != nil {
			return nil, 0, "", err
		}
		return me, p.Version, fmt.Sprintf("policy v%d", p.Version), nil
	}
	p, err := activeOrDefaultPolicy(ctx, e, st)
	if errors.Is(err, feedback.ErrNotFound) {
		return nil, 0, "", fmt.Errorf("no model: %w; pass one with -m FILE", err)
	}
	if err != nil {
		return nil, 0, "", storeErr(err)
	}
	me, err := load(p.Path, policyName(p))
	if err != nil {
		return nil, 0, "", err
	}
	return me, p.Version, fmt.Sprintf("policy v%d", p.Version), nil
}

// closeEngine releases a model engine's files.
func closeEngine(e chat.Engine) {
	if c, ok := e.(io.Closer); ok {
		c.Close()
	}
}

func policyName(p feedback.Policy) string {
	n := p.Name
	if n == "" {
		n = strings.TrimSuffix(filepath.Base(p.Path), filepath.Ext(p.Path))
	}
	return n
}

// findPolicy resolves NAME or NAME@VERSION (or @VERSION, or a bare
// version number) in the policy registry; NAME alone means its newest
// active version, else its newest.
func findPolicy(ctx context.Context, st *feedback.Store, spec string) (feedback.Policy, error) {
	name, ver, hasVer := strings.Cut(spec, "@")
	var want int64
	if hasVer {
		v, err := strconv.ParseInt(ver, 10, 64)
		if err != nil {
			return feedback.Policy{}, usageError("-m %s: version %q is not a number", spec, ver)
		}
		want = v
	} else if v, err := strconv.ParseInt(name, 10, 64); err == nil {
		name, want = "", v
	}
	ps, err := st.Policies(ctx)
	if err != nil {
		return feedback.Policy{}, storeErr(err)
	}
	var best *feedback.Policy
	for i := range ps {
		p := &ps[i]
		if name != "" && p.Name != name {
			continue
		}
		if want != 0 {
			if p.Version == want {
				return *p, nil
			}
			continue
		}
		if best == nil || (p.Status == feedback.PolicyActive) || (best.Status != feedback.PolicyActive && p.Version > best.Version) {
			best = p
		}
	}
	if best == nil {
		return feedback.Policy{}, fmt.Errorf("-m %s: no such file and no such policy in the registry", spec)
	}
	return *best, nil
}
