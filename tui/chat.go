// Package tui is hone's terminal interface in Bubble Tea v2: the chat
// screen (streaming replies, rating, regenerating, branching, comparing),
// the conversation history, the help screen and the annotation queue. Each
// screen is a small tea.Model; slow work (generation, the store, $EDITOR)
// runs as commands that answer with messages, so a keypress never waits on
// the model. All styles live in styles.go. Text from a model or the store
// is passed through chat.Sanitize before it is drawn.
package tui

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"charm.land/bubbles/v2/textarea"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/hone-ai/hone/chat"
)

// Options configure the chat screen.
type Options struct {
	Session *chat.Session
	// History lists, searches, renames, deletes and loads stored
	// conversations; nil when nothing is logged.
	History History
	// LoadModel loads another model for /model NAME; nil disables /model.
	LoadModel func(ctx context.Context, name string) (chat.Engine, error)
	// PolicyLabel describes the policy in the status line ("policy v3").
	PolicyLabel string
	// Dark is the initial background guess; the terminal's answer to the
	// background colour query replaces it.
	Dark bool
	// Context is the parent of every generation (cancelled on quit).
	Context context.Context
	// Editor is the command ctrl+o runs ($VISUAL / $EDITOR); "" = vi.
	Editor string
	// ExportDir is where history exports are written ("" = current directory).
	ExportDir string
}

type focus int

const (
	focusInput focus = iota
	focusTranscript
)

type genMode int

const (
	genReply genMode = iota
	genRegenerate
	genCompare
)

// live is the reply being streamed.
type live struct {
	ch       chan streamEvent
	cancel   context.CancelFunc
	parentID int64
	mode     genMode
	rival    int64 // compare: the reply it is compared with
	text     strings.Builder
	start    time.Time
	first    time.Time
	pieces   int
	lines    []string // wrapped lines of text, recomputed per piece
}

type streamEvent struct {
	piece string
	done  bool
	msg   *chat.Message
	err   error
}

// streamMsg carries the pieces that arrived since the last one.
type streamMsg struct {
	ch     chan streamEvent
	pieces []string
	done   *streamEvent
}

type modelLoadedMsg struct {
	name   string
	engine chat.Engine
	err    error
}

type editorDoneMsg struct {
	text string
	err  error
}

type noticeMsg struct {
	text string
	err  bool
}

// Model is the chat screen and the root of the TUI.
type Model struct {
	opts      Options
	sess      *chat.Session
	styles    Styles
	md        *markdown
	input     textarea.Model
	focus     focus
	width     int
	height    int
	selected  int64 // message selected in the transcript (0: none)
	editing   int64 // user message being edited (0: none)
	live      *live
	overlay   tea.Model
	notice    string
	noticeErr bool
	scroll    int // lines scrolled up from the bottom
	last      chat.Stats
	lastCtx   int // context used after the last reply
	quitting  bool

	// wg counts generation goroutines; closed tells them nobody reads.
	wg     *sync.WaitGroup
	closed chan struct{}

	// finished-transcript cache: rebuilt only when something other than
	// the live reply changes.
	dirty  bool
	lines  []string
	spans  map[int64][2]int
	cacheW int
}

// New returns the chat screen for a session.
func New(opts Options) *Model {
	if opts.Context == nil {
		opts.Context = context.Background()
	}
	ta := textarea.New()
	ta.Placeholder = "Message hone…  (enter send · shift+enter newline · ? help)"
	ta.ShowLineNumbers = false
	ta.Prompt = "› "
	ta.CharLimit = 0
	ta.MaxHeight = 0
	ta.SetVirtualCursor(false)
	ta.KeyMap.InsertNewline.SetKeys("shift+enter", "ctrl+j", "alt+enter")
	ta.SetHeight(3)
	m := &Model{opts: opts, sess: opts.Session, input: ta, width: 80, height: 24, dirty: true,
		wg: &sync.WaitGroup{}, closed: make(chan struct{})}
	m.applyTheme(opts.Dark)
	m.input.Focus()
	m.layout()
	return m
}

func (m *Model) applyTheme(dark bool) {
	m.styles = NewStyles(dark)
	if m.md == nil {
		m.md = newMarkdown(dark)
	}
	m.md.setTheme(dark)
	m.input.SetStyles(textarea.DefaultStyles(dark))
	m.dirty = true
}

// Init asks the terminal for its background colour.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(tea.RequestBackgroundColor, m.input.Focus())
}

const inputHeight = 3

func (m *Model) layout() {
	m.input.SetWidth(max(m.width, 10))
	m.input.SetHeight(inputHeight)
	m.dirty = true
}

// transcriptHeight is the number of rows the transcript gets: the screen
// less the header, the separator, the input and the status line.
func (m *Model) transcriptHeight() int { return max(m.height-3-inputHeight, 1) }

func (m *Model) setNotice(s string, isErr bool) { m.notice, m.noticeErr = s, isErr }

// Update handles one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layout()
		if m.overlay != nil {
			var cmd tea.Cmd
			m.overlay, cmd = m.overlay.Update(msg)
			return m, cmd
		}
		return m, nil
	case tea.BackgroundColorMsg:
		m.applyTheme(msg.IsDark())
		return m, nil
	case streamMsg:
		return m, m.onStream(msg)
	case modelLoadedMsg:
		if msg.err != nil {
			m.setNotice(fmt.Sprintf("model %s: %v", msg.name, msg.err), true)
			return m, nil
		}
		if m.generating() {
			// A reply started while loading: keep the model it uses.
			if c, ok := msg.engine.(io.Closer); ok {
				c.Close()
			}
			m.setNotice("a reply is streaming: /model again when it is done", true)
			return m, nil
		}
		old := m.sess.Engine
		m.sess.Engine, m.sess.Model, m.sess.Policy = msg.engine, msg.engine.Name(), 0
		m.opts.PolicyLabel = ""
		// Stopped replies may still be winding down on the old model.
		m.wg.Wait()
		if c, ok := old.(io.Closer); ok && old != msg.engine {
			c.Close()
		}
		m.setNotice("model "+msg.engine.Name()+" loaded", false)
		return m, nil
	case editorDoneMsg:
		if msg.err != nil {
			m.setNotice("editor: "+msg.err.Error(), true)
			return m, nil
		}
		m.input.SetValue(strings.TrimRight(msg.text, "\n"))
		m.focus = focusInput
		return m, m.input.Focus()
	case noticeMsg:
		m.setNotice(msg.text, msg.err)
		return m, nil
	case closeOverlayMsg:
		m.overlay = nil
		m.dirty = true
		return m, nil
	case reasonDoneMsg:
		m.overlay = nil
		m.dirty = true
		if msg.reason == "" && msg.comment == "" {
			return m, nil
		}
		if err := m.sess.Annotate(m.opts.Context, msg.id, msg.reason, msg.comment); err != nil {
			m.setNotice(err.Error(), true)
		} else {
			m.setNotice("reason saved", false)
		}
		return m, nil
	case compareDoneMsg:
		m.overlay = nil
		m.dirty = true
		if msg.chosen == 0 {
			m.setNotice("no choice recorded; both replies kept (←/→)", false)
			return m, nil
		}
		if err := m.sess.Choose(m.opts.Context, msg.chosen, msg.rejected); err != nil {
			m.setNotice(err.Error(), true)
			return m, nil
		}
		m.selected = msg.chosen
		m.setNotice("choice saved", false)
		return m, nil
	case resumeMsg:
		m.overlay = nil
		if msg.err != nil {
			m.setNotice(msg.err.Error(), true)
			return m, nil
		}
		m.switchSession(msg.sess)
		m.setNotice("resumed: "+chat.Sanitize(msg.sess.Conv.Title), false)
		return m, nil
	case deletedMsg:
		if msg.id == m.sess.Conv.ID {
			m.newConversation()
		}
		if m.overlay != nil {
			var cmd tea.Cmd
			m.overlay, cmd = m.overlay.Update(msg)
			return m, cmd
		}
		return m, nil
	case tea.KeyPressMsg:
		if m.overlay != nil {
			var cmd tea.Cmd
			m.overlay, cmd = m.overlay.Update(msg)
			return m, cmd
		}
		return m, m.onKey(msg)
	}
	if m.overlay != nil {
		var cmd tea.Cmd
		m.overlay, cmd = m.overlay.Update(msg)
		return m, cmd
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	return m, cmd
}

func (m *Model) generating() bool { return m.live != nil }

func (m *Model) onKey(k tea.KeyPressMsg) tea.Cmd {
	key := k.String()
	m.notice = ""
	switch key {
	case "ctrl+c":
		if m.generating() {
			m.live.cancel()
			return nil
		}
		m.quitting = true
		return tea.Quit
	case "esc":
		switch {
		case m.generating():
			m.live.cancel()
		case m.editing != 0:
			m.editing = 0
			m.input.Reset()
			m.setNotice("edit cancelled", false)
		case m.focus == focusTranscript:
			return m.focusInput()
		}
		return nil
	case "f1":
		m.overlay = newHelp(m.styles, m.width, m.height)
		return nil
	case "ctrl+s":
		return m.openHistory()
	case "tab":
		if m.focus == focusInput {
			m.focus = focusTranscript
			m.input.Blur()
			if m.selected == 0 {
				if leaf := m.sess.Conv.Leaf(); leaf != nil {
					m.selected = leaf.ID
				}
			}
			m.dirty = true
			m.scrollToSelected()
			return nil
		}
		return m.focusInput()
	case "shift+tab":
		if m.focus == focusTranscript {
			return m.focusInput()
		}
	case "ctrl+o":
		return m.openEditor()
	case "pgup", "ctrl+u":
		m.scroll += max(m.transcriptHeight()-2, 1)
		return nil
	case "pgdown", "ctrl+d":
		m.scroll = max(m.scroll-max(m.transcriptHeight()-2, 1), 0)
		return nil
	}
	if m.focus == focusTranscript {
		return m.onTranscriptKey(k)
	}
	switch key {
	case "enter":
		return m.submit()
	case "?":
		if strings.TrimSpace(m.input.Value()) == "" {
			m.overlay = newHelp(m.styles, m.width, m.height)
			return nil
		}
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(k)
	return cmd
}

func (m *Model) focusInput() tea.Cmd {
	m.focus = focusInput
	m.dirty = true
	return m.input.Focus()
}

// pathIndex returns the index of id on the active path, or -1.
func pathIndex(path []*chat.Message, id int64) int {
	for i, p := range path {
		if p.ID == id {
			return i
		}
	}
	return -1
}

func (m *Model) onTranscriptKey(k tea.KeyPressMsg) tea.Cmd {
	path := m.sess.Conv.Path()
	i := pathIndex(path, m.selected)
	if i < 0 && len(path) > 0 {
		i = len(path) - 1
		m.selected = path[i].ID
	}
	var sel *chat.Message
	if i >= 0 {
		sel = path[i]
	}
	key := k.String()
	if k.Text == "+" || k.Text == "-" {
		key = k.Text
	}
	m.dirty = true
	switch key {
	case "up", "k":
		if i > 0 {
			m.selected = path[i-1].ID
		}
		m.scrollToSelected()
	case "down", "j":
		if i >= 0 && i < len(path)-1 {
			m.selected = path[i+1].ID
		}
		m.scrollToSelected()
	case "home", "g":
		if len(path) > 0 {
			m.selected = path[0].ID
		}
		m.scrollToSelected()
	case "end", "G":
		if len(path) > 0 {
			m.selected = path[len(path)-1].ID
		}
		m.scroll = 0
	case "left", "h", "right", "l":
		if sel == nil || m.generating() {
			return nil
		}
		d := 1
		if key == "left" || key == "h" {
			d = -1
		}
		if sib, _ := m.sess.Conv.Siblings(sel.ID); len(sib) < 2 {
			return nil
		}
		next, err := m.sess.Cycle(m.opts.Context, sel.ID, d)
		if err != nil {
			m.setNotice(err.Error(), true)
			return nil
		}
		m.selected = next.ID
	case "+", "=", "-", "_":
		if sel == nil {
			return nil
		}
		if sel.Role != chat.RoleAssistant {
			m.setNotice("only replies can be rated: select one with ↑/↓", true)
			return nil
		}
		v := 1
		if key == "-" || key == "_" {
			v = -1
		}
		got, err := m.sess.Rate(m.opts.Context, sel.ID, v)
		if err != nil {
			m.setNotice(err.Error(), true)
			return nil
		}
		if got == 0 {
			m.setNotice("rating cleared", false)
			return nil
		}
		m.overlay = newReasonDialog(m.styles, sel.ID, got, m.width)
		return m.overlay.Init()
	case "r":
		if sel == nil || m.generating() {
			return nil
		}
		parent := sel.ParentID
		if sel.Role == chat.RoleUser {
			parent = sel.ID
		}
		if parent == 0 {
			return nil
		}
		return m.startReply(parent, genRegenerate, 0)
	case "c":
		if sel == nil || m.generating() {
			return nil
		}
		if sel.Role != chat.RoleAssistant {
			m.setNotice("select a reply to compare with", true)
			return nil
		}
		return m.startReply(sel.ParentID, genCompare, sel.ID)
	case "e":
		if sel == nil || m.generating() {
			return nil
		}
		if sel.Role != chat.RoleUser {
			m.setNotice("select one of your messages to edit", true)
			return nil
		}
		m.editing = sel.ID
		m.input.SetValue(sel.Content)
		m.setNotice("editing: enter sends it as a new branch, esc cancels", false)
		return m.focusInput()
	case "y":
		if sel == nil {
			return nil
		}
		m.setNotice("copied to the clipboard", false)
		return tea.SetClipboard(sel.Content)
	case "?":
		m.overlay = newHelp(m.styles, m.width, m.height)
	case "enter", "i":
		return m.focusInput()
	}
	return nil
}

// submit sends the input: a /command, an edited message (a new branch) or
// a new message.
func (m *Model) submit() tea.Cmd {
	text := m.input.Value()
	if strings.TrimSpace(text) == "" {
		return nil
	}
	if strings.HasPrefix(strings.TrimSpace(text), "/") && m.editing == 0 {
		m.input.Reset()
		return m.command(strings.TrimSpace(text))
	}
	if m.generating() {
		m.setNotice("a reply is streaming: esc stops it", true)
		return nil
	}
	parent := int64(0)
	if leaf := m.sess.Conv.Leaf(); leaf != nil {
		parent = leaf.ID
	}
	if m.editing != 0 {
		if orig, ok := m.sess.Conv.Get(m.editing); ok {
			parent = orig.ParentID
		}
	}
	u, err := m.sess.AddUser(m.opts.Context, parent, text)
	if err != nil {
		m.setNotice(err.Error(), true)
		return nil
	}
	m.editing = 0
	m.input.Reset()
	m.selected = 0
	m.scroll = 0
	m.dirty = true
	return m.startReply(u.ID, genReply, 0)
}

// startReply prepares a reply to parentID and streams it on a goroutine.
func (m *Model) startReply(parentID int64, mode genMode, rival int64) tea.Cmd {
	req, err := m.sess.Prepare(parentID)
	if err != nil {
		m.setNotice(err.Error(), true)
		return nil
	}
	if err := m.sess.Conv.Select(parentID); err != nil {
		m.setNotice(err.Error(), true)
		return nil
	}
	ctx, cancel := context.WithCancel(m.opts.Context)
	l := &live{ch: make(chan streamEvent, 1024), cancel: cancel, parentID: parentID, mode: mode, rival: rival,
		start: time.Now()}
	m.live = l
	m.scroll = 0
	m.dirty = true
	if req.Dropped > 0 {
		m.setNotice(fmt.Sprintf("context full: the oldest %d messages are left out", req.Dropped), false)
	}
	m.wg.Add(1)
	closed := m.closed
	go func() {
		defer m.wg.Done()
		msg, err := req.Run(ctx, func(p string) {
			select {
			case l.ch <- streamEvent{piece: p}:
			case <-ctx.Done(): // stopped: the UI may no longer read
			}
		})
		cancel()
		select {
		case l.ch <- streamEvent{done: true, msg: msg, err: err}:
		case <-closed:
		}
	}()
	return waitStream(l.ch)
}

// waitStream waits for the next piece and takes every piece already
// queued with it, so a fast model costs one frame per batch, not per token.
func waitStream(ch chan streamEvent) tea.Cmd {
	return func() tea.Msg {
		ev := <-ch
		out := streamMsg{ch: ch}
		for {
			if ev.done {
				e := ev
				out.done = &e
				return out
			}
			out.pieces = append(out.pieces, ev.piece)
			select {
			case ev = <-ch:
			default:
				return out
			}
		}
	}
}

func (m *Model) onStream(s streamMsg) tea.Cmd {
	l := m.live
	if l == nil || s.ch != l.ch {
		if s.done == nil {
			return waitStream(s.ch) // a stale stream: drain it
		}
		return nil
	}
	if len(s.pieces) > 0 {
		if l.first.IsZero() {
			l.first = time.Now()
		}
		for _, p := range s.pieces {
			l.text.WriteString(p)
		}
		l.pieces += len(s.pieces)
		l.lines = nil
	}
	if s.done == nil {
		return waitStream(s.ch)
	}
	m.live = nil
	m.dirty = true
	if s.done.err != nil {
		m.setNotice(s.done.err.Error(), true)
		return nil
	}
	msg := s.done.msg
	if err := m.sess.Commit(msg); err != nil {
		m.setNotice(err.Error(), true)
		return nil
	}
	m.last = msg.Stats
	m.lastCtx = msg.Stats.PromptTokens + msg.Stats.Tokens
	switch {
	case msg.Stopped:
		m.setNotice("stopped", false)
	case msg.Stats.StopReason == "context":
		m.setNotice("the context window is full: older turns will be left out (/new starts afresh)", false)
	}
	if m.focus == focusTranscript {
		m.selected = msg.ID
	}
	if l.mode == genCompare && l.rival != 0 {
		if rival, ok := m.sess.Conv.Get(l.rival); ok {
			m.overlay = newCompare(m.styles, m.md, rival, msg, m.width, m.height)
		}
	}
	return nil
}

func (m *Model) newConversation() {
	if m.live != nil {
		m.live.cancel()
		m.live = nil
	}
	s := chat.NewSession(m.sess.Engine, m.sess.Store, m.sess.Conv.System)
	s.Sampling, s.Model, s.Policy, s.Rater = m.sess.Sampling, m.sess.Model, m.sess.Policy, m.sess.Rater
	m.switchSession(s)
}

func (m *Model) switchSession(s *chat.Session) {
	if m.live != nil {
		m.live.cancel()
		m.live = nil
	}
	if s.Engine == nil {
		s.Engine = m.sess.Engine
	}
	s.Sampling, s.Model, s.Policy = m.sess.Sampling, m.sess.Model, m.sess.Policy
	m.sess = s
	m.selected, m.editing, m.scroll, m.lastCtx = 0, 0, 0, 0
	m.last = chat.Stats{}
	m.md.reset()
	m.dirty = true
}

// Close stops a reply still being generated and waits until no
// generation goroutine uses the model, so the caller can close it. Call it
// once, after the program has ended.
func (m *Model) Close() {
	if m.live != nil {
		m.live.cancel()
	}
	close(m.closed)
	m.wg.Wait()
}

// Session returns the session on screen (the one resumed or started last).
func (m *Model) Session() *chat.Session { return m.sess }

// command runs a /command typed in the input.
func (m *Model) command(line string) tea.Cmd {
	name, arg, _ := strings.Cut(strings.TrimPrefix(line, "/"), " ")
	arg = strings.TrimSpace(arg)
	switch name {
	case "help", "?":
		m.overlay = newHelp(m.styles, m.width, m.height)
	case "new":
		m.newConversation()
		m.setNotice("new conversation", false)
	case "system":
		if arg == "" {
			if m.sess.Conv.System == "" {
				m.setNotice("no system prompt; /system TEXT sets one (for a new conversation)", false)
			} else {
				m.setNotice("system: "+chat.Sanitize(m.sess.Conv.System), false)
			}
			return nil
		}
		if m.sess.Conv.Len() > 0 {
			m.newConversation()
			m.sess.Conv.System = arg
			m.setNotice("system prompt set; a new conversation starts with it", false)
		} else {
			m.sess.Conv.System = arg
			m.setNotice("system prompt set", false)
		}
	case "set":
		if arg == "" {
			m.setNotice(m.sess.Sampling.String(), false)
			return nil
		}
		k, v, ok := strings.Cut(arg, " ")
		if !ok {
			k, v, ok = strings.Cut(arg, "=")
		}
		if !ok {
			m.setNotice("usage: /set NAME VALUE ("+strings.Join(chat.SamplingNames(), ", ")+")", true)
			return nil
		}
		if err := m.sess.Sampling.Set(k, v); err != nil {
			m.setNotice(err.Error(), true)
			return nil
		}
		m.setNotice("set "+strings.TrimSpace(k)+" = "+strings.TrimSpace(v), false)
	case "model":
		if arg == "" {
			m.setNotice("model: "+chat.Sanitize(m.sess.Model)+"  (/model FILE loads another)", false)
			return nil
		}
		if m.opts.LoadModel == nil {
			m.setNotice("/model is not available here", true)
			return nil
		}
		if m.generating() {
			m.setNotice("a reply is streaming: esc stops it", true)
			return nil
		}
		m.setNotice("loading "+arg+"…", false)
		load, ctx := m.opts.LoadModel, m.opts.Context
		return func() tea.Msg {
			e, err := load(ctx, arg)
			return modelLoadedMsg{name: arg, engine: e, err: err}
		}
	default:
		m.setNotice("unknown command /"+name+" (try /help)", true)
	}
	return nil
}

func (m *Model) openEditor() tea.Cmd {
	ed := m.opts.Editor
	if strings.TrimSpace(ed) == "" {
		ed = "vi"
	}
	f, err := os.CreateTemp("", "hone-*.md")
	if err != nil {
		m.setNotice("editor: "+err.Error(), true)
		return nil
	}
	name := f.Name()
	_, werr := f.WriteString(m.input.Value())
	cerr := f.Close()
	if werr != nil || cerr != nil {
		os.Remove(name)
		m.setNotice(fmt.Sprintf("editor: write %s: %v %v", name, werr, cerr), true)
		return nil
	}
	fields := strings.Fields(ed)
	cmd := exec.Command(fields[0], append(fields[1:], name)...)
	return tea.ExecProcess(cmd, func(err error) tea.Msg {
		defer os.Remove(name)
		if err != nil {
			return editorDoneMsg{err: fmt.Errorf("%s: %w", ed, err)}
		}
		b, err := os.ReadFile(name)
		if err != nil {
			return editorDoneMsg{err: fmt.Errorf("read %s: %w", name, err)}
		}
		return editorDoneMsg{text: string(b)}
	})
}

func (m *Model) openHistory() tea.Cmd {
	if m.opts.History == nil {
		m.setNotice("no history: this chat is not logged (--no-log)", true)
		return nil
	}
	if m.generating() {
		m.setNotice("a reply is streaming: esc stops it", true)
		return nil
	}
	h := newHistory(m.opts.Context, m.opts.History, m.sess, m.styles, m.width, m.height, m.opts.ExportDir)
	m.overlay = h
	return h.Init()
}

// ---- rendering ----

const gutter = 2 // selection bar and space left of every message

func (m *Model) bodyWidth() int { return max(m.width-gutter-1, 10) }

// messageLines renders one finished message: its header and body.
func (m *Model) messageLines(msg *chat.Message) []string {
	st := m.styles
	var head string
	if msg.Role == chat.RoleUser {
		head = st.User.Render("You")
		if msg.ID == m.editing {
			head += st.Dim.Render("  (editing)")
		}
	} else {
		name := "hone"
		if msg.Model != "" {
			name = chat.Sanitize(msg.Model)
		}
		head = st.Assistant.Render(name)
		if msg.Policy != 0 {
			head += st.Dim.Render(" v" + strconv.FormatInt(msg.Policy, 10))
		}
		if msg.Rating > 0 {
			head += "  " + st.Up.Render("👍"+reasonSuffix(msg))
		} else if msg.Rating < 0 {
			head += "  " + st.Down.Render("👎"+reasonSuffix(msg))
		}
		if msg.Stopped {
			head += "  " + st.Stopped.Render("(stopped)")
		}
	}
	if sib, i := m.sess.Conv.Siblings(msg.ID); len(sib) > 1 {
		head += "  " + st.Dim.Render(fmt.Sprintf("‹ %d/%d ›", i+1, len(sib)))
	}
	lines := []string{head}
	if msg.Role == chat.RoleUser {
		for _, l := range wrapPlain(chat.Sanitize(msg.Content), m.bodyWidth()) {
			lines = append(lines, st.Body.Render(l))
		}
	} else {
		lines = append(lines, m.md.render(msg.ID, msg.Content, m.bodyWidth())...)
	}
	return lines
}

func reasonSuffix(msg *chat.Message) string {
	if msg.Reason == "" {
		return ""
	}
	return " " + chat.Sanitize(msg.Reason)
}

// finishedLines rebuilds the transcript of finished messages when needed.
func (m *Model) finishedLines() []string {
	if !m.dirty && m.cacheW == m.width && m.lines != nil {
		return m.lines
	}
	var lines []string
	spans := map[int64][2]int{}
	for _, msg := range m.sess.Conv.Path() {
		if len(lines) > 0 {
			lines = append(lines, "")
		}
		start := len(lines)
		bar := "  "
		if m.focus == focusTranscript && msg.ID == m.selected {
			bar = m.styles.SelectBar.Render("▌") + " "
		}
		for _, l := range m.messageLines(msg) {
			lines = append(lines, bar+l)
		}
		spans[msg.ID] = [2]int{start, len(lines)}
	}
	m.lines, m.spans, m.cacheW, m.dirty = lines, spans, m.width, false
	return lines
}

// liveLines renders the reply being streamed: plain wrapped text, cheap
// to redo per token; glamour renders it once it is finished.
func (m *Model) liveLines() []string {
	l := m.live
	if l == nil {
		return nil
	}
	if l.lines == nil {
		l.lines = wrapPlain(chat.Sanitize(l.text.String()), m.bodyWidth())
	}
	head := m.styles.Assistant.Render(chat.Sanitize(m.sess.Model))
	switch l.mode {
	case genRegenerate:
		head += m.styles.Dim.Render("  regenerating…")
	case genCompare:
		head += m.styles.Dim.Render("  second reply for comparison…")
	default:
		head += m.styles.Dim.Render("  …")
	}
	out := []string{"", "  " + head}
	for i, t := range l.lines {
		if i == len(l.lines)-1 {
			t += m.styles.SelectBar.Render("▍")
		}
		out = append(out, "  "+m.styles.Body.Render(t))
	}
	return out
}

func (m *Model) scrollToSelected() {
	lines := m.finishedLines()
	sp, ok := m.spans[m.selected]
	if !ok {
		return
	}
	h := m.transcriptHeight()
	total := len(lines) + len(m.liveLines())
	// visible window: [total-h-scroll, total-scroll)
	top := total - h - m.scroll
	bottom := total - m.scroll
	switch {
	case sp[0] < top:
		m.scroll = max(total-h-sp[0], 0)
	case sp[1] > bottom:
		m.scroll = max(total-sp[1], 0)
		if sp[1]-sp[0] > h {
			m.scroll = max(total-h-sp[0], 0)
		}
	}
}

func (m *Model) transcriptView(h int) []string {
	fin := m.finishedLines()
	liv := m.liveLines()
	total := len(fin) + len(liv)
	if len(m.sess.Conv.Path()) == 0 && m.live == nil {
		return m.emptyView(h)
	}
	m.scroll = min(m.scroll, max(total-h, 0))
	end := total - m.scroll
	start := max(end-h, 0)
	out := make([]string, 0, h)
	for i := start; i < end; i++ {
		if i < len(fin) {
			out = append(out, fin[i])
		} else {
			out = append(out, liv[i-len(fin)])
		}
	}
	for len(out) < h {
		out = append(out, "")
	}
	return out
}

func (m *Model) emptyView(h int) []string {
	st := m.styles
	lines := []string{
		"",
		"  " + st.Title.Render("hone") + st.Dim.Render(" — a chatbot that learns from your ratings"),
		"",
		"  " + st.Dim.Render("Type a message and press enter. Tab moves to the transcript, where"),
		"  " + st.Dim.Render("+/- rate a reply, r regenerates, e edits, c compares. ? lists every key."),
	}
	if m.sess.Conv.System != "" {
		lines = append(lines, "", "  "+st.Dim.Render("system: ")+chat.Sanitize(firstLine(m.sess.Conv.System)))
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return lines[:h]
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func (m *Model) headerView() string {
	st := m.styles
	t := m.sess.Conv.Title
	if t == "" {
		t = "new conversation"
	}
	left := st.Header.Render(" hone") + st.HeaderDim.Render(" · ") + chat.Sanitize(t)
	right := st.HeaderDim.Render("ctrl+s history · ? help ")
	gap := m.width - lipgloss.Width(left) - lipgloss.Width(right)
	if gap < 1 {
		return fit(left, m.width)
	}
	return left + strings.Repeat(" ", gap) + right
}

func (m *Model) separatorView() string {
	st := m.styles
	var label string
	switch {
	case m.notice != "" && m.noticeErr:
		label = st.Error.Render(" " + chat.Sanitize(m.notice) + " ")
	case m.notice != "":
		label = st.Notice.Render(" " + chat.Sanitize(m.notice) + " ")
	case m.generating():
		label = st.Dim.Render(" esc stop ")
	case m.focus == focusTranscript:
		label = st.Dim.Render(" ↑↓ select · +/- rate · r regenerate · ←→ 2/3 · e edit · c compare · y copy ")
	default:
		label = st.Dim.Render(" enter send · shift+enter newline · tab transcript ")
	}
	label = ansi.Truncate(label, max(m.width-2, 0), "…")
	rest := max(m.width-2-lipgloss.Width(label), 0)
	return st.Separator.Render("──") + label + st.Separator.Render(strings.Repeat("─", rest))
}

func (m *Model) statusView() string {
	st := m.styles
	parts := []string{chat.Sanitize(m.sess.Model)}
	if m.opts.PolicyLabel != "" {
		parts = append(parts, chat.Sanitize(m.opts.PolicyLabel))
	}
	if m.live != nil {
		el := time.Since(m.live.start)
		if !m.live.first.IsZero() {
			gen := time.Since(m.live.first).Seconds()
			if gen > 0 && m.live.pieces > 1 {
				parts = append(parts, fmt.Sprintf("%.1f tok/s", float64(m.live.pieces-1)/gen))
			}
			parts = append(parts, "TTFT "+fmtDur(m.live.first.Sub(m.live.start)))
		} else {
			parts = append(parts, "thinking "+fmtDur(el))
		}
	} else if m.last.Tokens > 0 {
		if tps := m.last.TokensPerSecond(); tps > 0 {
			parts = append(parts, fmt.Sprintf("%.1f tok/s", tps))
		}
		if m.last.TTFT > 0 {
			parts = append(parts, "TTFT "+fmtDur(m.last.TTFT))
		}
	}
	if m.sess.Engine != nil && m.sess.Engine.ContextLen() > 0 {
		parts = append(parts, fmt.Sprintf("ctx %d/%d", m.lastCtx, m.sess.Engine.ContextLen()))
	}
	if m.sess.Store == nil {
		parts = append(parts, "not logged")
	}
	left := st.Status.Render(" " + strings.Join(parts, " · "))
	f := "input"
	if m.focus == focusTranscript {
		f = "transcript"
	}
	right := st.StatusKey.Render(f+" ") + st.Status.Render("· tab ")
	gap := m.width - lipgloss.Width(left) - lipgloss.Width(right)
	if gap < 1 {
		return fit(left, m.width)
	}
	return left + strings.Repeat(" ", gap) + right
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	default:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
}

// View draws the screen.
func (m *Model) View() tea.View {
	var v tea.View
	v.AltScreen = true
	v.WindowTitle = "hone"
	if m.quitting {
		return v
	}
	dlg, isDialog := m.overlay.(*reasonDialog)
	if m.overlay != nil && !isDialog {
		ov := m.overlay.View()
		ov.AltScreen = true
		ov.WindowTitle = v.WindowTitle
		return ov
	}
	h := m.transcriptHeight()
	var b strings.Builder
	b.Grow((m.width + 16) * m.height)
	b.WriteString(m.headerView())
	b.WriteByte('\n')
	for _, l := range m.transcriptView(h) {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	b.WriteString(m.separatorView())
	b.WriteByte('\n')
	if isDialog {
		lines, c := dlg.dialogLines()
		for len(lines) < inputHeight {
			lines = append(lines, "")
		}
		b.WriteString(strings.Join(lines[:inputHeight], "\n"))
		if c != nil {
			c.Y += 2 + h
			v.Cursor = c
		}
	} else {
		b.WriteString(m.input.View())
	}
	b.WriteByte('\n')
	b.WriteString(m.statusView())
	v.SetContent(b.String())
	if m.focus == focusInput && !isDialog {
		if c := m.input.Cursor(); c != nil {
			c.Y += 2 + h
			v.Cursor = c
		}
	}
	return v
}
