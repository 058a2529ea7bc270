package chat

import (
	"context"
	"fmt"

	"github.com/hone-ai/hone/feedback"
)

// QueueStore is what the annotation queue reads (*feedback.Store
// satisfies it).
type QueueStore interface {
	ListConversations(ctx context.Context, limit, offset int) ([]feedback.Conversation, error)
	Conversation(ctx context.Context, id int64) (*feedback.Tree, error)
}

// QueueItem is one thing for an annotator to judge: a reply to rate, or
// two replies to the same message to compare (B is set).
type QueueItem struct {
	ConversationID int64
	Title          string
	Context        []Turn // the system prompt and the conversation up to the reply
	A              feedback.Message
	B              *feedback.Message // set for a pair
}

// IsPair reports whether the item compares two replies.
func (q QueueItem) IsPair() bool { return q.B != nil }

// BuildQueue lists, oldest conversation first, every finished reply the
// rater has not rated and every pair of sibling replies the rater has
// neither compared nor rated apart (👍 vs 👎 already makes a pair).
func BuildQueue(ctx context.Context, st QueueStore, rater string) ([]QueueItem, error) {
	var convs []feedback.Conversation
	for off := 0; ; off += 200 {
		cs, err := st.ListConversations(ctx, 200, off)
		if err != nil {
			return nil, fmt.Errorf("chat: annotation queue: %w", err)
		}
		convs = append(convs, cs...)
		if len(cs) < 200 {
			break
		}
	}
	var items []QueueItem
	for i := len(convs) - 1; i >= 0; i-- {
		t, err := st.Conversation(ctx, convs[i].ID)
		if err != nil {
			return nil, fmt.Errorf("chat: annotation queue: conversation %d: %w", convs[i].ID, err)
		}
		items = append(items, queueOf(t, rater)...)
	}
	return items, nil
}

func queueOf(t *feedback.Tree, rater string) []QueueItem {
	rated := map[int64]int{}
	for _, r := range t.Ratings {
		if r.Rater == rater {
			rated[r.MessageID] = r.Value
		}
	}
	type key struct{ a, b int64 }
	compared := map[key]bool{}
	for _, c := range t.Comparisons {
		if c.Rater == rater {
			compared[key{min(c.ChosenID, c.RejectedID), max(c.ChosenID, c.RejectedID)}] = true
		}
	}
	context := func(parent int64) []Turn {
		var turns []Turn
		if t.Conversation.SystemPrompt != "" {
			turns = append(turns, Turn{Role: RoleSystem, Content: t.Conversation.SystemPrompt})
		}
		for _, m := range t.Path(parent) {
			turns = append(turns, Turn{Role: string(m.Role), Content: m.Content})
		}
		return turns
	}
	judgeable := func(m feedback.Message) bool {
		return m.Role == feedback.RoleAssistant && m.Content != "" &&
			(m.Status == feedback.StatusComplete || m.Status == feedback.StatusStopped || m.Status == "")
	}
	var items, pairs []QueueItem
	seenParent := map[int64]bool{}
	for _, m := range t.Messages {
		if !judgeable(m) {
			continue
		}
		if _, ok := rated[m.ID]; !ok {
			items = append(items, QueueItem{ConversationID: t.Conversation.ID, Title: t.Conversation.Title,
				Context: context(m.ParentID), A: m})
		}
		if seenParent[m.ParentID] {
			continue
		}
		seenParent[m.ParentID] = true
		var sib []feedback.Message
		for _, s := range t.Children(m.ParentID) {
			if judgeable(s) {
				sib = append(sib, s)
			}
		}
		for j := 0; j+1 < len(sib); j++ {
			a, b := sib[j], sib[j+1]
			va, vb := rated[a.ID], rated[b.ID]
			if compared[key{min(a.ID, b.ID), max(a.ID, b.ID)}] || (va != 0 && vb != 0 && va != vb) {
				continue
			}
			bb := b
			pairs = append(pairs, QueueItem{ConversationID: t.Conversation.ID, Title: t.Conversation.Title,
				Context: context(m.ParentID), A: a, B: &bb})
		}
	}
	return append(items, pairs...)
}
