package feedback

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// CreateConversation starts an empty conversation.
func (s *Store) CreateConversation(ctx context.Context, nc NewConversation) (Conversation, error) {
	var c Conversation
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		c, err = createConversation(ctx, tx, nc, s.stamp(time.Time{}))
		return err
	})
	if err != nil {
		return Conversation{}, fmt.Errorf("feedback: creating conversation: %w", err)
	}
	return c, nil
}

func createConversation(ctx context.Context, tx *sql.Tx, nc NewConversation, now time.Time) (Conversation, error) {
	res, err := tx.ExecContext(ctx,
		`INSERT INTO conversations (title, system_prompt, model, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
		nc.Title, nc.SystemPrompt, nc.Model, ms(now), ms(now))
	if err != nil {
		return Conversation{}, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return Conversation{}, err
	}
	return Conversation{ID: id, Title: nc.Title, SystemPrompt: nc.SystemPrompt, Model: nc.Model,
		CreatedAt: fromMS(ms(now)), UpdatedAt: fromMS(ms(now))}, nil
}

// AppendMessage adds a message under m.ParentID (0: a root) in
// m.ConversationID and makes it the conversation's leaf. It returns the new
// message's id. The parent must belong to the same conversation.
func (s *Store) AppendMessage(ctx context.Context, m Message) (int64, error) {
	var id int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		id, err = appendMessage(ctx, tx, m, s.stamp(m.CreatedAt))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("feedback: appending message to conversation %d: %w", m.ConversationID, err)
	}
	return id, nil
}

func appendMessage(ctx context.Context, tx *sql.Tx, m Message, now time.Time) (int64, error) {
	if !m.Role.valid() {
		return 0, fmt.Errorf("%w: role %q (want system, user or assistant)", ErrInvalid, m.Role)
	}
	if m.Status == "" {
		m.Status = StatusComplete
	}
	if !m.Status.valid() {
		return 0, fmt.Errorf("%w: status %q", ErrInvalid, m.Status)
	}
	var sampling sql.NullString
	if len(m.Sampling) > 0 {
		if !json.Valid(m.Sampling) {
			return 0, fmt.Errorf("%w: sampling is not valid JSON", ErrInvalid)
		}
		sampling = sql.NullString{String: string(m.Sampling), Valid: true}
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM conversations WHERE id = ?`, m.ConversationID).Scan(&n); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, fmt.Errorf("conversation %d: %w", m.ConversationID, ErrNotFound)
	}
	if m.ParentID != 0 {
		var conv int64
		err := tx.QueryRowContext(ctx, `SELECT conversation_id FROM messages WHERE id = ?`, m.ParentID).Scan(&conv)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("parent message %d: %w", m.ParentID, ErrNotFound)
		}
		if err != nil {
			return 0, err
		}
		if conv != m.ConversationID {
			return 0, fmt.Errorf("%w: parent message %d belongs to conversation %d, not %d", ErrInvalid, m.ParentID, conv, m.ConversationID)
		}
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO messages (conversation_id, parent_id, role, content, status,
		policy_version, model, sampling, prompt_tokens, completion_tokens, prompt_ms, gen_ms, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ConversationID, nullID(m.ParentID), string(m.Role), m.Content, string(m.Status),
		nullID(m.PolicyVersion), m.Model, sampling, m.PromptTokens, m.CompletionTokens,
		m.PromptDuration.Milliseconds(), m.GenDuration.Milliseconds(), ms(now))
	if err != nil {
		return 0, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE conversations SET leaf_id = ?, updated_at = max(updated_at, ?) WHERE id = ?`,
		id, ms(now), m.ConversationID); err != nil {
		return 0, err
	}
	return id, nil
}

// UpdateMessage replaces a message's content, status and generation stats
// (a streamed reply finishing, being stopped, or failing).
func (s *Store) UpdateMessage(ctx context.Context, id int64, u MessageUpdate) error {
	if u.Status == "" {
		u.Status = StatusComplete
	}
	if !u.Status.valid() {
		return fmt.Errorf("feedback: updating message %d: %w: status %q", id, ErrInvalid, u.Status)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE messages SET content = ?, status = ?, prompt_tokens = ?,
			completion_tokens = ?, prompt_ms = ?, gen_ms = ? WHERE id = ?`,
			u.Content, string(u.Status), u.PromptTokens, u.CompletionTokens,
			u.PromptDuration.Milliseconds(), u.GenDuration.Milliseconds(), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		_, err = tx.ExecContext(ctx, `UPDATE conversations SET updated_at = max(updated_at, ?)
			WHERE id = (SELECT conversation_id FROM messages WHERE id = ?)`, ms(s.stamp(time.Time{})), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("feedback: updating message %d: %w", id, err)
	}
	return nil
}

// SetLeaf records which message (branch) of a conversation the user is
// looking at, so resuming returns to it.
func (s *Store) SetLeaf(ctx context.Context, conversationID, messageID int64) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE conversations SET leaf_id = ?
			WHERE id = ? AND EXISTS (SELECT 1 FROM messages WHERE id = ? AND conversation_id = ?)`,
			messageID, conversationID, messageID, conversationID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("message %d in conversation %d: %w", messageID, conversationID, ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("feedback: setting leaf of conversation %d: %w", conversationID, err)
	}
	return nil
}

const messageCols = `m.id, m.conversation_id, m.parent_id, m.role, m.content, m.status, m.policy_version, m.model,
	m.sampling, m.prompt_tokens, m.completion_tokens, m.prompt_ms, m.gen_ms, m.created_at`

type scanner interface{ Scan(dest ...any) error }

func scanMessage(r scanner) (Message, error) {
	var m Message
	var parent, policy sql.NullInt64
	var sampling sql.NullString
	var role, status string
	var pms, gms, created int64
	if err := r.Scan(&m.ID, &m.ConversationID, &parent, &role, &m.Content, &status, &policy, &m.Model,
		&sampling, &m.PromptTokens, &m.CompletionTokens, &pms, &gms, &created); err != nil {
		return Message{}, err
	}
	m.ParentID, m.PolicyVersion = parent.Int64, policy.Int64
	m.Role, m.Status = Role(role), Status(status)
	if sampling.Valid {
		m.Sampling = json.RawMessage(sampling.String)
	}
	m.PromptDuration, m.GenDuration = time.Duration(pms)*time.Millisecond, time.Duration(gms)*time.Millisecond
	m.CreatedAt = fromMS(created)
	return m, nil
}

func queryMessages(ctx context.Context, q querier, query string, args ...any) ([]Message, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Message returns one message.
func (s *Store) Message(ctx context.Context, id int64) (Message, error) {
	var m Message
	err := retry(ctx, func() error {
		var err error
		m, err = scanMessage(s.db.QueryRowContext(ctx, `SELECT `+messageCols+` FROM messages m WHERE m.id = ?`, id))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Message{}, fmt.Errorf("feedback: message %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Message{}, fmt.Errorf("feedback: reading message %d: %w", id, err)
	}
	return m, nil
}

const convCols = `c.id, c.title, c.system_prompt, c.model, c.leaf_id, c.created_at, c.updated_at,
	(SELECT count(*) FROM messages WHERE conversation_id = c.id)`

func scanConversation(r scanner) (Conversation, error) {
	var c Conversation
	var leaf sql.NullInt64
	var created, updated int64
	if err := r.Scan(&c.ID, &c.Title, &c.SystemPrompt, &c.Model, &leaf, &created, &updated, &c.MessageCount); err != nil {
		return Conversation{}, err
	}
	c.LeafID, c.CreatedAt, c.UpdatedAt = leaf.Int64, fromMS(created), fromMS(updated)
	return c, nil
}

// ListConversations returns conversations, most recently updated first.
// limit <= 0 means all.
func (s *Store) ListConversations(ctx context.Context, limit, offset int) ([]Conversation, error) {
	if limit <= 0 {
		limit = -1
	}
	var out []Conversation
	err := retry(ctx, func() error {
		out = nil
		rows, err := s.db.QueryContext(ctx, `SELECT `+convCols+` FROM conversations c
			ORDER BY c.updated_at DESC, c.id DESC LIMIT ? OFFSET ?`, limit, max(offset, 0))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scanConversation(rows)
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("feedback: listing conversations: %w", err)
	}
	return out, nil
}

// LastConversation returns the most recently updated conversation, or
// ErrNotFound when there is none.
func (s *Store) LastConversation(ctx context.Context) (Conversation, error) {
	cs, err := s.ListConversations(ctx, 1, 0)
	if err != nil {
		return Conversation{}, err
	}
	if len(cs) == 0 {
		return Conversation{}, fmt.Errorf("feedback: last conversation: %w", ErrNotFound)
	}
	return cs[0], nil
}

// Tree is a whole conversation: every message (in id order, so parents come
// before children), every rating and comparison on them.
type Tree struct {
	Conversation Conversation
	Messages     []Message
	Ratings      []Rating
	Comparisons  []Comparison
}

// Message finds a message of the tree by id.
func (t *Tree) Message(id int64) (Message, bool) {
	for _, m := range t.Messages {
		if m.ID == id {
			return m, true
		}
	}
	return Message{}, false
}

// Children returns the messages whose parent is id (0: the roots), in id order.
func (t *Tree) Children(id int64) []Message {
	var out []Message
	for _, m := range t.Messages {
		if m.ParentID == id {
			out = append(out, m)
		}
	}
	return out
}

// Path returns the messages from the root down to leafID (inclusive);
// nil if leafID is not in the tree.
func (t *Tree) Path(leafID int64) []Message {
	byID := make(map[int64]Message, len(t.Messages))
	for _, m := range t.Messages {
		byID[m.ID] = m
	}
	var rev []Message
	for id := leafID; id != 0; {
		m, ok := byID[id]
		if !ok {
			return nil
		}
		rev = append(rev, m)
		id = m.ParentID
		if len(rev) > len(t.Messages) {
			return nil // a cycle cannot happen through the API; never loop forever
		}
	}
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	return rev
}

// Conversation returns a conversation with its whole message tree.
func (s *Store) Conversation(ctx context.Context, id int64) (*Tree, error) {
	var t *Tree
	err := s.read(ctx, func(tx *sql.Tx) error {
		t = &Tree{}
		c, err := scanConversation(tx.QueryRowContext(ctx, `SELECT `+convCols+` FROM conversations c WHERE c.id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		t.Conversation = c
		if t.Messages, err = queryMessages(ctx, tx, `SELECT `+messageCols+` FROM messages m
			WHERE m.conversation_id = ? ORDER BY m.id`, id); err != nil {
			return err
		}
		if t.Ratings, err = queryRatings(ctx, tx, `SELECT `+ratingCols+` FROM ratings r
			JOIN messages m ON m.id = r.message_id WHERE m.conversation_id = ? ORDER BY r.message_id, r.rater`, id); err != nil {
			return err
		}
		t.Comparisons, err = queryComparisons(ctx, tx, `SELECT `+comparisonCols+` FROM comparisons k
			JOIN messages m ON m.id = k.parent_id WHERE m.conversation_id = ? ORDER BY k.id`, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("feedback: conversation %d: %w", id, err)
	}
	return t, nil
}

// Siblings returns the messages sharing messageID's parent (the
// regenerations of a reply), itself included, in id order.
func (s *Store) Siblings(ctx context.Context, messageID int64) ([]Message, error) {
	var out []Message
	err := s.read(ctx, func(tx *sql.Tx) error {
		var conv int64
		var parent sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT conversation_id, parent_id FROM messages WHERE id = ?`, messageID).Scan(&conv, &parent)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if parent.Valid {
			out, err = queryMessages(ctx, tx, `SELECT `+messageCols+` FROM messages m WHERE m.parent_id = ? ORDER BY m.id`, parent.Int64)
		} else {
			out, err = queryMessages(ctx, tx, `SELECT `+messageCols+` FROM messages m
				WHERE m.conversation_id = ? AND m.parent_id IS NULL ORDER BY m.id`, conv)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("feedback: siblings of message %d: %w", messageID, err)
	}
	return out, nil
}

// RenameConversation sets a conversation's title.
func (s *Store) RenameConversation(ctx context.Context, id int64, title string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		return execOne(ctx, tx, `UPDATE conversations SET title = ? WHERE id = ?`, title, id)
	})
	if err != nil {
		return fmt.Errorf("feedback: renaming conversation %d: %w", id, err)
	}
	return nil
}

// DeleteConversation removes a conversation for good: its messages, their
// ratings and comparisons and their search index entries. A deleted
// conversation is what the user no longer wants kept, so it does not linger
// as training data either.
func (s *Store) DeleteConversation(ctx context.Context, id int64) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		return execOne(ctx, tx, `DELETE FROM conversations WHERE id = ?`, id)
	})
	if err != nil {
		return fmt.Errorf("feedback: deleting conversation %d: %w", id, err)
	}
	return nil
}

// Search finds messages whose content contains every whitespace-separated
// term of query (case-insensitive substring match, any script), best
// matches first. Terms of 3+ characters use the FTS5 trigram index;
// shorter ones are checked with LIKE (the index cannot see them).
func (s *Store) Search(ctx context.Context, query string, limit int) ([]SearchHit, error) {
	if limit <= 0 {
		limit = 50
	}
	var long, short []string
	for _, t := range strings.Fields(query) {
		if utf8.RuneCountInString(t) >= 3 {
			long = append(long, t)
		} else {
			short = append(short, t)
		}
	}
	if len(long) == 0 && len(short) == 0 {
		return nil, nil
	}
	var args []any
	var sqlText string
	likes := ""
	for _, t := range short {
		likes += ` AND m.content LIKE ? ESCAPE '\'`
		args = append(args, "%"+likeEscape(t)+"%")
	}
	if len(long) > 0 {
		quoted := make([]string, len(long))
		for i, t := range long {
			quoted[i] = `"` + strings.ReplaceAll(t, `"`, `""`) + `"`
		}
		sqlText = `SELECT m.conversation_id, m.id, m.role, c.title,
				snippet(messages_fts, 0, '[', ']', '…', 12), m.created_at, m.content
			FROM messages_fts f JOIN messages m ON m.id = f.rowid JOIN conversations c ON c.id = m.conversation_id
			WHERE messages_fts MATCH ?` + likes + ` ORDER BY f.rank, m.id DESC LIMIT ?`
		args = append([]any{strings.Join(quoted, " ")}, args...)
	} else {
		sqlText = `SELECT m.conversation_id, m.id, m.role, c.title, '', m.created_at, m.content
			FROM messages m JOIN conversations c ON c.id = m.conversation_id
			WHERE 1` + likes + ` ORDER BY m.id DESC LIMIT ?`
	}
	args = append(args, limit)
	var out []SearchHit
	err := retry(ctx, func() error {
		out = nil
		rows, err := s.db.QueryContext(ctx, sqlText, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var h SearchHit
			var role, content string
			var created int64
			if err := rows.Scan(&h.ConversationID, &h.MessageID, &role, &h.Title, &h.Snippet, &created, &content); err != nil {
				return err
			}
			h.Role, h.CreatedAt = Role(role), fromMS(created)
			if h.Snippet == "" {
				h.Snippet = snippet(content, short[0], 12)
			}
			out = append(out, h)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("feedback: searching for %q: %w", query, err)
	}
	return out, nil
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// snippet marks the first case-insensitive occurrence of term in text with
// [ ] and keeps about width runes of context either side.
func snippet(text, term string, width int) string {
	lt, lterm := strings.ToLower(text), strings.ToLower(term)
	i := strings.Index(lt, lterm)
	if i < 0 || len(lt) != len(text) { // lowering changed byte offsets: mark nothing
		return truncateRunes(text, 2*width)
	}
	j := i + len(term)
	pre, post := []rune(text[:i]), []rune(text[j:])
	prefix, suffix := "", ""
	if len(pre) > width {
		pre, prefix = pre[len(pre)-width:], "…"
	}
	if len(post) > width {
		post, suffix = post[:width], "…"
	}
	return prefix + string(pre) + "[" + text[i:j] + "]" + string(post) + suffix
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
