package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hone-ai/hone/feedback"
	"github.com/hone-ai/hone/model/fixtures"
)

// chatRun runs hone in-process with stdin (not a terminal: one-shot mode)
// against the database in home.
func chatRun(t *testing.T, home, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb, func(k string) string {
		switch k {
		case "HONE_HOME":
			return home
		case "USER":
			return "tester"
		}
		return ""
	})
	return out.String(), errb.String(), code
}

func storiesArgs(t *testing.T) []string {
	return []string{"-m", fixtures.Path(t, "stories260k", "stories260K.bin"),
		"--tokenizer", fixtures.Path(t, "stories260k", "tok512.bin"), "--template", "plain", "--max-tokens", "24", "--seed", "5"}
}

type oneShotJSON struct {
	ConversationID *int64  `json:"conversation_id"`
	MessageID      *int64  `json:"message_id"`
	Reply          string  `json:"reply"`
	Tokens         int     `json:"tokens"`
	TokensPerSec   float64 `json:"tokens_per_second"`
}

func storedConversations(t *testing.T, home string) []*feedback.Tree {
	t.Helper()
	ctx := context.Background()
	st, err := feedback.Open(ctx, filepath.Join(home, "hone.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cs, err := st.ListConversations(ctx, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []*feedback.Tree
	for _, c := range cs {
		tr, err := st.Conversation(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tr)
	}
	return out
}

func TestOneShot(t *testing.T) {
	args := storiesArgs(t)
	tests := []struct {
		name   string
		stdin  string
		args   []string
		json   bool
		logged bool
	}{
		{"p plain", "", []string{"-p", "Tell me a story"}, false, true},
		{"p json", "", []string{"-p", "Tell me a story", "--json"}, true, true},
		{"stdin plain", "Tell me a story\n", nil, false, true},
		{"stdin json", "이야기 해 줘\n", []string{"--json"}, true, true},
		{"p no-log", "", []string{"-p", "Tell me a story", "--no-log"}, false, false},
		{"stdin json no-log", "Tell me a story", []string{"--json", "--no-log"}, true, false},
		{"chat subcommand", "", []string{"chat", "-p", "Hi"}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			a := append(append([]string(nil), tt.args...), args...)
			if tt.args != nil && tt.args[0] == "chat" {
				a = append([]string{"chat"}, append(tt.args[1:], args...)...)
			}
			out, errs, code := chatRun(t, home, tt.stdin, a...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			reply := strings.TrimSpace(out)
			if tt.json {
				var j oneShotJSON
				if err := json.Unmarshal([]byte(out), &j); err != nil {
					t.Fatalf("not JSON: %v: %q", err, out)
				}
				if j.Reply == "" || j.Tokens == 0 || j.TokensPerSec <= 0 {
					t.Fatalf("json %+v", j)
				}
				if tt.logged != (j.ConversationID != nil && j.MessageID != nil) {
					t.Fatalf("ids %v %v, logged %v", j.ConversationID, j.MessageID, tt.logged)
				}
				reply = j.Reply
			} else if strings.HasPrefix(reply, "{") {
				t.Fatalf("JSON without --json: %q", out)
			}
			if reply == "" {
				t.Fatal("empty reply")
			}
			convs := storedConversations(t, home)
			if !tt.logged {
				if len(convs) != 0 {
					t.Fatalf("--no-log stored %d conversations", len(convs))
				}
				return
			}
			if len(convs) != 1 || len(convs[0].Messages) != 2 {
				t.Fatalf("stored %d conversations", len(convs))
			}
			ms := convs[0].Messages
			want := strings.TrimSpace(tt.stdin)
			if tt.stdin == "" {
				want = tt.args[len(tt.args)-1]
				for i, x := range tt.args {
					if x == "-p" {
						want = tt.args[i+1]
					}
				}
			}
			if strings.TrimSpace(ms[0].Content) != want || ms[1].Content != reply || ms[1].ParentID != ms[0].ID ||
				ms[1].Status != feedback.StatusComplete || ms[1].CompletionTokens == 0 {
				t.Fatalf("stored %+v", ms)
			}
		})
	}
}

func TestOneShotContinue(t *testing.T) {
	home := t.TempDir()
	args := storiesArgs(t)
	if _, e, code := chatRun(t, home, "", append([]string{"-p", "Once"}, args...)...); code != 0 {
		t.Fatal(e)
	}
	if _, e, code := chatRun(t, home, "", append([]string{"-c", "-p", "And then?"}, args...)...); code != 0 {
		t.Fatal(e)
	}
	convs := storedConversations(t, home)
	if len(convs) != 1 || len(convs[0].Messages) != 4 {
		t.Fatalf("-c did not continue: %d conversations", len(convs))
	}
	if m := convs[0].Messages[2]; m.Content != "And then?" || m.ParentID != convs[0].Messages[1].ID {
		t.Fatalf("continued message %+v", m)
	}
}

// With no -m and an empty registry, the embedded default model is
// installed as policy version 1, promoted, and answers.
func TestOneShotDefaultModel(t *testing.T) {
	home := t.TempDir()
	out, errs, code := chatRun(t, home, "", "-p", "안녕하세요", "--max-tokens", "8")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if strings.TrimSpace(out) == "" {
		t.Fatal("empty reply from the default model")
	}
	st, err := feedback.Open(context.Background(), filepath.Join(home, "hone.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := st.ActivePolicy(context.Background())
	if err != nil {
		t.Fatalf("no active policy after first run: %v", err)
	}
	if p.Version != 1 || p.Name != "default" {
		t.Fatalf("active policy %+v, want default v1", p)
	}
	if _, err := os.Stat(p.Path); err != nil {
		t.Fatalf("policy file: %v", err)
	}
	// A second run reuses it rather than installing another.
	if _, errs, code := chatRun(t, home, "", "-p", "hello", "--max-tokens", "4"); code != 0 {
		t.Fatalf("second run: exit %d: %s", code, errs)
	}
	if all, _ := st.Policies(context.Background()); len(all) != 1 {
		t.Fatalf("%d policies after two runs, want 1", len(all))
	}
}

func TestChatErrors(t *testing.T) {
	home := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"missing file", []string{"-p", "hi", "-m", filepath.Join(home, "nope.gguf")}, exitError, "nope.gguf"},
		{"bad flag", []string{"-p", "hi", "--temperature", "hot"}, exitUsage, "temperature"},
		{"unknown flag", []string{"--frobnicate"}, exitUsage, "frobnicate"},
		{"empty prompt", []string{"-p", "  "}, exitUsage, "empty"},
		{"continue nothing", append([]string{"-c", "-p", "hi"}, storiesArgs(t)...), exitNothing, "no conversation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs, code := chatRun(t, home, "", tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.msg) {
				t.Fatalf("exit %d %q, want %d containing %q", code, errs, tt.code, tt.msg)
			}
		})
	}
}

// The chat runs on the active policy when no -m is given, and -m takes a
// registered NAME@VERSION.
func TestChatUsesPolicyRegistry(t *testing.T) {
	home := t.TempDir()
	ctx := context.Background()
	st, err := feedback.Open(ctx, filepath.Join(home, "hone.db"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.CreatePolicy(ctx, feedback.Policy{Name: "stories", Path: fixtures.Path(t, "stories260k", "stories260K.bin")})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Promote(ctx, p.Version); err != nil {
		t.Fatal(err)
	}
	st.Close()
	common := []string{"--tokenizer", fixtures.Path(t, "stories260k", "tok512.bin"), "--template", "plain", "--max-tokens", "8"}
	for _, m := range [][]string{nil, {"-m", "stories"}, {"-m", "stories@1"}} {
		_, errs, code := chatRun(t, home, "", append(append([]string{"-p", "Hi"}, m...), common...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", m, code, errs)
		}
	}
	convs := storedConversations(t, home)
	if len(convs) != 3 || convs[0].Messages[1].PolicyVersion != p.Version || convs[0].Messages[1].Model != "stories" {
		t.Fatalf("replies not attributed to policy v%d: %+v", p.Version, convs[0].Messages[1])
	}
	if _, errs, code := chatRun(t, home, "", append([]string{"-p", "Hi", "-m", "stories@9"}, common...)...); code != exitError || !strings.Contains(errs, "stories@9") {
		t.Fatalf("unknown version: exit %d %q", code, errs)
	}
}
