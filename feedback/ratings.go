package feedback

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

const ratingCols = `r.id, r.message_id, r.rater, r.value, r.reason, r.comment, r.seq, r.created_at, r.updated_at`

func scanRating(r scanner) (Rating, error) {
	var x Rating
	var created, updated int64
	if err := r.Scan(&x.ID, &x.MessageID, &x.Rater, &x.Value, &x.Reason, &x.Comment, &x.Seq, &created, &updated); err != nil {
		return Rating{}, err
	}
	x.CreatedAt, x.UpdatedAt = fromMS(created), fromMS(updated)
	return x, nil
}

func queryRatings(ctx context.Context, q querier, query string, args ...any) ([]Rating, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Rating
	for rows.Next() {
		x, err := scanRating(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// Rate stores (or changes) one rater's rating of an assistant message and
// returns what was stored. A change keeps the rating's id and creation time
// and takes a new seq, so training sees it as new data.
func (s *Store) Rate(ctx context.Context, in RatingInput) (Rating, error) {
	in.Rater = strings.TrimSpace(in.Rater)
	if in.Rater == "" {
		return Rating{}, fmt.Errorf("feedback: rating message %d: %w: empty rater", in.MessageID, ErrInvalid)
	}
	if in.Value != 1 && in.Value != -1 {
		return Rating{}, fmt.Errorf("feedback: rating message %d: %w: value %d (want +1 or -1)", in.MessageID, ErrInvalid, in.Value)
	}
	now := s.stamp(in.Time)
	var out Rating
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = rate(ctx, tx, in, now)
		return err
	})
	if err != nil {
		return Rating{}, fmt.Errorf("feedback: rating message %d: %w", in.MessageID, err)
	}
	return out, nil
}

func rate(ctx context.Context, tx *sql.Tx, in RatingInput, now time.Time) (Rating, error) {
	var role string
	err := tx.QueryRowContext(ctx, `SELECT role FROM messages WHERE id = ?`, in.MessageID).Scan(&role)
	if errors.Is(err, sql.ErrNoRows) {
		return Rating{}, fmt.Errorf("message %d: %w", in.MessageID, ErrNotFound)
	}
	if err != nil {
		return Rating{}, err
	}
	if Role(role) != RoleAssistant {
		return Rating{}, fmt.Errorf("%w: message %d is a %s message; only assistant replies are rated", ErrInvalid, in.MessageID, role)
	}
	seq, err := nextSeq(ctx, tx)
	if err != nil {
		return Rating{}, err
	}
	return scanRating(tx.QueryRowContext(ctx, `INSERT INTO ratings (message_id, rater, value, reason, comment, seq, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (message_id, rater) DO UPDATE SET value = excluded.value, reason = excluded.reason,
			comment = excluded.comment, seq = excluded.seq, updated_at = excluded.updated_at
		RETURNING `+strings.ReplaceAll(ratingCols, "r.", ""),
		in.MessageID, in.Rater, in.Value, in.Reason, in.Comment, seq, ms(now), ms(now)))
}

// ClearRating removes rater's rating of a message; cleared is false when
// there was none.
func (s *Store) ClearRating(ctx context.Context, messageID int64, rater string) (cleared bool, err error) {
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM ratings WHERE message_id = ? AND rater = ?`, messageID, rater)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		cleared = n > 0
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("feedback: clearing %s's rating of message %d: %w", rater, messageID, err)
	}
	return cleared, nil
}

// Ratings returns every rating of a message, by rater.
func (s *Store) Ratings(ctx context.Context, messageID int64) ([]Rating, error) {
	var out []Rating
	err := retry(ctx, func() error {
		var err error
		out, err = queryRatings(ctx, s.db, `SELECT `+ratingCols+` FROM ratings r WHERE r.message_id = ? ORDER BY r.rater`, messageID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("feedback: ratings of message %d: %w", messageID, err)
	}
	return out, nil
}

const comparisonCols = `k.id, k.parent_id, k.chosen_id, k.rejected_id, k.rater, k.source, k.reason, k.seq, k.created_at`

func scanComparison(r scanner) (Comparison, error) {
	var k Comparison
	var src string
	var created int64
	if err := r.Scan(&k.ID, &k.ParentID, &k.ChosenID, &k.RejectedID, &k.Rater, &src, &k.Reason, &k.Seq, &created); err != nil {
		return Comparison{}, err
	}
	k.Source, k.CreatedAt = Source(src), fromMS(created)
	return k, nil
}

func queryComparisons(ctx context.Context, q querier, query string, args ...any) ([]Comparison, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Comparison
	for rows.Next() {
		k, err := scanComparison(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// Compare records that rater prefers ChosenID over RejectedID. Both must be
// assistant replies under the same parent. A rater's newer choice between
// the same two messages replaces the older one, in either direction.
func (s *Store) Compare(ctx context.Context, in ComparisonInput) (Comparison, error) {
	in.Rater = strings.TrimSpace(in.Rater)
	if in.Source == "" {
		in.Source = SourceCompare
	}
	switch {
	case in.Rater == "":
		return Comparison{}, fmt.Errorf("feedback: comparing %d and %d: %w: empty rater", in.ChosenID, in.RejectedID, ErrInvalid)
	case !in.Source.valid():
		return Comparison{}, fmt.Errorf("feedback: comparing %d and %d: %w: source %q (want compare or regenerate)", in.ChosenID, in.RejectedID, ErrInvalid, in.Source)
	case in.ChosenID == in.RejectedID:
		return Comparison{}, fmt.Errorf("feedback: comparing %d with itself: %w", in.ChosenID, ErrInvalid)
	}
	now := s.stamp(in.Time)
	var out Comparison
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = compare(ctx, tx, in, now)
		return err
	})
	if err != nil {
		return Comparison{}, fmt.Errorf("feedback: comparing %d and %d: %w", in.ChosenID, in.RejectedID, err)
	}
	return out, nil
}

func compare(ctx context.Context, tx *sql.Tx, in ComparisonInput, now time.Time) (Comparison, error) {
	var parents [2]sql.NullInt64
	for i, id := range []int64{in.ChosenID, in.RejectedID} {
		var role string
		err := tx.QueryRowContext(ctx, `SELECT role, parent_id FROM messages WHERE id = ?`, id).Scan(&role, &parents[i])
		if errors.Is(err, sql.ErrNoRows) {
			return Comparison{}, fmt.Errorf("message %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return Comparison{}, err
		}
		if Role(role) != RoleAssistant {
			return Comparison{}, fmt.Errorf("%w: message %d is a %s message; only assistant replies are compared", ErrInvalid, id, role)
		}
	}
	if !parents[0].Valid || parents[0] != parents[1] {
		return Comparison{}, fmt.Errorf("%w: messages %d and %d are not replies to the same message", ErrInvalid, in.ChosenID, in.RejectedID)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM comparisons WHERE rater = ?
		AND min(chosen_id, rejected_id) = min(?, ?) AND max(chosen_id, rejected_id) = max(?, ?)`,
		in.Rater, in.ChosenID, in.RejectedID, in.ChosenID, in.RejectedID); err != nil {
		return Comparison{}, err
	}
	seq, err := nextSeq(ctx, tx)
	if err != nil {
		return Comparison{}, err
	}
	return scanComparison(tx.QueryRowContext(ctx, `INSERT INTO comparisons (parent_id, chosen_id, rejected_id, rater, source, reason, seq, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+strings.ReplaceAll(comparisonCols, "k.", ""),
		parents[0].Int64, in.ChosenID, in.RejectedID, in.Rater, string(in.Source), in.Reason, seq, ms(now)))
}
