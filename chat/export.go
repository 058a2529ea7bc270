package chat

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// ExportMarkdown writes the active path of a conversation as Markdown.
func ExportMarkdown(w io.Writer, c *Conversation) error {
	var b strings.Builder
	t := c.Title
	if t == "" {
		t = "Conversation"
	}
	fmt.Fprintf(&b, "# %s\n\n", t)
	if c.System != "" {
		fmt.Fprintf(&b, "> **System:** %s\n\n", strings.ReplaceAll(c.System, "\n", "\n> "))
	}
	for _, m := range c.Path() {
		switch m.Role {
		case RoleUser:
			b.WriteString("## You\n\n")
		default:
			name := m.Model
			if name == "" {
				name = "hone"
			}
			fmt.Fprintf(&b, "## %s", name)
			if m.Rating > 0 {
				b.WriteString(" 👍")
			} else if m.Rating < 0 {
				b.WriteString(" 👎")
			}
			if m.Reason != "" {
				fmt.Fprintf(&b, " (%s)", m.Reason)
			}
			if m.Stopped {
				b.WriteString(" _(stopped)_")
			}
			b.WriteString("\n\n")
		}
		b.WriteString(m.Content)
		b.WriteString("\n\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("chat: export markdown: %w", err)
	}
	return nil
}

// exportMessage is one message in the JSON export (the whole tree).
type exportMessage struct {
	ID         int64     `json:"id"`
	ParentID   int64     `json:"parent_id,omitempty"`
	Role       string    `json:"role"`
	Content    string    `json:"content"`
	Created    time.Time `json:"created_at"`
	Model      string    `json:"model,omitempty"`
	Policy     int64     `json:"policy_version,omitempty"`
	Stopped    bool      `json:"stopped,omitempty"`
	Rating     int       `json:"rating,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Comment    string    `json:"comment,omitempty"`
	OnPath     bool      `json:"on_active_path"`
	Tokens     int       `json:"completion_tokens,omitempty"`
	PromptToks int       `json:"prompt_tokens,omitempty"`
}

type exportConversation struct {
	ID       int64           `json:"id"`
	Title    string          `json:"title"`
	System   string          `json:"system_prompt,omitempty"`
	Created  time.Time       `json:"created_at"`
	Messages []exportMessage `json:"messages"`
}

// ExportJSON writes the whole tree of a conversation (every branch, with
// the active path marked) as one indented JSON object.
func ExportJSON(w io.Writer, c *Conversation) error {
	on := map[int64]bool{}
	for _, m := range c.Path() {
		on[m.ID] = true
	}
	out := exportConversation{ID: c.ID, Title: c.Title, System: c.System, Created: c.Created, Messages: []exportMessage{}}
	var walk func(parent int64)
	walk = func(parent int64) {
		for _, m := range c.Children(parent) {
			out.Messages = append(out.Messages, exportMessage{ID: m.ID, ParentID: m.ParentID, Role: m.Role,
				Content: m.Content, Created: m.Created, Model: m.Model, Policy: m.Policy, Stopped: m.Stopped,
				Rating: m.Rating, Reason: m.Reason, Comment: m.Comment, OnPath: on[m.ID], Tokens: m.Stats.Tokens,
				PromptToks: m.Stats.PromptTokens})
			walk(m.ID)
		}
	}
	walk(0)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("chat: export json: %w", err)
	}
	return nil
}
