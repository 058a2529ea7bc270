package tui

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/hone-ai/hone/chat"
	"github.com/hone-ai/hone/feedback"
)

// storedConversation writes a conversation straight through the store:
// one question with two sibling replies.
func storedConversation(t *testing.T, st *feedback.Store, title, q, r1, r2 string) (user, a, b int64) {
	t.Helper()
	ctx := context.Background()
	c, err := st.CreateConversation(ctx, feedback.NewConversation{Title: title, Model: "tiny"})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	user, err = st.AppendMessage(ctx, feedback.Message{ConversationID: c.ID, Role: feedback.RoleUser, Content: q, CreatedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	a, _ = st.AppendMessage(ctx, feedback.Message{ConversationID: c.ID, ParentID: user, Role: feedback.RoleAssistant, Content: r1, Model: "tiny", CreatedAt: at})
	b, _ = st.AppendMessage(ctx, feedback.Message{ConversationID: c.ID, ParentID: user, Role: feedback.RoleAssistant, Content: r2, Model: "tiny", CreatedAt: at})
	return
}

func testStore(t *testing.T) *feedback.Store {
	t.Helper()
	st, err := feedback.Open(context.Background(), filepath.Join(t.TempDir(), "hone.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func pressA(a *Annotate, keys ...string) {
	for _, k := range keys {
		_, cmd := a.Update(keyMsg(k))
		if cmd != nil {
			ch := make(chan tea.Msg, 1)
			go func() { ch <- cmd() }()
			select {
			case msg := <-ch:
				if msg != nil {
					a.Update(msg)
				}
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

func TestAnnotateQueue(t *testing.T) {
	ctx := context.Background()
	st := testStore(t)
	_, a, b := storedConversation(t, st, "haiku", "Write a haiku about rain.", "Rain on the tin roof", "Grey clouds gather **slow**")
	items, err := chat.BuildQueue(ctx, st, "ann")
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 3 {
		t.Fatalf("queue has %d items, want 2 replies and 1 pair", len(items))
	}
	m := NewAnnotate(ctx, st, "ann", items, true)
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	v := m.View()
	checkSize(t, v, 80, 24)
	golden(t, "annotate_reply_80x24", screen(v))
	// 👎 with reason 1 ("wrong"), no comment.
	pressA(m, "-", "1", "enter")
	if m.pos != 1 {
		t.Fatalf("pos %d after rating", m.pos)
	}
	pressA(m, "s") // skip the second reply
	v = m.View()
	checkSize(t, v, 80, 24)
	golden(t, "annotate_pair_80x24", screen(v))
	pressA(m, "2") // the second reply is better
	if !strings.Contains(screen(m.View()), "Done: 0 👍, 1 👎, 1 pairs, 1 skipped.") {
		t.Fatalf("done screen:\n%s", screen(m.View()))
	}
	rs, _ := st.Ratings(ctx, a)
	if len(rs) != 1 || rs[0].Value != -1 || rs[0].Reason != "wrong" || rs[0].Rater != "ann" {
		t.Fatalf("ratings %+v", rs)
	}
	pairs, _ := st.Pairs(ctx, feedback.Window{})
	if len(pairs) != 1 || pairs[0].ChosenID != b || pairs[0].RejectedID != a || pairs[0].Source != feedback.SourceCompare {
		t.Fatalf("pairs %+v", pairs)
	}
	// Undo back to the first reply clears its rating.
	pressA(m, "u", "u", "u")
	if rs, _ := st.Ratings(ctx, a); len(rs) != 0 || m.pos != 0 {
		t.Fatalf("undo left %+v at %d", rs, m.pos)
	}
}
