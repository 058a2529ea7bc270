package feedback

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
)

// windowSQL is the seq filter for a Window; col is the seq expression.
func windowSQL(col string, w Window) (string, []any) {
	if w.Until > 0 {
		return col + ` > ? AND ` + col + ` <= ?`, []any{w.Since, w.Until}
	}
	return col + ` > ?`, []any{w.Since}
}

// prompts builds conversation paths, loading each conversation's messages
// once per query.
type prompts struct {
	ctx   context.Context
	tx    *sql.Tx
	convs map[int64]*convCache
}

type convCache struct {
	system string
	msgs   map[int64]Message
}

func newPrompts(ctx context.Context, tx *sql.Tx) *prompts {
	return &prompts{ctx: ctx, tx: tx, convs: map[int64]*convCache{}}
}

// path returns the conversation path up to and including messageID, the
// system prompt first when there is one, and the ids of the path's messages
// (the system prompt has none).
func (p *prompts) path(convID, messageID int64) ([]Turn, []int64, error) {
	c, ok := p.convs[convID]
	if !ok {
		c = &convCache{msgs: map[int64]Message{}}
		if err := p.tx.QueryRowContext(p.ctx, `SELECT system_prompt FROM conversations WHERE id = ?`, convID).Scan(&c.system); err != nil {
			return nil, nil, fmt.Errorf("conversation %d: %w", convID, err)
		}
		ms, err := queryMessages(p.ctx, p.tx, `SELECT `+messageCols+` FROM messages m WHERE m.conversation_id = ?`, convID)
		if err != nil {
			return nil, nil, err
		}
		for _, m := range ms {
			c.msgs[m.ID] = m
		}
		p.convs[convID] = c
	}
	var rev []Message
	for id := messageID; id != 0; {
		m, ok := c.msgs[id]
		if !ok || len(rev) > len(c.msgs) {
			return nil, nil, fmt.Errorf("message %d: broken parent chain in conversation %d", id, convID)
		}
		rev = append(rev, m)
		id = m.ParentID
	}
	out := make([]Turn, 0, len(rev)+1)
	ids := make([]int64, 0, len(rev))
	if c.system != "" {
		out = append(out, Turn{Role: string(RoleSystem), Content: c.system})
	}
	for i := len(rev) - 1; i >= 0; i-- {
		out = append(out, Turn{Role: string(rev[i].Role), Content: rev[i].Content})
		ids = append(ids, rev[i].ID)
	}
	return out, ids, nil
}

// Examples returns the unpaired examples (one per rating) whose latest
// change falls in the window, oldest first.
func (s *Store) Examples(ctx context.Context, w Window) ([]Example, error) {
	var out []Example
	err := s.read(ctx, func(tx *sql.Tx) error {
		out = nil
		cond, args := windowSQL("r.seq", w)
		rows, err := tx.QueryContext(ctx, `SELECT r.id, r.seq, r.rater, r.value, r.reason, r.comment, r.updated_at,
				m.id, m.conversation_id, coalesce(m.parent_id, 0), m.content, coalesce(m.policy_version, 0), m.model, m.status
			FROM ratings r JOIN messages m ON m.id = r.message_id
			WHERE `+cond+` ORDER BY r.seq`, args...)
		if err != nil {
			return err
		}
		type row struct {
			e      Example
			parent int64
		}
		var rs []row
		for rows.Next() {
			var x row
			var value int
			var t int64
			var status string
			if err := rows.Scan(&x.e.RatingID, &x.e.Seq, &x.e.Rater, &value, &x.e.Reason, &x.e.Comment, &t,
				&x.e.MessageID, &x.e.ConversationID, &x.parent, &x.e.Completion, &x.e.PolicyVersion, &x.e.Model, &status); err != nil {
				rows.Close()
				return err
			}
			x.e.Label, x.e.Time, x.e.Status = value > 0, fromMS(t), Status(status)
			rs = append(rs, x)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		p := newPrompts(ctx, tx)
		for _, x := range rs {
			if x.e.Prompt, x.e.PromptIDs, err = p.path(x.e.ConversationID, x.parent); err != nil {
				return err
			}
			x.e.PromptKey = PromptKey(x.e.Prompt)
			out = append(out, x.e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("feedback: reading examples: %w", err)
	}
	return out, nil
}

// pairsSQL selects explicit comparisons and the pairs derived from rated
// regenerations, ordered by seq. Derived pairs are computed at query time
// rather than stored: ratings change and get cleared, and a derived pair
// must follow them exactly, which a view does by construction and stored
// rows would need triggers for. A derived pair is made only from the SAME
// rater's 👍 and 👎 (two people disagreeing is not a preference), takes the
// later of the two ratings' seq, and is dropped whenever any explicit
// comparison exists between the same two messages, so the explicit choice
// wins and nothing is counted twice or contradicted.
func pairsSQL(w Window) (string, []any) {
	c1, a1 := windowSQL("k.seq", w)
	c2, a2 := windowSQL("max(ru.seq, rd.seq)", w)
	return `SELECT k.id, k.parent_id, k.chosen_id, k.rejected_id, k.rater, k.source, k.reason, k.seq, k.created_at
		FROM comparisons k WHERE ` + c1 + `
	UNION ALL
	SELECT 0, up.parent_id, up.id, dn.id, ru.rater, 'regenerate', '', max(ru.seq, rd.seq), max(ru.updated_at, rd.updated_at)
		FROM ratings ru
		JOIN messages up ON up.id = ru.message_id
		JOIN messages dn ON dn.parent_id = up.parent_id AND dn.id <> up.id
		JOIN ratings rd ON rd.message_id = dn.id AND rd.rater = ru.rater
		WHERE ru.value = 1 AND rd.value = -1 AND up.parent_id IS NOT NULL AND ` + c2 + `
		AND NOT EXISTS (SELECT 1 FROM comparisons x
			WHERE min(x.chosen_id, x.rejected_id) = min(up.id, dn.id) AND max(x.chosen_id, x.rejected_id) = max(up.id, dn.id))
	ORDER BY 8, 3, 4`, append(a1, a2...)
}

// Pairs returns the preference pairs in the window, oldest first: explicit
// comparisons (ComparisonID > 0) and pairs derived from rated regenerations.
func (s *Store) Pairs(ctx context.Context, w Window) ([]Pair, error) {
	var out []Pair
	err := s.read(ctx, func(tx *sql.Tx) error {
		out = nil
		q, args := pairsSQL(w)
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		var ps []Pair
		for rows.Next() {
			var x Pair
			var src string
			var t int64
			if err := rows.Scan(&x.ComparisonID, &x.ParentID, &x.ChosenID, &x.RejectedID, &x.Rater, &src, &x.Reason, &x.Seq, &t); err != nil {
				rows.Close()
				return err
			}
			x.Source, x.Time = Source(src), fromMS(t)
			ps = append(ps, x)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		p := newPrompts(ctx, tx)
		for _, x := range ps {
			var conv, cpol, rpol int64
			if err := tx.QueryRowContext(ctx, `SELECT a.conversation_id, a.content, coalesce(a.policy_version, 0),
					b.content, coalesce(b.policy_version, 0)
				FROM messages a, messages b WHERE a.id = ? AND b.id = ?`, x.ChosenID, x.RejectedID).
				Scan(&conv, &x.Chosen, &cpol, &x.Rejected, &rpol); err != nil {
				return err
			}
			x.ConversationID, x.ChosenPolicyVersion, x.RejectedPolicyVersion = conv, cpol, rpol
			if x.Prompt, x.PromptIDs, err = p.path(conv, x.ParentID); err != nil {
				return err
			}
			x.PromptKey = PromptKey(x.Prompt)
			out = append(out, x)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("feedback: reading pairs: %w", err)
	}
	return out, nil
}

// Counts counts the training data in a window.
func (s *Store) Counts(ctx context.Context, w Window) (Counts, error) {
	var c Counts
	err := s.read(ctx, func(tx *sql.Tx) error {
		cond, args := windowSQL("seq", w)
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(sum(value = 1), 0), coalesce(sum(value = -1), 0)
			FROM ratings WHERE `+cond, args...).Scan(&c.Up, &c.Down); err != nil {
			return err
		}
		q, args := pairsSQL(w)
		return tx.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(id = 0), 0) FROM (`+q+`)`, args...).Scan(&c.Pairs, &c.DerivedPairs)
	})
	if err != nil {
		return Counts{}, fmt.Errorf("feedback: counting training data: %w", err)
	}
	return c, nil
}

// PromptKey identifies a prompt: the hex SHA-256 of its turns (role and
// content, length-prefixed so no two prompts share a key by concatenation).
func PromptKey(prompt []Turn) string {
	h := sha256.New()
	var n [8]byte
	for _, t := range prompt {
		for _, s := range []string{t.Role, t.Content} {
			binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
			h.Write(n[:])
			h.Write([]byte(s))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// HeldOut reports whether a prompt belongs to the held-out split: the
// first 8 bytes of its key, as a fraction of 2^64, fall below fraction.
// Deterministic, so every example and pair of a prompt lands on the same
// side, run after run.
func HeldOut(promptKey string, fraction float64) bool {
	if fraction <= 0 {
		return false
	}
	if fraction >= 1 {
		return true
	}
	b, err := hex.DecodeString(promptKey)
	if err != nil || len(b) < 8 {
		sum := sha256.Sum256([]byte(promptKey))
		b = sum[:]
	}
	return float64(binary.BigEndian.Uint64(b[:8]))/(1<<64) < fraction
}

// SplitExamples splits examples into training and held-out sets by prompt.
func SplitExamples(xs []Example, fraction float64) (train, heldOut []Example) {
	for _, x := range xs {
		if HeldOut(x.PromptKey, fraction) {
			heldOut = append(heldOut, x)
		} else {
			train = append(train, x)
		}
	}
	return train, heldOut
}

// SplitPairs splits pairs into training and held-out sets by prompt.
func SplitPairs(ps []Pair, fraction float64) (train, heldOut []Pair) {
	for _, p := range ps {
		if HeldOut(p.PromptKey, fraction) {
			heldOut = append(heldOut, p)
		} else {
			train = append(train, p)
		}
	}
	return train, heldOut
}

// SamePromptPairs derives the pairs the store does not: the same rater's
// 👍 and 👎 on replies to the same prompt (PromptKey: the same turns, the
// system prompt included) that are not siblings — the same question asked
// in two conversations, or again later in one. Every 👍 pairs with every 👎,
// as with rated regenerations; a pair already in have (either way round,
// by message ids) or between siblings (which the store derives) is left
// out. The pair takes the later example's seq and time and the chosen
// reply's conversation and prompt ids; results are in seq order.
func SamePromptPairs(xs []Example, have []Pair) []Pair {
	type key struct{ rater, prompt string }
	type ids struct{ a, b int64 }
	seen := map[ids]bool{}
	for _, p := range have {
		seen[ids{min(p.ChosenID, p.RejectedID), max(p.ChosenID, p.RejectedID)}] = true
	}
	parent := func(x Example) int64 {
		if len(x.PromptIDs) == 0 {
			return 0
		}
		return x.PromptIDs[len(x.PromptIDs)-1]
	}
	groups := map[key][]Example{}
	var out []Pair
	for _, x := range xs {
		k := key{x.Rater, x.PromptKey}
		for _, y := range groups[k] {
			if y.Label == x.Label || parent(y) == parent(x) && y.ConversationID == x.ConversationID {
				continue
			}
			if seen[ids{min(x.MessageID, y.MessageID), max(x.MessageID, y.MessageID)}] {
				continue
			}
			c, r := x, y
			if !x.Label {
				c, r = y, x
			}
			later := x
			if y.Seq > x.Seq {
				later = y
			}
			out = append(out, Pair{
				Prompt: c.Prompt, PromptIDs: c.PromptIDs, Chosen: c.Completion, Rejected: r.Completion,
				Source: SourcePrompt, Rater: x.Rater, ConversationID: c.ConversationID, ParentID: parent(c),
				ChosenID: c.MessageID, RejectedID: r.MessageID,
				ChosenPolicyVersion: c.PolicyVersion, RejectedPolicyVersion: r.PolicyVersion,
				Seq: later.Seq, Time: later.Time, PromptKey: c.PromptKey,
			})
		}
		groups[k] = append(groups[k], x)
	}
	slices.SortStableFunc(out, func(a, b Pair) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}
