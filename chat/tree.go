// Package chat holds conversations as trees of messages (a regeneration is a
// sibling of the reply it replaces, an edited user message starts a new
// branch), the active path through a tree, context-window budgeting and the
// generation session that streams a reply and can be cancelled.
//
// It talks to a model through [Engine] and to the store through [Store],
// both small interfaces defined here; cmd/hone wires the real engine and the
// feedback store to them.
package chat

import (
	"fmt"
	"time"
)

// Roles of the messages in a conversation.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Stats are the measurements of one generated reply.
type Stats struct {
	PromptTokens int           // tokens in the prompt the model saw
	Tokens       int           // tokens generated
	TTFT         time.Duration // start of the request to the first token
	PromptTime   time.Duration // prefill
	GenTime      time.Duration // decoding after the first token
	StopReason   string        // "eos", "stop", "length", "context", "cancelled"
	Dropped      int           // oldest turns left out to fit the context window
}

// TokensPerSecond is the decoding speed of the reply (0 when unknown).
func (s Stats) TokensPerSecond() float64 {
	if s.GenTime <= 0 || s.Tokens == 0 {
		return 0
	}
	return float64(s.Tokens) / s.GenTime.Seconds()
}

// Message is one node of a conversation tree.
type Message struct {
	ID       int64
	ParentID int64 // 0 for the first message of a branch
	Role     string
	Content  string
	Created  time.Time
	Stopped  bool     // the user stopped the reply (kept as it was)
	Model    string   // model or policy that wrote an assistant reply
	Policy   int64    // policy version that wrote the reply, 0 when none
	Sampling Sampling // settings the reply was sampled with
	Stats    Stats

	Rating  int    // the local user's rating: +1, -1 or 0
	Reason  string // reason picked with the rating
	Comment string

	children []int64
	active   int // index into children of the child on the active path
}

// Conversation is a tree of messages with one active path from a root to a
// leaf. It is not safe for concurrent use: the UI owns it and generation
// goroutines hand finished messages back to be added.
type Conversation struct {
	ID      int64 // 0 until stored
	Title   string
	System  string
	Created time.Time

	msgs       map[int64]*Message
	roots      []int64
	activeRoot int
	localSeq   int64
}

// NewConversation returns an empty conversation.
func NewConversation(id int64, title, system string) *Conversation {
	return &Conversation{ID: id, Title: title, System: system, Created: time.Now(), msgs: map[int64]*Message{}}
}

// LocalID returns an id unique within this conversation for messages that
// are not stored (--no-log).
func (c *Conversation) LocalID() int64 {
	for {
		c.localSeq++
		if _, taken := c.msgs[c.localSeq]; !taken {
			return c.localSeq
		}
	}
}

// Len is the number of messages in the tree.
func (c *Conversation) Len() int { return len(c.msgs) }

// Get returns a message by id.
func (c *Conversation) Get(id int64) (*Message, bool) {
	m, ok := c.msgs[id]
	return m, ok
}

// Add inserts m under m.ParentID ("" = a new root) and makes it the active
// child there, so the active path goes through it.
func (c *Conversation) Add(m *Message) error {
	if m == nil || m.ID == 0 {
		return fmt.Errorf("chat: add message: no id")
	}
	if _, dup := c.msgs[m.ID]; dup {
		return fmt.Errorf("chat: add message %d: id already in conversation %d", m.ID, c.ID)
	}
	if m.ParentID == 0 {
		c.roots = append(c.roots, m.ID)
		c.activeRoot = len(c.roots) - 1
	} else {
		p, ok := c.msgs[m.ParentID]
		if !ok {
			return fmt.Errorf("chat: add message %d: parent %d not in conversation %d", m.ID, m.ParentID, c.ID)
		}
		p.children = append(p.children, m.ID)
		p.active = len(p.children) - 1
	}
	if m.Created.IsZero() {
		m.Created = time.Now()
	}
	c.msgs[m.ID] = m
	return nil
}

// Path returns the active path from its root to its leaf.
func (c *Conversation) Path() []*Message {
	var path []*Message
	if len(c.roots) == 0 {
		return nil
	}
	id := c.roots[c.activeRoot]
	for id != 0 {
		m := c.msgs[id]
		path = append(path, m)
		id = 0
		if len(m.children) > 0 {
			id = m.children[m.active]
		}
	}
	return path
}

// PathTo returns the path from the root down to id (inclusive).
func (c *Conversation) PathTo(id int64) []*Message {
	var rev []*Message
	for id != 0 {
		m, ok := c.msgs[id]
		if !ok {
			break
		}
		rev = append(rev, m)
		id = m.ParentID
	}
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	return rev
}

// Leaf returns the last message of the active path, or nil.
func (c *Conversation) Leaf() *Message {
	p := c.Path()
	if len(p) == 0 {
		return nil
	}
	return p[len(p)-1]
}

// Children returns the replies to id (0 = the roots) in creation order.
func (c *Conversation) Children(id int64) []*Message {
	ids := c.roots
	if id != 0 {
		p, ok := c.msgs[id]
		if !ok {
			return nil
		}
		ids = p.children
	}
	out := make([]*Message, len(ids))
	for i, cid := range ids {
		out[i] = c.msgs[cid]
	}
	return out
}

// Siblings returns the messages sharing id's parent (id included) and id's
// index among them.
func (c *Conversation) Siblings(id int64) ([]*Message, int) {
	m, ok := c.msgs[id]
	if !ok {
		return nil, -1
	}
	sib := c.Children(m.ParentID)
	for i, s := range sib {
		if s.ID == id {
			return sib, i
		}
	}
	return sib, -1
}

// Select makes id part of the active path: at every level from the root
// down to id, the child on the way to id becomes the active one. The path
// below id follows id's own active children.
func (c *Conversation) Select(id int64) error {
	path := c.PathTo(id)
	if len(path) == 0 || path[len(path)-1].ID != id {
		return fmt.Errorf("chat: select %d: not in conversation %d", id, c.ID)
	}
	for i, m := range path {
		var ids []int64
		if i == 0 {
			ids = c.roots
		} else {
			ids = path[i-1].children
		}
		for j, cid := range ids {
			if cid == m.ID {
				if i == 0 {
					c.activeRoot = j
				} else {
					path[i-1].active = j
				}
			}
		}
	}
	return nil
}

// Cycle moves the active path to id's sibling delta steps away (wrapping
// around) and returns that sibling.
func (c *Conversation) Cycle(id int64, delta int) (*Message, error) {
	sib, i := c.Siblings(id)
	if i < 0 {
		return nil, fmt.Errorf("chat: cycle %d: not in conversation %d", id, c.ID)
	}
	n := len(sib)
	j := ((i+delta)%n + n) % n
	if err := c.Select(sib[j].ID); err != nil {
		return nil, err
	}
	return sib[j], nil
}

// Remove deletes a message and everything below it (used when a stored
// conversation is edited outside the tree, and by tests).
func (c *Conversation) Remove(id int64) {
	m, ok := c.msgs[id]
	if !ok {
		return
	}
	for _, cid := range append([]int64(nil), m.children...) {
		c.Remove(cid)
	}
	drop := func(ids []int64, active int) ([]int64, int) {
		for i, x := range ids {
			if x == id {
				ids = append(ids[:i:i], ids[i+1:]...)
				if active >= i && active > 0 {
					active--
				}
				break
			}
		}
		return ids, active
	}
	if m.ParentID == 0 {
		c.roots, c.activeRoot = drop(c.roots, c.activeRoot)
	} else if p, ok := c.msgs[m.ParentID]; ok {
		p.children, p.active = drop(p.children, p.active)
	}
	delete(c.msgs, id)
}
