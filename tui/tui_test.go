package tui

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/hone-ai/hone/chat"
	"github.com/hone-ai/hone/feedback"
	"github.com/hone-ai/hone/model"
	"github.com/hone-ai/hone/model/fixtures"
	"github.com/hone-ai/hone/model/ggml"
)

// updating reports whether -update was given: rewrite the golden files.
// The flag is registered by charmbracelet/x/exp/golden (through teatest),
// which this package's tests import, so `go test ./tui -update` works.
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// tinyEngine is a real (random-weight) model: the views only need its
// name and context window.
func tinyEngine(t testing.TB) chat.Engine {
	t.Helper()
	m, err := model.NewRandom(model.Config{Arch: "llama", Dim: 16, HiddenDim: 32, NLayers: 1, NHeads: 2, NKVHeads: 2,
		VocabSize: 32, ContextLen: 512}, ggml.F32, 1)
	if err != nil {
		t.Fatal(err)
	}
	return chat.FromModel(m, "tiny")
}

func storiesEngine(t testing.TB) chat.Engine {
	t.Helper()
	m, err := model.Load(fixtures.Path(t, "stories260k", "stories260K.bin"), model.LoadOptions{
		Tokenizer: fixtures.Path(t, "stories260k", "tok512.bin"), Template: "plain"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return chat.FromModel(m, "stories260K")
}

func newTestModel(t testing.TB, e chat.Engine, st chat.Store, w, h int) *Model {
	t.Helper()
	s := chat.NewSession(e, st, "")
	opts := Options{Session: s, Dark: true}
	if hs, ok := st.(History); ok {
		opts.History = hs
	}
	m := New(opts)
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return m
}

// addMsg puts a finished message in the conversation without a model.
func addMsg(t testing.TB, m *Model, parent int64, role, text string) *chat.Message {
	t.Helper()
	c := m.sess.Conv
	msg := &chat.Message{ID: c.LocalID(), ParentID: parent, Role: role, Content: text, Model: "tiny",
		Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := c.Add(msg); err != nil {
		t.Fatal(err)
	}
	if c.Title == "" {
		c.Title = text
	}
	m.dirty = true
	return msg
}

// press sends keys and runs the commands they return, feeding their
// messages back (commands that do not answer within 100ms, such as
// cursor blinks or a stream, are dropped).
func press(m *Model, keys ...string) {
	for _, k := range keys {
		_, cmd := m.Update(keyMsg(k))
		run(m, cmd)
	}
}

func run(m *Model, cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	ch := make(chan tea.Msg, 1)
	go func() { ch <- cmd() }()
	select {
	case msg := <-ch:
		switch msg := msg.(type) {
		case nil:
		case tea.BatchMsg:
			for _, c := range msg {
				run(m, c)
			}
		case streamMsg:
		default:
			_, next := m.Update(msg)
			run(m, next)
		}
	case <-time.After(100 * time.Millisecond):
	}
}

// keyMsg builds the key event a terminal would send for k.
func keyMsg(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "left":
		return tea.KeyPressMsg{Code: tea.KeyLeft}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "shift+enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter, Mod: tea.ModShift}
	case "ctrl+j":
		return tea.KeyPressMsg{Code: 'j', Mod: tea.ModCtrl}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	case "ctrl+s":
		return tea.KeyPressMsg{Code: 's', Mod: tea.ModCtrl}
	}
	r := []rune(k)
	return tea.KeyPressMsg{Code: r[0], Text: k}
}

func typeText(m *Model, s string) {
	for _, r := range s {
		m.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

// screen is the view as plain text (styles stripped, trailing spaces
// trimmed) plus the real cursor position.
func screen(v tea.View) string {
	lines := strings.Split(ansi.Strip(v.Content), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	cur := "cursor: hidden"
	if v.Cursor != nil {
		cur = fmt.Sprintf("cursor: x=%d y=%d", v.Cursor.X, v.Cursor.Y)
	}
	return strings.Join(lines, "\n") + "\n--\n" + cur + "\n"
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if updating() {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./tui -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from %s (go test ./tui -update rewrites it):\n--- got ---\n%s\n--- want ---\n%s", name, p, got, want)
	}
}

// checkSize asserts every line fits the terminal and there are exactly h.
func checkSize(t *testing.T, v tea.View, w, h int) {
	t.Helper()
	lines := strings.Split(v.Content, "\n")
	if len(lines) != h {
		t.Errorf("view has %d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if lw := ansi.StringWidth(l); lw > w {
			t.Errorf("line %d is %d cells wide (> %d): %q", i, lw, w, ansi.Strip(l))
		}
	}
}

func englishConversation(t testing.TB, m *Model) (u, a1, a2 *chat.Message) {
	u = addMsg(t, m, 0, chat.RoleUser, "Write a haiku about rain.")
	a1 = addMsg(t, m, u.ID, chat.RoleAssistant, "Rain on the tin roof —\nthe **kettle** hums along,\n`tea` for two, then one.")
	a2 = addMsg(t, m, u.ID, chat.RoleAssistant, "Grey clouds gather slow\n\n- drops\n- puddles\n- *quiet*")
	return
}

func TestGoldenEmpty80x24(t *testing.T) {
	m := newTestModel(t, tinyEngine(t), nil, 80, 24)
	v := m.View()
	checkSize(t, v, 80, 24)
	golden(t, "empty_80x24", screen(v))
}

func TestGoldenConversation80x24(t *testing.T) {
	m := newTestModel(t, tinyEngine(t), nil, 80, 24)
	_, a1, a2 := englishConversation(t, m)
	if _, err := m.sess.Rate(context.Background(), a2.ID, 1); err != nil {
		t.Fatal(err)
	}
	_ = a1
	press(m, "tab")
	v := m.View()
	checkSize(t, v, 80, 24)
	golden(t, "conversation_80x24", screen(v))
	// ← shows the first reply: "1/2", unrated.
	press(m, "left")
	v = m.View()
	golden(t, "conversation_sibling_80x24", screen(v))
}

func TestGoldenKorean80x24(t *testing.T) {
	m := newTestModel(t, tinyEngine(t), nil, 80, 24)
	u := addMsg(t, m, 0, chat.RoleUser, "안녕하세요! 오늘 서울 날씨는 어때요? 우산을 가져가야 할까요? 아주 긴 문장으로 줄 바꿈이 어떻게 되는지도 보여 주세요.")
	addMsg(t, m, u.ID, chat.RoleAssistant, "오늘 서울은 **흐리고 비**가 올 예정이에요.\n\n- 우산을 챙기세요 ☔\n- 기온: 12–15°C\n\n표 정렬과 넓은 글자가 셀 단위로 맞는지 확인합니다. 한국어 문장이 길어지면 터미널 폭에 맞춰 줄이 바뀌어야 합니다.")
	typeText(m, "고마워요 한글")
	v := m.View()
	checkSize(t, v, 80, 24)
	golden(t, "korean_80x24", screen(v))
	if v.Cursor == nil {
		t.Fatal("no real cursor in the input")
	}
	// "› " is 2 cells, then 7 characters: 6 wide Hangul (2 cells each) and a space.
	if want := 2 + 6*2 + 1; v.Cursor.X != want {
		t.Errorf("cursor x = %d, want %d (cells, not runes)", v.Cursor.X, want)
	}
}

func TestGoldenHelp80x24(t *testing.T) {
	m := newTestModel(t, tinyEngine(t), nil, 80, 24)
	press(m, "?")
	if m.overlay == nil {
		t.Fatal("? on an empty input did not open the help")
	}
	v := m.View()
	checkSize(t, v, 80, 24)
	golden(t, "help_80x24", screen(v))
	// Every key the transcript handles is listed.
	s := screen(v)
	for _, k := range []string{"enter", "shift+enter", "ctrl+o", "esc", "ctrl+c", "tab", "+  -", "r ", "e ", "c ", "y ",
		"ctrl+s", "/system", "/set", "/model", "/new", "/help", "ctrl+r", "ctrl+d"} {
		if !strings.Contains(s, k) {
			t.Errorf("help does not list %q", k)
		}
	}
	press(m, "q")
	if m.overlay != nil {
		t.Fatal("help did not close")
	}
	// ? typed into a non-empty message is text.
	typeText(m, "why?")
	if m.overlay != nil || m.input.Value() != "why?" {
		t.Fatalf("? in a message: overlay %v, input %q", m.overlay, m.input.Value())
	}
}

func TestGoldenStreamingAndDialogs(t *testing.T) {
	m := newTestModel(t, tinyEngine(t), nil, 80, 24)
	u := addMsg(t, m, 0, chat.RoleUser, "Tell me a story")
	// A reply being streamed: pieces arrive as messages.
	ch := make(chan streamEvent, 8)
	m.live = &live{ch: ch, cancel: func() {}, parentID: u.ID, start: time.Now()}
	m.Update(streamMsg{ch: ch, pieces: []string{"Once upon", " a time, ", "there was a **cat**"}})
	v := m.View()
	checkSize(t, v, 80, 24)
	s := screen(v)
	s = s[:strings.LastIndex(s, "tiny ·")] // the status line holds timings
	golden(t, "streaming_80x24", s)
	// The reply finishes: committed to the tree, rendered with glamour.
	done := &chat.Message{ID: m.sess.Conv.LocalID(), ParentID: u.ID, Role: chat.RoleAssistant, Model: "tiny",
		Content: "Once upon a time, there was a **cat**", Stats: chat.Stats{Tokens: 9, PromptTokens: 5}}
	m.Update(streamMsg{ch: ch, done: &streamEvent{done: true, msg: done}})
	if m.live != nil || m.sess.Conv.Leaf().ID != done.ID {
		t.Fatal("finished reply not committed")
	}
	press(m, "tab", "-")
	if _, ok := m.overlay.(*reasonDialog); !ok {
		t.Fatalf("- did not open the reason dialog: %T", m.overlay)
	}
	v = m.View()
	checkSize(t, v, 80, 24)
	golden(t, "reason_80x24", screen(v))
	press(m, "down", "enter")
	typeText(m, "no plot")
	v = m.View()
	golden(t, "comment_80x24", screen(v))
	press(m, "enter")
	if m.overlay != nil {
		t.Fatal("dialog still open")
	}
	// The dialog's answer arrives as a message (the command's result).
	if done.Rating != -1 {
		t.Fatalf("rating %d", done.Rating)
	}
}

func TestReasonDialogStoresReason(t *testing.T) {
	m := newTestModel(t, tinyEngine(t), nil, 80, 24)
	_, _, a2 := englishConversation(t, m)
	press(m, "tab", "-")
	press(m, "2", "x", "enter")
	if a2.Rating != -1 || a2.Reason != "unhelpful" || a2.Comment != "x" {
		t.Fatalf("rating %d reason %q comment %q", a2.Rating, a2.Reason, a2.Comment)
	}
	// - again clears.
	press(m, "-")
	if a2.Rating != 0 || m.overlay != nil {
		t.Fatalf("second - did not clear: %d", a2.Rating)
	}
}

func TestGoldenCompare80x24(t *testing.T) {
	m := newTestModel(t, tinyEngine(t), nil, 80, 24)
	_, a1, a2 := englishConversation(t, m)
	m.overlay = newCompare(m.styles, m.md, a1, a2, 80, 24)
	v := m.View()
	checkSize(t, v, 80, 24)
	golden(t, "compare_80x24", screen(v))
	press(m, "1")
	if m.overlay != nil || m.sess.Conv.Leaf().ID != a1.ID {
		t.Fatal("choosing the first reply did not make it the active one")
	}
}

func TestGoldenResize(t *testing.T) {
	m := newTestModel(t, tinyEngine(t), nil, 80, 24)
	englishConversation(t, m)
	for _, sz := range [][2]int{{120, 40}, {60, 16}, {80, 24}} {
		m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		v := m.View()
		checkSize(t, v, sz[0], sz[1])
		golden(t, fmt.Sprintf("resize_%dx%d", sz[0], sz[1]), screen(v))
	}
}

func TestLightTheme(t *testing.T) {
	m := newTestModel(t, tinyEngine(t), nil, 80, 24)
	englishConversation(t, m)
	dark := m.View().Content
	m.Update(tea.BackgroundColorMsg{Color: lightBG{}})
	light := m.View().Content
	if m.styles.Dark || dark == light {
		t.Fatal("a light background did not change the styles")
	}
	if ansi.Strip(dark) != ansi.Strip(light) {
		t.Fatal("the theme changed the text")
	}
}

type lightBG struct{}

func (lightBG) RGBA() (r, g, b, a uint32) { return 0xffff, 0xffff, 0xffff, 0xffff }

func TestEscapeSequencesAreInert(t *testing.T) {
	m := newTestModel(t, tinyEngine(t), nil, 80, 24)
	u := addMsg(t, m, 0, chat.RoleUser, "hi \x1b[2J")
	evil := "red \x1b[31mALERT\x1b[0m title \x1b]0;pwned\x07 clip \x1b]52;c;ZXZpbA==\x1b\\ c1 \u009b2J bell\x07 cr\rX"
	addMsg(t, m, u.ID, chat.RoleAssistant, evil)
	// and the same while it streams
	ch := make(chan streamEvent, 1)
	m.live = &live{ch: ch, cancel: func() {}, parentID: u.ID, start: time.Now()}
	m.Update(streamMsg{ch: ch, pieces: []string{evil}})
	for _, v := range []tea.View{m.View()} {
		raw := v.Content
		for _, bad := range []string{"\x1b[31m", "\x1b]0;", "\x1b]52;", "\u009b", "\x07", "\r", "\x1b[2J"} {
			if strings.Contains(raw, bad) {
				t.Errorf("raw %q reached the terminal", bad)
			}
		}
		plain := ansi.Strip(raw)
		for _, shown := range []string{"␛[31mALERT", "␛]0;pwned␇", "␛]52;c;ZXZpbA==", `\u009b2J`, "cr␍X", "hi ␛[2J"} {
			if !strings.Contains(plain, shown) {
				t.Errorf("%q not shown as text", shown)
			}
		}
	}
}

func TestCommands(t *testing.T) {
	m := newTestModel(t, tinyEngine(t), nil, 80, 24)
	run := func(line string) {
		typeText(m, line)
		press(m, "enter")
	}
	run("/set temperature 0.3")
	run("/set top_k 7")
	run("/set seed 99")
	if s := m.sess.Sampling; s.Temperature != 0.3 || s.TopK != 7 || s.Seed != 99 {
		t.Fatalf("sampling %s", s)
	}
	run("/set temperature hot")
	if !m.noticeErr {
		t.Fatal("a bad /set was not reported")
	}
	run("/system You are terse.")
	if m.sess.Conv.System != "You are terse." {
		t.Fatalf("system %q", m.sess.Conv.System)
	}
	addMsg(t, m, 0, chat.RoleUser, "hello")
	run("/new")
	if m.sess.Conv.Len() != 0 || m.sess.Conv.System != "You are terse." || m.sess.Sampling.TopK != 7 {
		t.Fatal("/new did not start a fresh conversation with the same settings")
	}
	run("/help")
	if _, ok := m.overlay.(*help); !ok {
		t.Fatal("/help did not open the help")
	}
	press(m, "esc")
	run("/bogus")
	if !m.noticeErr {
		t.Fatal("unknown command not reported")
	}
}

func TestNewlineKeys(t *testing.T) {
	m := newTestModel(t, tinyEngine(t), nil, 80, 24)
	typeText(m, "a")
	press(m, "shift+enter")
	typeText(m, "b")
	press(m, "ctrl+j")
	typeText(m, "c")
	m.Update(tea.KeyPressMsg{Code: tea.KeyEnter, Mod: tea.ModAlt})
	typeText(m, "d")
	if got := m.input.Value(); got != "a\nb\nc\nd" {
		t.Fatalf("input %q", got)
	}
	if m.sess.Conv.Len() != 0 {
		t.Fatal("a newline key sent the message")
	}
}

// TestStreamRealModel sends a message through the TUI's commands with the
// stories260K model, esc-stops a second reply, and checks both are kept.
func TestStreamRealModel(t *testing.T) {
	st, err := feedback.Open(context.Background(), filepath.Join(t.TempDir(), "hone.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := newTestModel(t, storiesEngine(t), st, 80, 24)
	m.sess.Sampling.MaxTokens, m.sess.Sampling.Seed = 40, 3
	typeText(m, "안녕 Tell me a story")
	_, cmd := m.Update(keyMsg("enter"))
	pieces := drive(t, m, cmd)
	leaf := m.sess.Conv.Leaf()
	if m.live != nil || leaf.Role != chat.RoleAssistant || leaf.Content == "" || pieces < 2 {
		t.Fatalf("reply not streamed: %d pieces, leaf %+v", pieces, leaf)
	}
	// r regenerates; esc stops it at once, the partial reply is kept.
	m.sess.Sampling.MaxTokens = 400
	press(m, "tab")
	_, cmd = m.Update(keyMsg("r"))
	if m.live == nil {
		t.Fatal("r did not start a reply")
	}
	press(m, "esc")
	drive(t, m, cmd)
	leaf = m.sess.Conv.Leaf()
	if !leaf.Stopped {
		t.Fatalf("esc did not stop the reply: %+v", leaf)
	}
	if sib, _ := m.sess.Conv.Siblings(leaf.ID); len(sib) != 2 {
		t.Fatalf("regenerated reply has %d siblings", len(sib))
	}
	if !strings.Contains(screen(m.View()), "(stopped)") || !strings.Contains(screen(m.View()), "2/2") {
		t.Fatalf("stopped reply not marked:\n%s", screen(m.View()))
	}
}

// drive runs cmd and the commands it leads to until the stream ends,
// returning how many pieces (tokens' text) arrived. A fast model may queue
// several before the UI reads them; they then come as one batch.
func drive(t *testing.T, m *Model, cmd tea.Cmd) int {
	t.Helper()
	n := 0
	deadline := time.Now().Add(30 * time.Second)
	for cmd != nil && time.Now().Before(deadline) {
		msg := cmd()
		if b, ok := msg.(tea.BatchMsg); ok {
			for _, c := range b {
				if c != nil {
					if sm, ok := c().(streamMsg); ok {
						msg = sm
					}
				}
			}
		}
		sm, ok := msg.(streamMsg)
		if !ok {
			_, cmd = m.Update(msg)
			continue
		}
		n += len(sm.pieces)
		_, cmd = m.Update(sm)
		m.View()
	}
	return n
}

func TestHistoryResumeRenameDeleteExport(t *testing.T) {
	ctx := context.Background()
	st := testStore(t)
	storedConversation(t, st, "haiku", "Write a haiku about rain.", "Rain on the tin roof", "Grey clouds")
	storedConversation(t, st, "한국어", "서울 날씨 어때요?", "비가 와요", "맑아요")
	m := newTestModel(t, tinyEngine(t), st, 80, 24)
	m.opts.ExportDir = t.TempDir()
	press(m, "ctrl+s")
	h, ok := m.overlay.(*history)
	if !ok {
		t.Fatalf("ctrl+s opened %T", m.overlay)
	}
	run(m, h.fetch(""))
	v := m.View()
	checkSize(t, v, 80, 24)
	s := screen(v)
	if !strings.Contains(s, "haiku") || !strings.Contains(s, "한국어") {
		t.Fatalf("history:\n%s", s)
	}
	// Search (full text, Korean) narrows the list.
	typeText(m, "날씨")
	run(m, h.fetch(h.search.Value()))
	s = screen(m.View())
	if strings.Contains(s, "haiku") || !strings.Contains(s, "한국어") {
		t.Fatalf("search 날씨:\n%s", s)
	}
	// Rename, export both ways, then resume.
	m.Update(tea.KeyPressMsg{Code: 'r', Mod: tea.ModCtrl})
	for range 3 {
		m.Update(tea.KeyPressMsg{Code: tea.KeyBackspace})
	}
	typeText(m, "날씨 이야기")
	press(m, "enter")
	run(m, h.fetch(h.search.Value()))
	if !strings.Contains(screen(m.View()), "날씨 이야기") {
		t.Fatalf("rename not shown:\n%s", screen(m.View()))
	}
	_, cmd := m.Update(tea.KeyPressMsg{Code: 'e', Mod: tea.ModCtrl})
	run(m, cmd)
	if !strings.Contains(screen(m.View()), "exported to") {
		t.Fatalf("export md:\n%s", screen(m.View()))
	}
	_, cmd = m.Update(tea.KeyPressMsg{Code: 'j', Mod: tea.ModCtrl})
	run(m, cmd)
	files, _ := filepath.Glob(filepath.Join(m.opts.ExportDir, "hone-conversation-*"))
	if len(files) != 2 {
		t.Fatalf("exports %v", files)
	}
	md, _ := os.ReadFile(files[len(files)-1])
	if !strings.Contains(string(md), "서울 날씨 어때요?") {
		t.Fatalf("export:\n%s", md)
	}
	press(m, "enter")
	if m.overlay != nil || m.sess.Conv.Title != "날씨 이야기" || len(m.sess.Conv.Path()) != 2 {
		t.Fatalf("resume: overlay %T, title %q", m.overlay, m.sess.Conv.Title)
	}
	golden(t, "resumed_80x24", screen(m.View()))
	// Delete asks first; n keeps it, y deletes.
	press(m, "ctrl+s")
	h = m.overlay.(*history)
	run(m, h.fetch(""))
	m.Update(tea.KeyPressMsg{Code: 'd', Mod: tea.ModCtrl})
	if !strings.Contains(screen(m.View()), "y / n") {
		t.Fatalf("no confirmation:\n%s", screen(m.View()))
	}
	press(m, "n")
	if cs, _ := st.ListConversations(ctx, 10, 0); len(cs) != 2 {
		t.Fatal("n deleted")
	}
	m.Update(tea.KeyPressMsg{Code: 'd', Mod: tea.ModCtrl})
	press(m, "y")
	if cs, _ := st.ListConversations(ctx, 10, 0); len(cs) != 1 {
		t.Fatalf("y did not delete: %d left", len(cs))
	}
}

func TestCopySelectedMessage(t *testing.T) {
	m := newTestModel(t, tinyEngine(t), nil, 80, 24)
	_, _, a2 := englishConversation(t, m)
	press(m, "tab")
	_, cmd := m.Update(keyMsg("y"))
	if cmd == nil {
		t.Fatal("y returned no command")
	}
	// tea.SetClipboard's message carries the text Bubble Tea writes as OSC 52.
	if got := fmt.Sprint(cmd()); got != a2.Content {
		t.Fatalf("clipboard %q, want %q", got, a2.Content)
	}
}

func TestModelCommandSwapsEngine(t *testing.T) {
	stories := storiesEngine(t) // skips here, in the test goroutine, without fixtures
	m := newTestModel(t, tinyEngine(t), nil, 80, 24)
	var asked string
	m.opts.LoadModel = func(_ context.Context, name string) (chat.Engine, error) {
		asked = name
		return stories, nil
	}
	typeText(m, "/model stories.bin")
	_, cmd := m.Update(keyMsg("enter"))
	run(m, cmd)
	if asked != "stories.bin" || m.sess.Engine.Name() != "stories260K" || m.sess.Model != "stories260K" {
		t.Fatalf("asked %q, engine %q", asked, m.sess.Engine.Name())
	}
	if !strings.Contains(screen(m.View()), "stories260K") {
		t.Fatal("status line does not show the new model")
	}
}
