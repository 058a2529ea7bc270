package tui

import (
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// keyHelp is one line of the help screen.
type keyHelp struct{ keys, what string }

type keySection struct {
	title string
	keys  []keyHelp
}

// helpSections lists every key of the chat screen.
func helpSections() []keySection {
	return []keySection{
		{"Writing", []keyHelp{
			{"enter", "send"},
			{"shift+enter", "new line"},
			{"ctrl+j", "new line"},
			{"alt+enter", "new line"},
			{"ctrl+o", "edit in $EDITOR"},
			{"esc", "stop the reply (kept)"},
			{"ctrl+c", "stop; quit when idle"},
			{"tab", "input ⇄ transcript"},
		}},
		{"Transcript", []keyHelp{
			{"↑ ↓  k j", "select a message"},
			{"+  -", "rate 👍/👎, again clears"},
			{"r", "regenerate (sibling)"},
			{"← →  h l", "previous / next sibling"},
			{"e", "edit → new branch"},
			{"c", "compare two replies"},
			{"y", "copy (OSC 52)"},
			{"g  G", "first / last message"},
			{"i  esc", "back to the input"},
		}},
		{"Anywhere", []keyHelp{
			{"pgup pgdn", "scroll"},
			{"ctrl+s", "history"},
			{"?  f1", "this help"},
		}},
		{"Commands", []keyHelp{
			{"/system TEXT", "system prompt, new chat"},
			{"/set NAME V", "temperature top_p"},
			{"", "top_k min_p seed"},
			{"", "repeat_penalty"},
			{"", "max_tokens"},
			{"/model FILE", "load another model"},
			{"/new  /help", "new chat · this help"},
		}},
		{"History (ctrl+s)", []keyHelp{
			{"type ↑ ↓", "search, pick"},
			{"enter", "resume"},
			{"ctrl+r", "rename"},
			{"ctrl+d", "delete (asks first)"},
			{"ctrl+e ctrl+j", "export Markdown / JSON"},
			{"esc", "back"},
		}},
	}
}

// help is the help screen: every key, scrollable when the terminal is short.
type help struct {
	styles        Styles
	width, height int
	offset        int
}

type closeOverlayMsg struct{}

func closeOverlay() tea.Msg { return closeOverlayMsg{} }

func newHelp(st Styles, w, h int) *help { return &help{styles: st, width: w, height: h} }

func (h *help) Init() tea.Cmd { return nil }

func (h *help) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		h.width, h.height = msg.Width, msg.Height
	case tea.KeyPressMsg:
		switch msg.String() {
		case "down", "j", "pgdown", "space":
			h.offset++
		case "up", "k", "pgup":
			h.offset = max(h.offset-1, 0)
		default:
			return h, closeOverlay
		}
	}
	return h, nil
}

// sectionLines renders sections as one column of lines.
func (h *help) sectionLines(secs []keySection) []string {
	st := h.styles
	keyW := 0
	for _, s := range secs {
		for _, k := range s.keys {
			keyW = max(keyW, lipgloss.Width(k.keys))
		}
	}
	var out []string
	for i, s := range secs {
		if i > 0 {
			out = append(out, "")
		}
		out = append(out, st.Title.Render(s.title))
		for _, k := range s.keys {
			kw := lipgloss.Width(k.keys)
			out = append(out, " "+st.Key.Render(k.keys)+strings.Repeat(" ", keyW-kw+2)+k.what)
		}
	}
	return out
}

// lines lays the sections out in two columns when they fit side by side,
// else in one.
func (h *help) lines() []string {
	secs := helpSections()
	left, right := h.sectionLines(secs[:2]), h.sectionLines(secs[2:])
	colW := (h.width - 2) / 2 // a space left of each column
	widest := 0
	for _, l := range append(append([]string(nil), left...), right...) {
		widest = max(widest, lipgloss.Width(l))
	}
	if widest > colW {
		return h.sectionLines(secs)
	}
	var out []string
	for i := 0; i < max(len(left), len(right)); i++ {
		l, r := "", ""
		if i < len(left) {
			l = left[i]
		}
		if i < len(right) {
			r = right[i]
		}
		out = append(out, " "+fit(l, colW)+" "+r)
	}
	return out
}

func (h *help) View() tea.View {
	st := h.styles
	body := h.lines()
	rows := max(h.height-2, 1)
	if h.offset > max(len(body)-rows, 0) {
		h.offset = max(len(body)-rows, 0)
	}
	body = body[h.offset:]
	var b strings.Builder
	b.WriteString(fit(st.Header.Render(" hone · keys"), h.width))
	b.WriteByte('\n')
	for i := 0; i < rows; i++ {
		l := ""
		if i < len(body) {
			l = body[i]
		}
		b.WriteString(fit(l, h.width))
		b.WriteByte('\n')
	}
	more := ""
	if len(body) > rows {
		more = "↓ more · "
	}
	b.WriteString(fit(st.Status.Render(" "+more+"any other key closes"), h.width))
	return tea.NewView(b.String())
}
