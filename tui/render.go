package tui

import (
	"strings"

	"charm.land/glamour/v2"
	gstyles "charm.land/glamour/v2/styles"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/hone-ai/hone/chat"
)

// markdown renders finished messages once with glamour and caches the
// lines, per message and width; the cache is dropped when the theme
// changes. Text is sanitized before glamour sees it, so escape sequences in
// a reply come out as inert text.
type markdown struct {
	dark  bool
	trs   map[int]*glamour.TermRenderer
	cache map[mdKey][]string
}

type mdKey struct {
	id    int64
	width int
}

func newMarkdown(dark bool) *markdown {
	return &markdown{dark: dark, trs: map[int]*glamour.TermRenderer{}, cache: map[mdKey][]string{}}
}

// setTheme switches light/dark, dropping the cache when it changes.
func (md *markdown) setTheme(dark bool) {
	if dark != md.dark {
		md.dark = dark
		clear(md.trs)
		clear(md.cache)
	}
}

// reset drops every cached rendering (another conversation is shown).
func (md *markdown) reset() { clear(md.cache) }

func (md *markdown) renderer(width int) *glamour.TermRenderer {
	if tr, ok := md.trs[width]; ok {
		return tr
	}
	cfg := gstyles.LightStyleConfig
	if md.dark {
		cfg = gstyles.DarkStyleConfig
	}
	zero := uint(0)
	cfg.Document.Margin = &zero
	cfg.Document.BlockPrefix, cfg.Document.BlockSuffix = "", ""
	tr, err := glamour.NewTermRenderer(glamour.WithStyles(cfg), glamour.WithWordWrap(width), glamour.WithPreservedNewLines())
	if err != nil {
		return nil
	}
	md.trs[width] = tr
	return tr
}

// render returns the lines of a finished message rendered as Markdown in
// width cells.
func (md *markdown) render(id int64, content string, width int) []string {
	width = max(width, 10)
	key := mdKey{id, width}
	if lines, ok := md.cache[key]; ok {
		return lines
	}
	tr := md.renderer(width)
	var lines []string
	clean := chat.Sanitize(content)
	out := ""
	if tr != nil {
		if s, err := tr.Render(clean); err == nil {
			out = s
		}
	}
	if out == "" {
		lines = wrapPlain(clean, width)
	} else {
		lines = trimBlank(strings.Split(strings.TrimRight(out, "\n"), "\n"))
		for i, l := range lines {
			// glamour pads to the wrap width; keep lines within it.
			if ansi.StringWidth(l) > width {
				lines[i] = ansi.Truncate(l, width, "")
			}
		}
	}
	if len(lines) == 0 {
		lines = []string{""}
	}
	md.cache[key] = lines
	return lines
}

// trimBlank drops blank lines at both ends.
func trimBlank(lines []string) []string {
	blank := func(s string) bool { return strings.TrimSpace(ansi.Strip(s)) == "" }
	for len(lines) > 0 && blank(lines[0]) {
		lines = lines[1:]
	}
	for len(lines) > 0 && blank(lines[len(lines)-1]) {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// wrapPlain sanitizes nothing (the caller did): it expands tabs and wraps
// text by terminal cells (wide characters count two), breaking words only
// when a word is longer than the line.
func wrapPlain(text string, width int) []string {
	width = max(width, 1)
	text = strings.ReplaceAll(text, "\t", "    ")
	var out []string
	for _, para := range strings.Split(text, "\n") {
		w := ansi.Wrap(para, width, "")
		out = append(out, strings.Split(w, "\n")...)
	}
	return out
}

// fit pads or truncates a styled line to exactly width cells.
func fit(s string, width int) string {
	w := lipgloss.Width(s)
	if w > width {
		return ansi.Truncate(s, width, "…")
	}
	return s + strings.Repeat(" ", width-w)
}
