package tui

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"charm.land/bubbles/v2/textarea"
	tea "charm.land/bubbletea/v2"

	"github.com/hone-ai/hone/chat"
	"github.com/hone-ai/hone/feedback"
)

// History is what the history screen needs from the store
// (*feedback.Store satisfies it).
type History interface {
	ListConversations(ctx context.Context, limit, offset int) ([]feedback.Conversation, error)
	Search(ctx context.Context, query string, limit int) ([]feedback.SearchHit, error)
	RenameConversation(ctx context.Context, id int64, title string) error
	DeleteConversation(ctx context.Context, id int64) error
}

type histItem struct {
	id     int64
	title  string
	detail string
}

type histListMsg struct {
	query string
	items []histItem
	err   error
}

type resumeMsg struct {
	sess *chat.Session
	err  error
}

type deletedMsg struct{ id int64 }

type histNoticeMsg struct {
	text string
	err  bool
}

type histMode int

const (
	histBrowse histMode = iota
	histRename
	histConfirmDelete
)

// history lists stored conversations with full-text search; enter resumes
// one, ctrl+r renames, ctrl+d deletes (after a yes), ctrl+e / ctrl+j export
// it as Markdown / JSON.
type history struct {
	ctx           context.Context
	h             History
	sess          *chat.Session
	styles        Styles
	width, height int
	dir           string
	search        textarea.Model
	rename        textarea.Model
	items         []histItem
	query         string
	cursor        int
	offset        int
	mode          histMode
	notice        string
	noticeErr     bool
}

func newTextLine(st Styles, placeholder string, width int) textarea.Model {
	ta := textarea.New()
	ta.ShowLineNumbers = false
	ta.Prompt = "› "
	ta.Placeholder = placeholder
	ta.SetVirtualCursor(false)
	ta.SetHeight(1)
	ta.SetWidth(max(width-2, 10))
	ta.SetStyles(textarea.DefaultStyles(st.Dark))
	ta.KeyMap.InsertNewline.SetEnabled(false)
	return ta
}

func newHistory(ctx context.Context, h History, sess *chat.Session, st Styles, w, ht int, dir string) *history {
	return &history{ctx: ctx, h: h, sess: sess, styles: st, width: w, height: ht, dir: dir,
		search: newTextLine(st, "search all conversations…", w), rename: newTextLine(st, "new title", w)}
}

func (m *history) Init() tea.Cmd {
	return tea.Batch(m.search.Focus(), m.fetch(""))
}

func (m *history) fetch(q string) tea.Cmd {
	ctx, h := m.ctx, m.h
	return func() tea.Msg {
		if strings.TrimSpace(q) == "" {
			cs, err := h.ListConversations(ctx, 200, 0)
			items := make([]histItem, 0, len(cs))
			for _, c := range cs {
				t := c.Title
				if t == "" {
					t = "(untitled)"
				}
				items = append(items, histItem{id: c.ID, title: t,
					detail: fmt.Sprintf("%s · %d messages", c.UpdatedAt.Local().Format("2006-01-02 15:04"), c.MessageCount)})
			}
			return histListMsg{query: q, items: items, err: err}
		}
		hits, err := h.Search(ctx, q, 100)
		seen := map[int64]bool{}
		var items []histItem
		for _, hit := range hits {
			if seen[hit.ConversationID] {
				continue
			}
			seen[hit.ConversationID] = true
			items = append(items, histItem{id: hit.ConversationID, title: hit.Title, detail: hit.Snippet})
		}
		return histListMsg{query: q, items: items, err: err}
	}
}

func (m *history) selectedItem() (histItem, bool) {
	if m.cursor < 0 || m.cursor >= len(m.items) {
		return histItem{}, false
	}
	return m.items[m.cursor], true
}

func (m *history) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.search.SetWidth(max(m.width-2, 10))
		m.rename.SetWidth(max(m.width-2, 10))
		return m, nil
	case histListMsg:
		if msg.query != m.search.Value() {
			return m, nil // an older query
		}
		if msg.err != nil {
			m.notice, m.noticeErr = msg.err.Error(), true
		}
		m.items, m.query = msg.items, msg.query
		m.cursor = min(m.cursor, max(len(m.items)-1, 0))
		return m, nil
	case histNoticeMsg:
		m.notice, m.noticeErr = msg.text, msg.err
		return m, nil
	case deletedMsg:
		m.notice, m.noticeErr = "deleted", false
		return m, m.fetch(m.search.Value())
	case tea.KeyPressMsg:
		return m, m.onKey(msg)
	}
	var cmd tea.Cmd
	if m.mode == histRename {
		m.rename, cmd = m.rename.Update(msg)
	} else {
		m.search, cmd = m.search.Update(msg)
	}
	return m, cmd
}

func (m *history) onKey(k tea.KeyPressMsg) tea.Cmd {
	key := k.String()
	it, ok := m.selectedItem()
	switch m.mode {
	case histConfirmDelete:
		m.mode = histBrowse
		if (key == "y" || key == "Y") && ok {
			ctx, h, id := m.ctx, m.h, it.id
			return func() tea.Msg {
				if err := h.DeleteConversation(ctx, id); err != nil {
					return histNoticeMsg{text: fmt.Sprintf("delete conversation %d: %v", id, err), err: true}
				}
				return deletedMsg{id: id}
			}
		}
		m.notice = "not deleted"
		return nil
	case histRename:
		switch key {
		case "esc":
			m.mode = histBrowse
			return m.search.Focus()
		case "enter":
			m.mode = histBrowse
			title := strings.TrimSpace(m.rename.Value())
			if !ok || title == "" {
				return m.search.Focus()
			}
			ctx, h, id, q := m.ctx, m.h, it.id, m.search.Value()
			if m.sess.Conv.ID == id {
				m.sess.Conv.Title = title
			}
			return tea.Batch(m.search.Focus(), func() tea.Msg {
				if err := h.RenameConversation(ctx, id, title); err != nil {
					return histNoticeMsg{text: fmt.Sprintf("rename conversation %d: %v", id, err), err: true}
				}
				return nil
			}, m.fetch(q))
		}
		var cmd tea.Cmd
		m.rename, cmd = m.rename.Update(k)
		return cmd
	}
	m.notice = ""
	switch key {
	case "esc", "ctrl+c", "ctrl+s":
		return closeOverlay
	case "up", "ctrl+p":
		m.cursor = max(m.cursor-1, 0)
		return nil
	case "down", "ctrl+n":
		m.cursor = min(m.cursor+1, max(len(m.items)-1, 0))
		return nil
	case "enter":
		if !ok {
			return nil
		}
		ctx, st, e, id, rater := m.ctx, m.sess.Store, m.sess.Engine, it.id, m.sess.Rater
		return func() tea.Msg {
			s, err := chat.Load(ctx, st, e, id, rater)
			return resumeMsg{sess: s, err: err}
		}
	case "ctrl+r":
		if !ok {
			return nil
		}
		m.mode = histRename
		m.search.Blur()
		m.rename.SetValue(it.title)
		return m.rename.Focus()
	case "ctrl+d":
		if ok {
			m.mode = histConfirmDelete
		}
		return nil
	case "ctrl+e", "ctrl+j":
		if !ok {
			return nil
		}
		asJSON := key == "ctrl+j"
		ctx, st, e, id, rater, dir := m.ctx, m.sess.Store, m.sess.Engine, it.id, m.sess.Rater, m.dir
		return func() tea.Msg {
			p, err := exportConversation(ctx, st, e, id, rater, dir, asJSON)
			if err != nil {
				return histNoticeMsg{text: err.Error(), err: true}
			}
			return histNoticeMsg{text: "exported to " + p}
		}
	}
	before := m.search.Value()
	var cmd tea.Cmd
	m.search, cmd = m.search.Update(k)
	if m.search.Value() != before {
		m.cursor = 0
		return tea.Batch(cmd, m.fetch(m.search.Value()))
	}
	return cmd
}

// exportConversation writes conversation id to dir as
// hone-conversation-ID.md or .json (atomically) and returns the path.
func exportConversation(ctx context.Context, st chat.Store, e chat.Engine, id int64, rater, dir string, asJSON bool) (string, error) {
	s, err := chat.Load(ctx, st, e, id, rater)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	ext := ".md"
	if asJSON {
		ext = ".json"
		err = chat.ExportJSON(&buf, s.Conv)
	} else {
		err = chat.ExportMarkdown(&buf, s.Conv)
	}
	if err != nil {
		return "", err
	}
	if dir == "" {
		dir = "."
	}
	p := filepath.Join(dir, fmt.Sprintf("hone-conversation-%d%s", id, ext))
	if err := writeFileAtomic(p, buf.Bytes()); err != nil {
		return "", err
	}
	return p, nil
}

func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".hone-export-*")
	if err != nil {
		return fmt.Errorf("export %s: %w", path, err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if werr != nil || serr != nil || cerr != nil {
		os.Remove(tmp)
		return fmt.Errorf("export %s: write: %v %v %v", path, werr, serr, cerr)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("export %s: %w", path, err)
	}
	return nil
}

func (m *history) View() tea.View {
	st := m.styles
	var b strings.Builder
	b.WriteString(fit(st.Header.Render(" hone · history"), m.width))
	b.WriteByte('\n')
	input := m.search
	if m.mode == histRename {
		input = m.rename
	}
	b.WriteString(" " + input.View())
	b.WriteByte('\n')
	rows := max(m.height-3, 1) // header, search line, status
	per := 2
	vis := max(rows/per, 1)
	if m.cursor < m.offset {
		m.offset = m.cursor
	}
	if m.cursor >= m.offset+vis {
		m.offset = m.cursor - vis + 1
	}
	var lines []string
	if len(m.items) == 0 {
		msg := "no conversations yet"
		if m.search.Value() != "" {
			msg = "nothing matches"
		}
		lines = append(lines, "  "+st.Dim.Render(msg))
	}
	for i := m.offset; i < len(m.items) && i < m.offset+vis; i++ {
		it := m.items[i]
		title := " " + chat.Sanitize(it.title)
		if it.id == m.sess.Conv.ID {
			title += st.Dim.Render("  (open)")
		}
		if i == m.cursor {
			lines = append(lines, st.SelectBar.Render("▌")+st.Selected.Render(fit(title, m.width-1)))
		} else {
			lines = append(lines, " "+title)
		}
		lines = append(lines, "   "+st.Dim.Render(chat.Sanitize(strings.ReplaceAll(it.detail, "\n", " "))))
	}
	for i := 0; i < rows; i++ {
		l := ""
		if i < len(lines) {
			l = lines[i]
		}
		b.WriteString(fit(l, m.width))
		b.WriteByte('\n')
	}
	var status string
	switch {
	case m.mode == histConfirmDelete:
		it, _ := m.selectedItem()
		status = st.Error.Render(fmt.Sprintf(" delete %q and all its ratings? y / n", chat.Sanitize(it.title)))
	case m.mode == histRename:
		status = st.Status.Render(" enter save · esc cancel")
	case m.notice != "" && m.noticeErr:
		status = st.Error.Render(" " + chat.Sanitize(m.notice))
	case m.notice != "":
		status = st.Notice.Render(" " + chat.Sanitize(m.notice))
	default:
		status = st.Status.Render(" enter resume · ctrl+r rename · ctrl+d delete · ctrl+e/ctrl+j export md/json · esc back")
	}
	b.WriteString(fit(status, m.width))
	v := tea.NewView(b.String())
	if c := input.Cursor(); c != nil {
		c.X++
		c.Y++
		v.Cursor = c
	}
	return v
}
