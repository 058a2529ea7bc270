package tui

import (
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/hone-ai/hone/chat"
)

// compareDoneMsg ends a comparison; chosen 0 means no choice.
type compareDoneMsg struct{ chosen, rejected int64 }

// compare shows two replies to the same message side by side and asks
// which is better.
type compare struct {
	styles        Styles
	md            *markdown
	a, b          *chat.Message
	width, height int
	cursor        int // 0 left, 1 right
	offset        int
}

func newCompare(st Styles, md *markdown, a, b *chat.Message, w, h int) *compare {
	return &compare{styles: st, md: md, a: a, b: b, width: w, height: h}
}

func (c *compare) Init() tea.Cmd { return nil }

func (c *compare) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		c.width, c.height = msg.Width, msg.Height
	case tea.KeyPressMsg:
		choose := func(i int) tea.Cmd {
			ch, rj := c.a.ID, c.b.ID
			if i == 1 {
				ch, rj = rj, ch
			}
			return func() tea.Msg { return compareDoneMsg{chosen: ch, rejected: rj} }
		}
		switch msg.String() {
		case "left", "h":
			c.cursor = 0
		case "right", "l", "tab":
			c.cursor = 1 - c.cursor
			if msg.String() == "right" || msg.String() == "l" {
				c.cursor = 1
			}
		case "1", "a":
			return c, choose(0)
		case "2", "b":
			return c, choose(1)
		case "enter":
			return c, choose(c.cursor)
		case "down", "j", "pgdown":
			c.offset++
		case "up", "k", "pgup":
			c.offset = max(c.offset-1, 0)
		case "esc", "s", "q", "ctrl+c":
			return c, func() tea.Msg { return compareDoneMsg{} }
		}
	}
	return c, nil
}

func (c *compare) View() tea.View {
	st := c.styles
	paneW := max((c.width-1)/2, 12)
	inner := max(paneW-4, 8)   // border and padding
	rows := max(c.height-5, 1) // header, status, two borders, pane title
	pane := func(m *chat.Message, label string, active bool) string {
		lines := c.md.render(m.ID, m.Content, inner)
		off := min(c.offset, max(len(lines)-rows, 0))
		lines = lines[off:]
		if len(lines) > rows {
			lines = lines[:rows]
		}
		for len(lines) < rows {
			lines = append(lines, "")
		}
		for i := range lines {
			lines[i] = fit(lines[i], inner)
		}
		s := st.Pane
		if active {
			s = st.PaneActive
		}
		head := fit(st.Title.Render(label), inner)
		return s.Width(paneW).Render(head + "\n" + strings.Join(lines, "\n"))
	}
	left := pane(c.a, "1  first reply", c.cursor == 0)
	right := pane(c.b, "2  second reply", c.cursor == 1)
	body := lipgloss.JoinHorizontal(lipgloss.Top, left, right)
	var b strings.Builder
	b.WriteString(fit(st.Header.Render(" hone · which reply is better?"), c.width))
	b.WriteByte('\n')
	b.WriteString(body)
	b.WriteByte('\n')
	b.WriteString(fit(st.Status.Render(" 1/2 choose · ←→ enter choose · ↑↓ scroll · esc no choice"), c.width))
	return tea.NewView(b.String())
}
