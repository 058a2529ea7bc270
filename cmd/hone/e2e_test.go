package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/hone-ai/hone/feedback"
	"github.com/hone-ai/hone/model/fixtures"
)

// buildHone builds the real binary once per test.
func buildHone(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hone")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// ptyOutput collects everything the program writes to the terminal.
type ptyOutput struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (o *ptyOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *ptyOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool, out *ptyOutput) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s := out.String()
	if len(s) > 3000 {
		s = s[len(s)-3000:]
	}
	t.Fatalf("timed out waiting for %s; terminal tail: %q", what, s)
}

// snapshot reads what the store holds, through the feedback API.
type snapshot struct {
	users, replies []feedback.Message
	ratings        []feedback.Rating
	complete       int
}

func readStore(t *testing.T, db string) snapshot {
	t.Helper()
	ctx := context.Background()
	var s snapshot
	if _, err := os.Stat(db); err != nil {
		return s
	}
	st, err := feedback.Open(ctx, db)
	if err != nil {
		return s // busy: try again
	}
	defer st.Close()
	cs, err := st.ListConversations(ctx, 10, 0)
	if err != nil {
		return s
	}
	for _, c := range cs {
		tr, err := st.Conversation(ctx, c.ID)
		if err != nil {
			return snapshot{}
		}
		for _, m := range tr.Messages {
			if m.Role == feedback.RoleUser {
				s.users = append(s.users, m)
			} else {
				s.replies = append(s.replies, m)
				if m.Status == feedback.StatusComplete {
					s.complete++
				}
			}
		}
		s.ratings = append(s.ratings, tr.Ratings...)
	}
	return s
}

// TestEndToEndPTY drives the real binary in a pseudo-terminal: one Korean
// and one English message with streamed replies, a 👎 with a reason, a
// regeneration rated 👍, then ctrl+c; the store must then hold exactly
// those messages, ratings and the pair derived from them.
func TestEndToEndPTY(t *testing.T) {
	modelPath := fixtures.Path(t, "stories260k", "stories260K.bin")
	tok := fixtures.Path(t, "stories260k", "tok512.bin")
	bin := buildHone(t)
	home := t.TempDir()
	db := filepath.Join(home, "hone.db")
	cmd := exec.Command(bin, "--home", home, "-m", modelPath, "--tokenizer", tok, "--template", "plain",
		"--max-tokens", "32", "--seed", "11")
	cmd.Env = []string{"HOME=" + home, "TERM=xterm-256color", "USER=tester", "PATH=" + os.Getenv("PATH")}
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := &ptyOutput{}
	go io.Copy(out, f)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	}()
	send := func(s string) {
		t.Helper()
		if _, err := f.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond)
	}
	typeLine := func(s string) {
		for _, r := range s {
			send(string(r))
		}
		send("\r")
	}
	waitFor(t, "the first frame", 10*time.Second, func() bool { return strings.Contains(out.String(), "Message hone") }, out)

	const korean = "안녕하세요 이야기 해 줘"
	const english = "Tell me a story about a cat"
	typeLine(korean)
	waitFor(t, "the Korean reply", 30*time.Second, func() bool { return readStore(t, db).complete == 1 }, out)
	typeLine(english)
	waitFor(t, "the English reply", 30*time.Second, func() bool { return readStore(t, db).complete == 2 }, out)
	s := readStore(t, db)
	for _, r := range s.replies {
		// The reply was drawn on the terminal (streamed, then rendered).
		// The renderer writes only changed cells, so a word may be split
		// between frames; one whole word of the reply is enough.
		shown := false
		for _, w := range strings.Fields(r.Content) {
			w = strings.Trim(w, `"'.,!?`)
			if len(w) >= 3 && strings.Contains(out.String(), w) {
				shown = true
				break
			}
		}
		if !shown {
			t.Errorf("reply %q never appeared on the terminal", r.Content)
		}
	}

	// Tab to the transcript (the last reply is selected), 👎, reason 1 ("wrong"), no comment.
	send("\t")
	send("-")
	send("1")
	send("\r")
	waitFor(t, "the 👎 with its reason", 10*time.Second, func() bool {
		s := readStore(t, db)
		return len(s.ratings) == 1 && s.ratings[0].Value == -1 && s.ratings[0].Reason == "wrong"
	}, out)
	// r regenerates the selected reply; the new sibling is selected; 👍, skip the reason.
	send("r")
	waitFor(t, "the regenerated reply", 30*time.Second, func() bool { return readStore(t, db).complete == 3 }, out)
	send("+")
	send("\x1b")
	time.Sleep(300 * time.Millisecond)
	waitFor(t, "the 👍", 10*time.Second, func() bool { return len(readStore(t, db).ratings) == 2 }, out)
	send("\x03") // ctrl+c: quit when idle
	select {
	case err := <-done:
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("hone exited %d", ee.ExitCode())
			}
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ctrl+c did not quit")
	}

	// Exactly those messages, ratings and the derived pair.
	s = readStore(t, db)
	if len(s.users) != 2 || s.users[0].Content != korean || s.users[1].Content != english {
		t.Fatalf("user messages %+v", s.users)
	}
	if len(s.replies) != 3 || s.complete != 3 {
		t.Fatalf("replies %+v", s.replies)
	}
	first, regen := s.replies[1], s.replies[2]
	if s.replies[0].ParentID != s.users[0].ID || first.ParentID != s.users[1].ID || regen.ParentID != s.users[1].ID {
		t.Fatalf("tree shape wrong: %+v", s.replies)
	}
	if len(s.ratings) != 2 {
		t.Fatalf("ratings %+v", s.ratings)
	}
	got := map[int64]feedback.Rating{}
	for _, r := range s.ratings {
		got[r.MessageID] = r
	}
	if r := got[first.ID]; r.Value != -1 || r.Reason != "wrong" || r.Rater != "tester" {
		t.Fatalf("👎 %+v", r)
	}
	if r := got[regen.ID]; r.Value != 1 || r.Rater != "tester" {
		t.Fatalf("👍 %+v", r)
	}
	st, err := feedback.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pairs, err := st.Pairs(context.Background(), feedback.Window{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 1 || pairs[0].ChosenID != regen.ID || pairs[0].RejectedID != first.ID || pairs[0].ComparisonID != 0 {
		t.Fatalf("pairs %+v", pairs)
	}
	if p := pairs[0].Prompt; len(p) == 0 || p[len(p)-1].Content != english {
		t.Fatalf("pair prompt %+v", p)
	}
}

// BenchmarkBinaryFirstFrame is the real binary's start-up to its first
// frame in a terminal (stories260K loaded, store opened); the baseline,
// BenchmarkBinaryHelp, is the same binary starting and printing its usage.
func BenchmarkBinaryFirstFrame(b *testing.B) {
	modelPath := fixtures.Path(b, "stories260k", "stories260K.bin")
	tok := fixtures.Path(b, "stories260k", "tok512.bin")
	bin := buildHone(b)
	home := b.TempDir()
	for b.Loop() {
		cmd := exec.Command(bin, "--home", home, "-m", modelPath, "--tokenizer", tok, "--template", "plain")
		cmd.Env = []string{"HOME=" + home, "TERM=xterm-256color", "USER=bench"}
		f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 64<<10)
		var seen strings.Builder
		for !strings.Contains(seen.String(), "Message hone") {
			n, err := f.Read(buf)
			if err != nil {
				b.Fatalf("no first frame: %v", err)
			}
			seen.Write(buf[:n])
		}
		b.StopTimer()
		f.Write([]byte{3}) // ctrl+c
		go io.Copy(io.Discard, f)
		cmd.Wait()
		f.Close()
		b.StartTimer()
	}
}

func BenchmarkBinaryHelp(b *testing.B) {
	bin := buildHone(b)
	for b.Loop() {
		if out, err := exec.Command(bin, "help").CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
	}
}

// TestOneShotStreamsToTerminal runs `hone -p` with stdout on a terminal:
// the reply is streamed as text (no JSON, no escape sequences of its own).
func TestOneShotStreamsToTerminal(t *testing.T) {
	modelPath := fixtures.Path(t, "stories260k", "stories260K.bin")
	tok := fixtures.Path(t, "stories260k", "tok512.bin")
	bin := buildHone(t)
	home := t.TempDir()
	cmd := exec.Command(bin, "--home", home, "-m", modelPath, "--tokenizer", tok, "--template", "plain",
		"--max-tokens", "40", "--seed", "2", "-p", "Tell me a story")
	cmd.Env = []string{"HOME=" + home, "TERM=xterm-256color", "USER=tester"}
	f, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := f.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("hone -p: %v: %q", err, out.String())
	}
	s := strings.TrimSpace(out.String())
	if s == "" || strings.HasPrefix(s, "{") || strings.Contains(s, "\x1b") {
		t.Fatalf("terminal output %q", s)
	}
	convs := storedConversations(t, home)
	if len(convs) != 1 || len(convs[0].Messages) != 2 {
		t.Fatal("one-shot on a terminal not logged")
	}
	if want := strings.ReplaceAll(convs[0].Messages[1].Content, "\n", "\r\n"); !strings.Contains(s, strings.TrimSpace(want)) {
		t.Fatalf("printed %q, stored %q", s, convs[0].Messages[1].Content)
	}
}
