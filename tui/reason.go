package tui

import (
	"strconv"
	"strings"

	"charm.land/bubbles/v2/textarea"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// Reasons offered after a rating.
func reasonsFor(value int) []string {
	if value > 0 {
		return []string{"helpful", "correct", "well written", "creative", "concise"}
	}
	return []string{"wrong", "unhelpful", "off topic", "repetitive", "too long", "nonsense", "unsafe"}
}

// reasonDoneMsg ends the reason dialog; empty reason and comment mean
// skipped.
type reasonDoneMsg struct {
	id              int64
	reason, comment string
}

// reasonDialog asks, after a rating, for an optional reason from a short
// list and then an optional comment.
type reasonDialog struct {
	styles  Styles
	id      int64
	value   int
	choices []string
	cursor  int
	reason  string
	step    int // 0 reason, 1 comment
	comment textarea.Model
	width   int
}

func newReasonDialog(st Styles, id int64, value, width int) *reasonDialog {
	ta := textarea.New()
	ta.ShowLineNumbers = false
	ta.Prompt = "› "
	ta.Placeholder = "comment (optional)"
	ta.SetVirtualCursor(false)
	ta.SetHeight(1)
	ta.SetWidth(max(width-4, 10))
	ta.SetStyles(textarea.DefaultStyles(st.Dark))
	ta.KeyMap.InsertNewline.SetEnabled(false)
	return &reasonDialog{styles: st, id: id, value: value, choices: reasonsFor(value), comment: ta, width: width}
}

func (d *reasonDialog) Init() tea.Cmd { return nil }

func (d *reasonDialog) done() tea.Cmd {
	r := reasonDoneMsg{id: d.id, reason: d.reason, comment: strings.TrimSpace(d.comment.Value())}
	return func() tea.Msg { return r }
}

func (d *reasonDialog) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		d.width = msg.Width
		d.comment.SetWidth(max(d.width-4, 10))
		return d, nil
	case tea.KeyPressMsg:
		key := msg.String()
		if d.step == 0 {
			switch key {
			case "up", "k", "left", "h", "shift+tab":
				d.cursor = (d.cursor + len(d.choices) - 1) % len(d.choices)
			case "down", "j", "tab", "right", "l":
				d.cursor = (d.cursor + 1) % len(d.choices)
			case "enter":
				d.reason = d.choices[d.cursor]
				d.step = 1
				return d, d.comment.Focus()
			case "esc", "ctrl+c":
				return d, d.done()
			default:
				if n, err := strconv.Atoi(key); err == nil && n >= 1 && n <= len(d.choices) {
					d.cursor = n - 1
					d.reason = d.choices[n-1]
					d.step = 1
					return d, d.comment.Focus()
				}
			}
			return d, nil
		}
		switch key {
		case "enter":
			return d, d.done()
		case "esc", "ctrl+c":
			d.comment.Reset()
			return d, d.done()
		}
	}
	var cmd tea.Cmd
	d.comment, cmd = d.comment.Update(msg)
	return d, cmd
}

// dialogLines renders the dialog for the bottom of the chat screen, with
// the cursor position relative to its first line (nil: none).
func (d *reasonDialog) dialogLines() ([]string, *tea.Cursor) {
	st := d.styles
	mark := st.Up.Render("👍")
	if d.value < 0 {
		mark = st.Down.Render("👎")
	}
	if d.step == 0 {
		// The choices, wrapped onto two lines when the terminal is narrow.
		rows := []string{" ", " "}
		row := 0
		for i, c := range d.choices {
			label := " " + strconv.Itoa(i+1) + " " + c + " "
			if i == d.cursor {
				label = st.Selected.Render(label)
			}
			if row == 0 && lipgloss.Width(rows[0])+lipgloss.Width(label) > d.width {
				row = 1
			}
			rows[row] += label
		}
		head := " " + mark + " Why? " + st.Dim.Render("(1-"+strconv.Itoa(len(d.choices))+", ←→ enter, esc skip)")
		return []string{fit(head, d.width), fit(rows[0], d.width), fit(rows[1], d.width)}, nil
	}
	head := " " + mark + " " + d.reason + st.Dim.Render(" — add a comment? (enter save, esc skip)")
	lines := []string{fit(head, d.width), " " + d.comment.View(), ""}
	c := d.comment.Cursor()
	if c != nil {
		c.Y++
		c.X++
	}
	return lines, c
}

func (d *reasonDialog) View() tea.View {
	lines, c := d.dialogLines()
	v := tea.NewView(strings.Join(lines, "\n"))
	v.Cursor = c
	return v
}
