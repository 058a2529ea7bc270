package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hone-ai/hone/feedback"
)

// Store is what a chat session needs from the feedback store
// (*feedback.Store satisfies it).
type Store interface {
	CreateConversation(ctx context.Context, c feedback.NewConversation) (feedback.Conversation, error)
	AppendMessage(ctx context.Context, m feedback.Message) (int64, error)
	UpdateMessage(ctx context.Context, id int64, u feedback.MessageUpdate) error
	SetLeaf(ctx context.Context, conversationID, messageID int64) error
	Rate(ctx context.Context, r feedback.RatingInput) (feedback.Rating, error)
	ClearRating(ctx context.Context, messageID int64, rater string) (bool, error)
	Compare(ctx context.Context, c feedback.ComparisonInput) (feedback.Comparison, error)
	Conversation(ctx context.Context, id int64) (*feedback.Tree, error)
}

// DefaultRater names the person at the keyboard in the ratings table.
const DefaultRater = "user"

// Session is one conversation being chatted in: the tree, the engine that
// writes replies, the sampling settings and, unless nothing is logged, the
// store every message and rating goes to. Its methods run on the UI
// goroutine except Request.Run, which only reads its own snapshot.
type Session struct {
	Engine   Engine
	Store    Store // nil: nothing is logged (--no-log)
	Conv     *Conversation
	Sampling Sampling
	Model    string // model name recorded with replies
	Policy   int64  // policy version that writes the replies, 0 when none
	Rater    string
}

// NewSession starts an empty conversation (stored lazily, on its first
// message).
func NewSession(e Engine, st Store, system string) *Session {
	name := ""
	if e != nil {
		name = e.Name()
	}
	return &Session{Engine: e, Store: st, Conv: NewConversation(0, "", system), Sampling: DefaultSampling(),
		Model: name, Rater: DefaultRater}
}

// Logged reports whether the session writes to a store.
func (s *Session) Logged() bool { return s.Store != nil }

// title makes a conversation title from its first message.
func title(text string) string {
	t := strings.Join(strings.Fields(text), " ")
	const max = 60
	if utf8.RuneCountInString(t) > max {
		r := []rune(t)
		t = string(r[:max-1]) + "…"
	}
	return t
}

func (s *Session) ensureConversation(ctx context.Context, first string) error {
	if s.Conv.ID != 0 || s.Store == nil {
		if s.Conv.Title == "" {
			s.Conv.Title = title(first)
		}
		return nil
	}
	c, err := s.Store.CreateConversation(ctx, feedback.NewConversation{Title: title(first), SystemPrompt: s.Conv.System, Model: s.Model})
	if err != nil {
		return fmt.Errorf("chat: create conversation: %w", err)
	}
	s.Conv.ID, s.Conv.Title = c.ID, c.Title
	return nil
}

// AddUser stores a user message under parentID (0 = a new root) and adds
// it to the tree on the active path.
func (s *Session) AddUser(ctx context.Context, parentID int64, text string) (*Message, error) {
	if strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("chat: empty message")
	}
	if err := s.ensureConversation(ctx, text); err != nil {
		return nil, err
	}
	m := &Message{ParentID: parentID, Role: RoleUser, Content: text, Created: time.Now()}
	if s.Store != nil {
		id, err := s.Store.AppendMessage(ctx, feedback.Message{ConversationID: s.Conv.ID, ParentID: parentID,
			Role: feedback.RoleUser, Content: text, Status: feedback.StatusComplete})
		if err != nil {
			return nil, fmt.Errorf("chat: store user message: %w", err)
		}
		m.ID = id
	} else {
		m.ID = s.Conv.LocalID()
	}
	if err := s.Conv.Add(m); err != nil {
		return nil, err
	}
	return m, nil
}

// Request is a prepared reply: the prompt as the model will see it and a
// snapshot of everything Run needs, so Run can go on another goroutine
// while the UI keeps the tree.
type Request struct {
	ParentID int64
	Prompt   []int
	Dropped  int // oldest messages left out to fit the context window
	Sampling Sampling

	engine  Engine
	store   Store
	convID  int64
	localID int64
	model   string
	policy  int64
}

// Prepare builds the prompt for a reply to parentID (the path from the
// root to it) within the context window.
func (s *Session) Prepare(parentID int64) (*Request, error) {
	if s.Engine == nil {
		return nil, fmt.Errorf("chat: no model loaded")
	}
	path := s.Conv.PathTo(parentID)
	if len(path) == 0 || path[len(path)-1].ID != parentID {
		return nil, fmt.Errorf("chat: reply to %d: no such message in conversation %d", parentID, s.Conv.ID)
	}
	sp := s.Sampling
	if sp.Seed == 0 {
		sp.Seed = uint64(time.Now().UnixNano())
	}
	toks, dropped, err := FitPrompt(s.Engine, s.Conv.System, path, sp.MaxTokens)
	if err != nil {
		return nil, err
	}
	r := &Request{ParentID: parentID, Prompt: toks, Dropped: dropped, Sampling: sp, engine: s.Engine,
		store: s.Store, convID: s.Conv.ID, model: s.Model, policy: s.Policy}
	if s.Store == nil {
		r.localID = s.Conv.LocalID()
	}
	return r, nil
}

// samplingJSON is how sampling settings are recorded with a message.
func samplingJSON(sp Sampling) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"temperature": sp.Temperature, "top_p": sp.TopP, "top_k": sp.TopK,
		"min_p": sp.MinP, "repeat_penalty": sp.RepeatPenalty, "seed": sp.Seed, "max_tokens": sp.MaxTokens})
	return b
}

// Run generates the reply, calling emit with each piece of text as it
// arrives (on Run's goroutine). Cancelling ctx stops the reply; what was
// generated is kept and marked stopped. The reply is stored (status
// "streaming" while it is written, then "complete" or "stopped") and
// returned; the caller adds it to the tree with Session.Commit.
func (r *Request) Run(ctx context.Context, emit func(piece string)) (*Message, error) {
	start := time.Now()
	m := &Message{ParentID: r.ParentID, Role: RoleAssistant, Created: start, Model: r.model, Policy: r.policy,
		Sampling: r.Sampling, ID: r.localID}
	// Writes to the store must outlive a cancelled reply.
	bg := context.WithoutCancel(ctx)
	if r.store != nil {
		pv := r.policy
		id, err := r.store.AppendMessage(bg, feedback.Message{ConversationID: r.convID, ParentID: r.ParentID,
			Role: feedback.RoleAssistant, Status: feedback.StatusStreaming, PolicyVersion: pv, Model: r.model,
			Sampling: samplingJSON(r.Sampling), PromptTokens: len(r.Prompt)})
		if err != nil {
			return nil, fmt.Errorf("chat: store reply: %w", err)
		}
		m.ID = id
	}
	var first time.Time
	g, err := r.engine.Generate(ctx, r.Prompt, r.Sampling, func(piece string) error {
		if first.IsZero() {
			// A reply starts at its first visible character (templates
			// end the prompt with "Assistant:" and the model goes on
			// with a space).
			piece = strings.TrimLeft(piece, " \t\r\n")
			if piece == "" {
				return nil
			}
			first = time.Now()
		}
		if emit != nil {
			emit(piece)
		}
		return nil
	})
	stopped := ctx.Err() != nil || g.StopReason == "cancelled"
	if err != nil && !(stopped && errors.Is(err, context.Canceled)) {
		if r.store != nil {
			_ = r.store.UpdateMessage(bg, m.ID, feedback.MessageUpdate{Content: g.Text, Status: feedback.StatusError})
		}
		return nil, fmt.Errorf("chat: generate: %w", err)
	}
	if stopped {
		g.StopReason = "cancelled"
	}
	g.Text = strings.TrimSpace(g.Text)
	m.Content, m.Stopped = g.Text, stopped
	m.Stats = Stats{PromptTokens: g.PromptTokens, Tokens: g.Tokens, PromptTime: g.PromptTime, GenTime: g.GenTime,
		StopReason: g.StopReason, Dropped: r.Dropped}
	if m.Stats.PromptTokens == 0 {
		m.Stats.PromptTokens = len(r.Prompt)
	}
	if !first.IsZero() {
		m.Stats.TTFT = first.Sub(start)
		if m.Stats.GenTime <= 0 {
			m.Stats.GenTime = time.Since(first)
		}
	}
	if r.store != nil {
		status := feedback.StatusComplete
		if stopped {
			status = feedback.StatusStopped
		}
		if err := r.store.UpdateMessage(bg, m.ID, feedback.MessageUpdate{Content: g.Text, Status: status,
			PromptTokens: m.Stats.PromptTokens, CompletionTokens: g.Tokens, PromptDuration: m.Stats.PromptTime,
			GenDuration: m.Stats.GenTime}); err != nil {
			return nil, fmt.Errorf("chat: store reply %d: %w", m.ID, err)
		}
	}
	return m, nil
}

// Commit adds a reply returned by Request.Run to the tree.
func (s *Session) Commit(m *Message) error { return s.Conv.Add(m) }

// Reply is Prepare, Run and Commit in one call (one-shot mode, tests).
func (s *Session) Reply(ctx context.Context, parentID int64, emit func(string)) (*Message, error) {
	r, err := s.Prepare(parentID)
	if err != nil {
		return nil, err
	}
	m, err := r.Run(ctx, emit)
	if err != nil {
		return nil, err
	}
	return m, s.Commit(m)
}

// Select makes id part of the active path and records the leaf the user
// now looks at, so `hone -c` resumes on that branch.
func (s *Session) Select(ctx context.Context, id int64) error {
	if err := s.Conv.Select(id); err != nil {
		return err
	}
	return s.saveLeaf(ctx)
}

func (s *Session) saveLeaf(ctx context.Context) error {
	if s.Store == nil || s.Conv.ID == 0 {
		return nil
	}
	leaf := s.Conv.Leaf()
	if leaf == nil {
		return nil
	}
	if err := s.Store.SetLeaf(ctx, s.Conv.ID, leaf.ID); err != nil {
		return fmt.Errorf("chat: save branch of conversation %d: %w", s.Conv.ID, err)
	}
	return nil
}

// Cycle moves to id's sibling delta steps away (←/→ between regenerations).
func (s *Session) Cycle(ctx context.Context, id int64, delta int) (*Message, error) {
	m, err := s.Conv.Cycle(id, delta)
	if err != nil {
		return nil, err
	}
	return m, s.saveLeaf(ctx)
}

// Rate sets the user's rating of a reply: value +1 or -1; rating a reply
// again with the value it already has clears the rating (value 0 clears
// too). It returns the rating the reply now has.
func (s *Session) Rate(ctx context.Context, id int64, value int) (int, error) {
	m, ok := s.Conv.Get(id)
	if !ok {
		return 0, fmt.Errorf("chat: rate %d: no such message", id)
	}
	if m.Role != RoleAssistant {
		return m.Rating, fmt.Errorf("chat: rate %d: only replies can be rated", id)
	}
	if value == m.Rating || value == 0 {
		if s.Store != nil {
			if _, err := s.Store.ClearRating(ctx, id, s.Rater); err != nil {
				return m.Rating, fmt.Errorf("chat: clear rating of %d: %w", id, err)
			}
		}
		m.Rating, m.Reason, m.Comment = 0, "", ""
		return 0, nil
	}
	if value != 1 && value != -1 {
		return m.Rating, fmt.Errorf("chat: rate %d: value %d is not +1 or -1", id, value)
	}
	if s.Store != nil {
		if _, err := s.Store.Rate(ctx, feedback.RatingInput{MessageID: id, Rater: s.Rater, Value: value}); err != nil {
			return m.Rating, fmt.Errorf("chat: rate %d: %w", id, err)
		}
	}
	m.Rating, m.Reason, m.Comment = value, "", ""
	return value, nil
}

// Annotate adds a reason and comment to the rating a reply already has.
func (s *Session) Annotate(ctx context.Context, id int64, reason, comment string) error {
	m, ok := s.Conv.Get(id)
	if !ok || m.Rating == 0 {
		return fmt.Errorf("chat: reason for %d: the reply is not rated", id)
	}
	if s.Store != nil {
		if _, err := s.Store.Rate(ctx, feedback.RatingInput{MessageID: id, Rater: s.Rater, Value: m.Rating,
			Reason: reason, Comment: comment}); err != nil {
			return fmt.Errorf("chat: reason for %d: %w", id, err)
		}
	}
	m.Reason, m.Comment = reason, comment
	return nil
}

// Choose records that the user preferred chosen over rejected (two replies
// to the same message, side by side), and moves the active path to chosen.
func (s *Session) Choose(ctx context.Context, chosen, rejected int64) error {
	c, ok1 := s.Conv.Get(chosen)
	r, ok2 := s.Conv.Get(rejected)
	if !ok1 || !ok2 || c.ParentID != r.ParentID || chosen == rejected {
		return fmt.Errorf("chat: compare %d and %d: not two replies to the same message", chosen, rejected)
	}
	if s.Store != nil {
		if _, err := s.Store.Compare(ctx, feedback.ComparisonInput{ChosenID: chosen, RejectedID: rejected,
			Rater: s.Rater, Source: feedback.SourceCompare}); err != nil {
			return fmt.Errorf("chat: store comparison %d > %d: %w", chosen, rejected, err)
		}
	}
	return s.Select(ctx, chosen)
}

// Load opens a stored conversation as a session on its saved branch, with
// the ratings the rater gave.
func Load(ctx context.Context, st Store, e Engine, id int64, rater string) (*Session, error) {
	t, err := st.Conversation(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("chat: load conversation %d: %w", id, err)
	}
	s := NewSession(e, st, t.Conversation.SystemPrompt)
	if rater != "" {
		s.Rater = rater
	}
	c := s.Conv
	c.ID, c.Title, c.Created = t.Conversation.ID, t.Conversation.Title, t.Conversation.CreatedAt
	for _, fm := range t.Messages {
		if string(fm.Role) == RoleSystem {
			continue
		}
		m := &Message{ID: fm.ID, ParentID: fm.ParentID, Role: string(fm.Role), Content: fm.Content, Created: fm.CreatedAt,
			Stopped: fm.Status == feedback.StatusStopped, Model: fm.Model, Policy: fm.PolicyVersion}
		m.Stats = Stats{PromptTokens: fm.PromptTokens, Tokens: fm.CompletionTokens, PromptTime: fm.PromptDuration,
			GenTime: fm.GenDuration}
		if _, ok := c.Get(m.ParentID); !ok {
			m.ParentID = 0
		}
		if err := c.Add(m); err != nil {
			return nil, fmt.Errorf("chat: load conversation %d: %w", id, err)
		}
	}
	for _, r := range t.Ratings {
		if r.Rater != s.Rater {
			continue
		}
		if m, ok := c.Get(r.MessageID); ok {
			m.Rating, m.Reason, m.Comment = r.Value, r.Reason, r.Comment
		}
	}
	if t.Conversation.LeafID != 0 {
		if _, ok := c.Get(t.Conversation.LeafID); ok {
			_ = c.Select(t.Conversation.LeafID)
		}
	}
	return s, nil
}
