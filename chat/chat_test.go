package chat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hone-ai/hone/feedback"
	"github.com/hone-ai/hone/model"
	"github.com/hone-ai/hone/model/fixtures"
)

func TestSanitize(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "hello\tworld\n안녕", "hello\tworld\n안녕"},
		{"csi", "\x1b[31mred\x1b[0m", "␛[31mred␛[0m"},
		{"osc title", "\x1b]0;pwned\x07x", "␛]0;pwned␇x"},
		{"osc52 clipboard", "\x1b]52;c;ZXZpbA==\x1b\\", "␛]52;c;ZXZpbA==␛\\"},
		{"dcs", "\x1bP1$r\x1b\\", "␛P1$r␛\\"},
		{"c1 csi", "a\u009b31mb", `a\u009b31mb`},
		{"c1 osc", "\u009d0;t\u009c", `\u009d0;t\u009c`},
		{"cr and bs", "abc\rdef\b", "abc␍def␈"},
		{"del nul", "a\x7fb\x00", "a␡b␀"},
		{"bidi", "x\u202eevil", "x<U+202E>evil"},
		{"invalid utf8", "a\xffb", "a\ufffdb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Sanitize(tt.in)
			if got != tt.want {
				t.Errorf("Sanitize(%q) = %q, want %q", tt.in, got, tt.want)
			}
			for _, r := range got {
				if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
					t.Errorf("control %U left in %q", r, got)
				}
			}
		})
	}
}

func add(t *testing.T, c *Conversation, parent int64, role, text string) *Message {
	t.Helper()
	m := &Message{ID: c.LocalID(), ParentID: parent, Role: role, Content: text}
	if err := c.Add(m); err != nil {
		t.Fatal(err)
	}
	return m
}

func contents(ms []*Message) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.Content)
	}
	return strings.Join(s, ",")
}

func TestTreeBranches(t *testing.T) {
	c := NewConversation(0, "", "")
	u1 := add(t, c, 0, RoleUser, "u1")
	a1 := add(t, c, u1.ID, RoleAssistant, "a1")
	u2 := add(t, c, a1.ID, RoleUser, "u2")
	a2 := add(t, c, u2.ID, RoleAssistant, "a2")
	a2b := add(t, c, u2.ID, RoleAssistant, "a2b") // regenerate: a sibling
	if got := contents(c.Path()); got != "u1,a1,u2,a2b" {
		t.Fatalf("path after regenerate = %s", got)
	}
	sib, i := c.Siblings(a2b.ID)
	if len(sib) != 2 || i != 1 {
		t.Fatalf("siblings = %d, index %d", len(sib), i)
	}
	if m, err := c.Cycle(a2b.ID, -1); err != nil || m.ID != a2.ID {
		t.Fatalf("cycle back = %v, %v", m, err)
	}
	if got := contents(c.Path()); got != "u1,a1,u2,a2" {
		t.Fatalf("path after cycle = %s", got)
	}
	if m, _ := c.Cycle(a2.ID, -1); m.ID != a2b.ID {
		t.Fatalf("cycle wraps to %s", m.Content)
	}
	// Edit u2: a new branch under a1; the old branch stays reachable.
	u2e := add(t, c, a1.ID, RoleUser, "u2 edited")
	a3 := add(t, c, u2e.ID, RoleAssistant, "a3")
	if got := contents(c.Path()); got != "u1,a1,u2 edited,a3" {
		t.Fatalf("path after edit = %s", got)
	}
	if err := c.Select(a2.ID); err != nil {
		t.Fatal(err)
	}
	if got := contents(c.Path()); got != "u1,a1,u2,a2" {
		t.Fatalf("path after select = %s", got)
	}
	if got := contents(c.PathTo(a3.ID)); got != "u1,a1,u2 edited,a3" {
		t.Fatalf("PathTo = %s", got)
	}
	// Edit the first message: a new root.
	r2 := add(t, c, 0, RoleUser, "first again")
	if got := contents(c.Path()); got != "first again" {
		t.Fatalf("path after root edit = %s", got)
	}
	if sib, _ := c.Siblings(r2.ID); len(sib) != 2 {
		t.Fatalf("roots = %d", len(sib))
	}
	c.Remove(u2.ID)
	if _, ok := c.Get(a2b.ID); ok {
		t.Fatal("Remove left a descendant")
	}
	if err := c.Add(&Message{ID: 999, ParentID: 12345, Role: RoleUser}); err == nil {
		t.Fatal("Add with a missing parent succeeded")
	}
	if err := c.Add(&Message{ID: u1.ID, Role: RoleUser}); err == nil {
		t.Fatal("Add with a duplicate id succeeded")
	}
}

func TestSamplingSet(t *testing.T) {
	tests := []struct {
		name, value string
		ok          bool
	}{
		{"temperature", "0.7", true}, {"top_p", "0.9", true}, {"top-k", "20", true}, {"min_p", "0.1", true},
		{"repeat_penalty", "1.2", true}, {"seed", "42", true}, {"max_tokens", "64", true},
		{"temperature", "hot", false}, {"top_p", "2", false}, {"max_tokens", "0", false}, {"seed", "-1", false},
		{"colour", "1", false},
	}
	for _, tt := range tests {
		s := DefaultSampling()
		err := s.Set(tt.name, tt.value)
		if (err == nil) != tt.ok {
			t.Errorf("Set(%s, %s) err = %v, want ok %v", tt.name, tt.value, err, tt.ok)
		}
	}
	s := DefaultSampling()
	_ = s.Set("temperature", "0.7")
	_ = s.Set("top-k", "20")
	_ = s.Set("seed", "42")
	if s.Temperature != 0.7 || s.TopK != 20 || s.Seed != 42 {
		t.Errorf("settings not applied: %s", s)
	}
}

// stories loads the stories260K fixture (a real pretrained model) with the
// plain template.
func stories(t testing.TB, ctxLen int) *ModelEngine {
	t.Helper()
	m, err := model.Load(fixtures.Path(t, "stories260k", "stories260K.bin"), model.LoadOptions{
		Tokenizer: fixtures.Path(t, "stories260k", "tok512.bin"), Template: "plain", ContextLen: ctxLen})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return FromModel(m, "stories260K")
}

func TestFitPromptDropsOldestTurns(t *testing.T) {
	e := stories(t, 96)
	c := NewConversation(0, "", "")
	parent := int64(0)
	for i := 0; i < 6; i++ {
		u := add(t, c, parent, RoleUser, "Tell me about the little cat and the big dog number "+string(rune('A'+i)))
		a := add(t, c, u.ID, RoleAssistant, "Once upon a time there was a cat who liked to play with a dog.")
		parent = a.ID
	}
	last := add(t, c, parent, RoleUser, "And then?")
	const system = "You tell stories."
	toks, dropped, err := FitPrompt(e, system, c.Path(), 16)
	if err != nil {
		t.Fatal(err)
	}
	if dropped == 0 {
		t.Fatal("nothing dropped although the history is longer than the window")
	}
	if len(toks)+16 > 96 {
		t.Fatalf("prompt %d tokens + 16 reserved > 96", len(toks))
	}
	text := e.M.Tok.Decode(toks)
	if !strings.Contains(text, system) || !strings.Contains(text, last.Content) {
		t.Fatalf("system prompt or last message lost: %q", text)
	}
	if strings.Contains(text, "number A") {
		t.Fatalf("the oldest turn was kept: %q", text)
	}
	if !strings.HasPrefix(strings.TrimPrefix(text, system), "\n\nUser:") && !strings.Contains(text, system+"\n\nUser:") {
		t.Fatalf("kept history does not start at a user turn: %q", text)
	}
	// A single message longer than the window cannot fit.
	huge := NewConversation(0, "", "")
	add(t, huge, 0, RoleUser, strings.Repeat("story ", 200))
	if _, _, err := FitPrompt(e, "", huge.Path(), 16); !errors.Is(err, ErrPromptTooLong) {
		t.Fatalf("err = %v, want ErrPromptTooLong", err)
	}
}

func openStore(t *testing.T) *feedback.Store {
	t.Helper()
	st, err := feedback.Open(context.Background(), filepath.Join(t.TempDir(), "hone.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestSessionStoresRepliesRatingsAndPairs(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	s := NewSession(stories(t, 0), st, "Be kind.")
	s.Sampling.MaxTokens, s.Sampling.Seed = 24, 7
	u, err := s.AddUser(ctx, 0, "안녕하세요, tell me a story")
	if err != nil {
		t.Fatal(err)
	}
	var streamed strings.Builder
	a1, err := s.Reply(ctx, u.ID, func(p string) { streamed.WriteString(p) })
	if err != nil {
		t.Fatal(err)
	}
	if a1.Content == "" || strings.TrimSpace(streamed.String()) != a1.Content {
		t.Fatalf("streamed %q, stored %q", streamed.String(), a1.Content)
	}
	if a1.Stats.Tokens == 0 || a1.Stats.TTFT <= 0 || a1.Stats.PromptTokens == 0 {
		t.Fatalf("stats not measured: %+v", a1.Stats)
	}
	s.Sampling.Seed = 8
	a2, err := s.Reply(ctx, u.ID, nil) // regenerate: a sibling
	if err != nil {
		t.Fatal(err)
	}
	if sib, _ := s.Conv.Siblings(a2.ID); len(sib) != 2 {
		t.Fatalf("regenerated reply has %d siblings", len(sib))
	}
	if v, err := s.Rate(ctx, a1.ID, -1); err != nil || v != -1 {
		t.Fatalf("rate down = %d, %v", v, err)
	}
	if err := s.Annotate(ctx, a1.ID, "nonsense", "not a story"); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Rate(ctx, a2.ID, 1); v != 1 {
		t.Fatal("rate up failed")
	}
	pairs, err := st.Pairs(ctx, feedback.Window{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 1 || pairs[0].ChosenID != a2.ID || pairs[0].RejectedID != a1.ID {
		t.Fatalf("derived pairs = %+v", pairs)
	}
	// Rating again with the same value clears it: the pair goes away.
	if v, _ := s.Rate(ctx, a2.ID, 1); v != 0 {
		t.Fatal("second 👍 did not clear")
	}
	if pairs, _ := st.Pairs(ctx, feedback.Window{}); len(pairs) != 0 {
		t.Fatalf("pair survived clearing: %+v", pairs)
	}
	if err := s.Choose(ctx, a2.ID, a1.ID); err != nil {
		t.Fatal(err)
	}
	// Load it back: same tree, the chosen branch, the rating with reason.
	l, err := Load(ctx, st, nil, s.Conv.ID, DefaultRater)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := contents(l.Conv.Path()), contents(s.Conv.Path()); got != want {
		t.Fatalf("loaded path %q, want %q", got, want)
	}
	if l.Conv.System != "Be kind." {
		t.Fatalf("system prompt %q", l.Conv.System)
	}
	m, _ := l.Conv.Get(a1.ID)
	if m.Rating != -1 || m.Reason != "nonsense" || m.Comment != "not a story" {
		t.Fatalf("loaded rating %+v", m)
	}
	var md, js bytes.Buffer
	if err := ExportMarkdown(&md, l.Conv); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "안녕하세요") || !strings.Contains(md.String(), "## You") {
		t.Fatalf("markdown export: %s", md.String())
	}
	if err := ExportJSON(&js, l.Conv); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Messages []struct {
			ID     int64 `json:"id"`
			Rating int   `json:"rating"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Messages) != 3 {
		t.Fatalf("json export: %v %s", err, js.String())
	}
}

func TestReplyCancelledIsKeptStopped(t *testing.T) {
	st := openStore(t)
	s := NewSession(stories(t, 0), st, "")
	s.Sampling.MaxTokens = 400
	ctx := context.Background()
	u, err := s.AddUser(ctx, 0, "Once")
	if err != nil {
		t.Fatal(err)
	}
	gctx, cancel := context.WithCancel(ctx)
	n := 0
	m, err := s.Reply(gctx, u.ID, func(string) {
		n++
		if n == 3 {
			cancel()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Stopped || m.Stats.StopReason != "cancelled" || m.Content == "" {
		t.Fatalf("stopped reply = %+v", m)
	}
	got, err := st.Message(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != feedback.StatusStopped || got.Content != m.Content {
		t.Fatalf("stored %q %q, want stopped %q", got.Status, got.Content, m.Content)
	}
}

func TestNoLogSessionStoresNothing(t *testing.T) {
	s := NewSession(stories(t, 0), nil, "")
	s.Sampling.MaxTokens = 8
	ctx := context.Background()
	u, err := s.AddUser(ctx, 0, "Hi")
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Reply(ctx, u.ID, nil)
	if err != nil || m.ID == 0 || m.ID == u.ID {
		t.Fatalf("local reply %+v, %v", m, err)
	}
	if _, err := s.Rate(ctx, m.ID, 1); err != nil {
		t.Fatal(err)
	}
}

func TestBuildQueue(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	s := NewSession(stories(t, 0), st, "sys")
	s.Sampling.MaxTokens = 8
	u, _ := s.AddUser(ctx, 0, "Once")
	a1, err := s.Reply(ctx, u.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := s.Reply(ctx, u.ID, nil)
	a3, _ := s.Reply(ctx, u.ID, nil)
	if _, err := s.Rate(ctx, a1.ID, 1); err != nil {
		t.Fatal(err)
	}
	q, err := BuildQueue(ctx, st, s.Rater)
	if err != nil {
		t.Fatal(err)
	}
	// a2 and a3 unrated; pairs (a1,a2) and (a2,a3).
	var singles, pairs []string
	for _, it := range q {
		if it.IsPair() {
			pairs = append(pairs, fmt.Sprint(it.A.ID, "-", it.B.ID))
		} else {
			singles = append(singles, fmt.Sprint(it.A.ID))
		}
		if len(it.Context) != 2 || it.Context[0].Role != RoleSystem || it.Context[1].Content != "Once" {
			t.Fatalf("context %+v", it.Context)
		}
	}
	want := fmt.Sprint([]string{fmt.Sprint(a2.ID), fmt.Sprint(a3.ID)}, []string{fmt.Sprint(a1.ID, "-", a2.ID), fmt.Sprint(a2.ID, "-", a3.ID)})
	if got := fmt.Sprint(singles, pairs); got != want {
		t.Fatalf("queue %s, want %s", got, want)
	}
	// 👎 on a2 makes (a1,a2) a derived pair; comparing a2/a3 settles the other.
	if _, err := s.Rate(ctx, a2.ID, -1); err != nil {
		t.Fatal(err)
	}
	if err := s.Choose(ctx, a3.ID, a2.ID); err != nil {
		t.Fatal(err)
	}
	q, _ = BuildQueue(ctx, st, s.Rater)
	if len(q) != 1 || q[0].IsPair() || q[0].A.ID != a3.ID {
		t.Fatalf("queue after judging: %+v", q)
	}
	// Another rater sees everything.
	if q, _ := BuildQueue(ctx, st, "someone else"); len(q) != 5 {
		t.Fatalf("other rater's queue has %d items", len(q))
	}
}
