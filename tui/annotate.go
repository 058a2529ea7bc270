package tui

import (
	"context"
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/hone-ai/hone/chat"
	"github.com/hone-ai/hone/feedback"
)

// AnnotateStore is what the annotation queue writes (*feedback.Store
// satisfies it).
type AnnotateStore interface {
	Rate(ctx context.Context, r feedback.RatingInput) (feedback.Rating, error)
	ClearRating(ctx context.Context, messageID int64, rater string) (bool, error)
	Compare(ctx context.Context, c feedback.ComparisonInput) (feedback.Comparison, error)
}

// judgement is what was done with one queue item, for undo and counts.
type judgement struct {
	value  int   // +1 / -1 rating, 0 skipped
	chosen int64 // pair: the reply chosen (0: skipped)
}

// Annotate is the annotators' queue: unrated replies one at a time with
// their context (+ / - / s skip / u undo, then an optional reason) and
// pairs of sibling replies side by side (1 / 2). Progress shows n / total.
type Annotate struct {
	ctx           context.Context
	st            AnnotateStore
	rater         string
	items         []chat.QueueItem
	done          []judgement
	pos           int
	styles        Styles
	md            *markdown
	width, height int
	dialog        *reasonDialog
	notice        string
	noticeErr     bool
	quitting      bool
}

// NewAnnotate returns the queue screen over items.
func NewAnnotate(ctx context.Context, st AnnotateStore, rater string, items []chat.QueueItem, dark bool) *Annotate {
	return &Annotate{ctx: ctx, st: st, rater: rater, items: items, done: make([]judgement, len(items)),
		styles: NewStyles(dark), md: newMarkdown(dark), width: 80, height: 24}
}

// Counts returns how many replies were rated up and down, pairs chosen
// and items skipped so far.
func (a *Annotate) Counts() (up, down, pairs, skipped int) {
	for i := 0; i < a.pos && i < len(a.done); i++ {
		j := a.done[i]
		switch {
		case j.value > 0:
			up++
		case j.value < 0:
			down++
		case j.chosen != 0:
			pairs++
		default:
			skipped++
		}
	}
	return
}

func (a *Annotate) Init() tea.Cmd { return tea.RequestBackgroundColor }

func (a *Annotate) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		a.width, a.height = msg.Width, msg.Height
		return a, nil
	case tea.BackgroundColorMsg:
		a.styles = NewStyles(msg.IsDark())
		a.md.setTheme(msg.IsDark())
		return a, nil
	case reasonDoneMsg:
		a.dialog = nil
		it := a.items[a.pos]
		if msg.reason != "" || msg.comment != "" {
			if _, err := a.st.Rate(a.ctx, feedback.RatingInput{MessageID: it.A.ID, Rater: a.rater,
				Value: a.done[a.pos].value, Reason: msg.reason, Comment: msg.comment}); err != nil {
				a.notice, a.noticeErr = err.Error(), true
				return a, nil
			}
		}
		a.pos++
		return a, a.quitIfDone()
	case tea.KeyPressMsg:
		if a.dialog != nil {
			d, cmd := a.dialog.Update(msg)
			a.dialog = d.(*reasonDialog)
			return a, cmd
		}
		return a, a.onKey(msg)
	}
	return a, nil
}

func (a *Annotate) quitIfDone() tea.Cmd {
	if a.pos >= len(a.items) {
		a.notice, a.noticeErr = "queue done — q quits, u undoes", false
	}
	return nil
}

func (a *Annotate) onKey(k tea.KeyPressMsg) tea.Cmd {
	key := k.String()
	if k.Text == "+" || k.Text == "-" {
		key = k.Text
	}
	a.notice = ""
	switch key {
	case "q", "esc", "ctrl+c":
		a.quitting = true
		return tea.Quit
	case "u", "backspace":
		if a.pos == 0 {
			a.notice = "nothing to undo"
			return nil
		}
		a.pos--
		it, j := a.items[a.pos], a.done[a.pos]
		if j.value != 0 {
			if _, err := a.st.ClearRating(a.ctx, it.A.ID, a.rater); err != nil {
				a.notice, a.noticeErr = err.Error(), true
			}
		}
		a.done[a.pos] = judgement{}
		if j.chosen != 0 {
			a.notice = "pick again: the new choice replaces the old one"
		}
		return nil
	}
	if a.pos >= len(a.items) {
		return nil
	}
	it := a.items[a.pos]
	switch key {
	case "s", "space", "n":
		a.done[a.pos] = judgement{}
		a.pos++
		return a.quitIfDone()
	}
	if it.IsPair() {
		var chosen, rejected int64
		switch key {
		case "1", "left", "a":
			chosen, rejected = it.A.ID, it.B.ID
		case "2", "right", "b":
			chosen, rejected = it.B.ID, it.A.ID
		default:
			return nil
		}
		if _, err := a.st.Compare(a.ctx, feedback.ComparisonInput{ChosenID: chosen, RejectedID: rejected,
			Rater: a.rater, Source: feedback.SourceCompare}); err != nil {
			a.notice, a.noticeErr = err.Error(), true
			return nil
		}
		a.done[a.pos] = judgement{chosen: chosen}
		a.pos++
		return a.quitIfDone()
	}
	v := 0
	switch key {
	case "+", "=", "y":
		v = 1
	case "-", "_":
		v = -1
	default:
		return nil
	}
	if _, err := a.st.Rate(a.ctx, feedback.RatingInput{MessageID: it.A.ID, Rater: a.rater, Value: v}); err != nil {
		a.notice, a.noticeErr = err.Error(), true
		return nil
	}
	a.done[a.pos] = judgement{value: v}
	a.dialog = newReasonDialog(a.styles, it.A.ID, v, a.width)
	return nil
}

func (a *Annotate) View() tea.View {
	st := a.styles
	var v tea.View
	v.AltScreen = true
	v.WindowTitle = "hone annotate"
	if a.quitting {
		return v
	}
	total := len(a.items)
	n := min(a.pos+1, total)
	head := st.Header.Render(" hone · annotate") + st.HeaderDim.Render(" · rater "+chat.Sanitize(a.rater))
	prog := st.StatusKey.Render(fmt.Sprintf("%d / %d ", n, total))
	if a.pos >= total {
		prog = st.Notice.Render(fmt.Sprintf("done %d / %d ", total, total))
	}
	gap := max(a.width-lipgloss.Width(head)-lipgloss.Width(prog), 1)
	lines := []string{fit(head+strings.Repeat(" ", gap)+prog, a.width)}
	bodyH := a.height - 3 // header, separator, footer
	if a.dialog != nil {
		bodyH -= 3
	}
	var body []string
	switch {
	case total == 0:
		body = []string{"", "  " + st.Dim.Render("Nothing to annotate: every reply is rated by "+chat.Sanitize(a.rater)+".")}
	case a.pos >= total:
		up, down, pairs, skipped := a.Counts()
		body = []string{"", "  " + st.Notice.Render(fmt.Sprintf("Done: %d 👍, %d 👎, %d pairs, %d skipped.", up, down, pairs, skipped))}
	default:
		body = a.itemLines(a.items[a.pos], bodyH)
	}
	for len(body) < bodyH {
		body = append(body, "")
	}
	lines = append(lines, body[:bodyH]...)
	sep := st.Separator.Render("── ")
	if a.notice != "" {
		style := st.Notice
		if a.noticeErr {
			style = st.Error
		}
		sep += style.Render(chat.Sanitize(a.notice)) + " "
	}
	sep += st.Separator.Render(strings.Repeat("─", max(a.width-lipgloss.Width(sep), 0)))
	lines = append(lines, fit(sep, a.width))
	var cur *tea.Cursor
	if a.dialog != nil {
		dl, c := a.dialog.dialogLines()
		if c != nil {
			c.Y += len(lines)
			cur = c
		}
		lines = append(lines, dl...)
	}
	keys := " + good · - bad · s skip · u undo · q quit"
	if a.pos < total && a.items[a.pos].IsPair() {
		keys = " 1 / ← first is better · 2 / → second is better · s skip · u undo · q quit"
	}
	lines = append(lines, fit(st.Status.Render(keys), a.width))
	v.SetContent(strings.Join(lines, "\n"))
	v.Cursor = cur
	return v
}

// itemLines shows the end of the context (what fits) and the reply, or
// the two replies side by side.
func (a *Annotate) itemLines(it chat.QueueItem, h int) []string {
	st := a.styles
	w := max(a.width-4, 10)
	var ctx []string
	for _, t := range it.Context {
		label := st.User.Render("You")
		switch t.Role {
		case chat.RoleSystem:
			label = st.Dim.Render("System")
		case chat.RoleAssistant:
			label = st.Assistant.Render("Assistant")
		}
		ctx = append(ctx, "  "+label)
		for _, l := range wrapPlain(chat.Sanitize(t.Content), w) {
			ctx = append(ctx, "  "+l)
		}
	}
	var reply []string
	if it.IsPair() {
		paneW := max((a.width-1)/2, 12)
		inner := max(paneW-4, 8)
		rows := max(h/2, 3)
		pane := func(m feedback.Message, label string) string {
			ls := a.md.render(m.ID, m.Content, inner)
			if len(ls) > rows {
				ls = append(ls[:rows-1:rows-1], st.Dim.Render("…"))
			}
			for len(ls) < rows {
				ls = append(ls, "")
			}
			for i := range ls {
				ls[i] = fit(ls[i], inner)
			}
			return st.Pane.Width(paneW).Render(fit(st.Title.Render(label), inner) + "\n" + strings.Join(ls, "\n"))
		}
		joined := lipgloss.JoinHorizontal(lipgloss.Top, pane(it.A, "1  first"), pane(*it.B, "2  second"))
		reply = append([]string{"  " + st.Title.Render("Which reply is better?")}, strings.Split(joined, "\n")...)
	} else {
		reply = append(reply, "  "+st.Title.Render("Reply to judge")+st.Dim.Render(" · "+chat.Sanitize(it.A.Model)))
		for _, l := range a.md.render(it.A.ID, it.A.Content, w) {
			reply = append(reply, "  "+l)
		}
	}
	room := h - len(reply) - 1
	if room < 2 {
		// The reply takes the screen: keep its start.
		if len(reply) > h {
			reply = reply[:h]
		}
		return reply
	}
	if len(ctx) > room {
		ctx = append([]string{"  " + st.Dim.Render("…")}, ctx[len(ctx)-room+1:]...)
	}
	return append(append(ctx, ""), reply...)
}
