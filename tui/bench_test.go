package tui

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/hone-ai/hone/chat"
)

// firstWrite signals when the program first writes to the terminal.
type firstWrite struct {
	once sync.Once
	ch   chan struct{}
}

func (w *firstWrite) Write(p []byte) (int, error) {
	if len(p) > 0 {
		w.once.Do(func() { close(w.ch) })
	}
	return len(p), nil
}

// emptyModel is the baseline: a Bubble Tea program that draws one line.
type emptyModel struct{}

func (emptyModel) Init() tea.Cmd                       { return nil }
func (emptyModel) Update(tea.Msg) (tea.Model, tea.Cmd) { return emptyModel{}, nil }
func (emptyModel) View() tea.View                      { v := tea.NewView("hello"); v.AltScreen = true; return v }

// firstFrame runs a program until its first frame is written.
func firstFrame(b *testing.B, newModel func() tea.Model) {
	b.Helper()
	for b.Loop() {
		w := &firstWrite{ch: make(chan struct{})}
		pr, pw := io.Pipe()
		p := tea.NewProgram(newModel(), tea.WithInput(pr), tea.WithOutput(w), tea.WithWindowSize(80, 24),
			tea.WithoutSignalHandler())
		done := make(chan struct{})
		go func() { p.Run(); close(done) }()
		select {
		case <-w.ch:
		case <-time.After(5 * time.Second):
			b.Fatal("no frame in 5s")
		}
		p.Quit()
		<-done
		pw.Close()
	}
}

// BenchmarkFirstFrameBaseline is an empty Bubble Tea program's start-up
// to first frame, the same-run baseline for BenchmarkFirstFrameChat.
func BenchmarkFirstFrameBaseline(b *testing.B) {
	firstFrame(b, func() tea.Model { return emptyModel{} })
}

// BenchmarkFirstFrameChat is the chat screen's start-up to first frame
// (a resumed conversation of 20 messages, so glamour renders them).
func BenchmarkFirstFrameChat(b *testing.B) {
	e := tinyEngine(b)
	firstFrame(b, func() tea.Model {
		m := New(Options{Session: chat.NewSession(e, nil, ""), Dark: true})
		longConversation(b, m, 10)
		return m
	})
}

func longConversation(tb testing.TB, m *Model, turns int) {
	parent := int64(0)
	for i := 0; i < turns; i++ {
		u := addMsg(tb, m, parent, chat.RoleUser, "Tell me about **Markdown** number "+strings.Repeat("x", i))
		a := addMsg(tb, m, u.ID, chat.RoleAssistant, "Here is a list:\n\n- one\n- two\n\n```go\nfunc main() {}\n```\n\n"+
			strings.Repeat("Some words in a paragraph that wraps. ", 8))
		parent = a.ID
	}
}

// keypressFrame measures one keypress handled and the frame drawn.
func keypressFrame(b *testing.B, m *Model) {
	b.Helper()
	keys := []tea.KeyPressMsg{{Code: 'a', Text: "a"}, {Code: tea.KeyBackspace}}
	i := 0
	for b.Loop() {
		m.Update(keys[i%2])
		_ = m.View()
		i++
	}
}

// BenchmarkKeypressIdle is a keypress and its frame with nothing
// streaming (baseline for BenchmarkKeypressWhileStreaming).
func BenchmarkKeypressIdle(b *testing.B) {
	m := newTestModel(b, tinyEngine(b), nil, 80, 24)
	longConversation(b, m, 10)
	m.View()
	keypressFrame(b, m)
}

// BenchmarkKeypressWhileStreaming is a keypress and its frame while a
// real model (stories260K) streams a reply on another goroutine and its
// pieces are applied between keypresses: the key never waits on
// generation, and a piece re-renders only the live reply.
func BenchmarkKeypressWhileStreaming(b *testing.B) {
	m := newTestModel(b, storiesEngine(b), nil, 80, 24)
	longConversation(b, m, 10)
	u, err := m.sess.AddUser(context.Background(), m.sess.Conv.Leaf().ID, "Once upon a time")
	if err != nil {
		b.Fatal(err)
	}
	msgs := make(chan tea.Msg, 1)
	start := func() {
		// When a reply ends, regenerate it: something always streams.
		cmd := m.startReply(u.ID, genRegenerate, 0)
		go func() { msgs <- cmd() }()
	}
	start()
	defer m.Close()
	keys := []tea.KeyPressMsg{{Code: 'a', Text: "a"}, {Code: tea.KeyBackspace}}
	i, pieces, streaming := 0, 0, 0
	for b.Loop() {
		select {
		case msg := <-msgs:
			sm := msg.(streamMsg)
			pieces += len(sm.pieces)
			_, next := m.Update(sm)
			if next != nil {
				go func() { msgs <- next() }()
			} else {
				start()
			}
		default:
		}
		if m.live != nil {
			streaming++
		}
		m.Update(keys[i%2])
		_ = m.View()
		i++
	}
	b.ReportMetric(float64(pieces)/float64(i), "pieces/op")
	b.ReportMetric(float64(streaming)/float64(i), "streaming-fraction")
}
