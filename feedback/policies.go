package feedback

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

const policyCols = `version, name, base, parent_version, path, algorithm, metrics, status, replaced, created_at, promoted_at, retired_at`

func scanPolicy(r scanner) (Policy, error) {
	var p Policy
	var parent, replaced, promoted, retired sql.NullInt64
	var metrics, status string
	var created int64
	if err := r.Scan(&p.Version, &p.Name, &p.Base, &parent, &p.Path, &p.Algorithm, &metrics, &status,
		&replaced, &created, &promoted, &retired); err != nil {
		return Policy{}, err
	}
	p.ParentVersion, p.Replaced = parent.Int64, replaced.Int64
	p.Metrics, p.Status = json.RawMessage(metrics), PolicyStatus(status)
	p.CreatedAt, p.PromotedAt, p.RetiredAt = fromMS(created), fromNullMS(promoted), fromNullMS(retired)
	return p, nil
}

func metricsText(m json.RawMessage) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	if !json.Valid(m) {
		return "", fmt.Errorf("%w: metrics are not valid JSON", ErrInvalid)
	}
	return string(m), nil
}

// CreatePolicy registers a candidate policy and returns it with its
// version (one more than the highest so far).
func (s *Store) CreatePolicy(ctx context.Context, p Policy) (Policy, error) {
	metrics, err := metricsText(p.Metrics)
	if err != nil {
		return Policy{}, fmt.Errorf("feedback: creating policy: %w", err)
	}
	now := s.stamp(p.CreatedAt)
	var out Policy
	err = s.write(ctx, func(tx *sql.Tx) error {
		if p.ParentVersion != 0 {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM policies WHERE version = ?`, p.ParentVersion).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("parent policy %d: %w", p.ParentVersion, ErrNotFound)
			}
		}
		var err error
		out, err = scanPolicy(tx.QueryRowContext(ctx, `INSERT INTO policies (version, name, base, parent_version, path,
				algorithm, metrics, status, created_at)
			VALUES ((SELECT coalesce(max(version), 0) + 1 FROM policies), ?, ?, ?, ?, ?, ?, 'candidate', ?)
			RETURNING `+policyCols,
			p.Name, p.Base, nullID(p.ParentVersion), p.Path, p.Algorithm, metrics, ms(now)))
		return err
	})
	if err != nil {
		return Policy{}, fmt.Errorf("feedback: creating policy: %w", err)
	}
	return out, nil
}

// Policy returns one policy.
func (s *Store) Policy(ctx context.Context, version int64) (Policy, error) {
	var p Policy
	err := retry(ctx, func() error {
		var err error
		p, err = scanPolicy(s.db.QueryRowContext(ctx, `SELECT `+policyCols+` FROM policies WHERE version = ?`, version))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Policy{}, fmt.Errorf("feedback: policy %d: %w", version, ErrNotFound)
	}
	if err != nil {
		return Policy{}, fmt.Errorf("feedback: policy %d: %w", version, err)
	}
	return p, nil
}

// ActivePolicy returns the active policy, or ErrNotFound.
func (s *Store) ActivePolicy(ctx context.Context) (Policy, error) {
	var p Policy
	err := retry(ctx, func() error {
		var err error
		p, err = scanPolicy(s.db.QueryRowContext(ctx, `SELECT `+policyCols+` FROM policies WHERE status = 'active'`))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Policy{}, fmt.Errorf("feedback: active policy: %w", ErrNotFound)
	}
	if err != nil {
		return Policy{}, fmt.Errorf("feedback: active policy: %w", err)
	}
	return p, nil
}

// Policies lists every policy by version; ParentVersion gives the lineage.
func (s *Store) Policies(ctx context.Context) ([]Policy, error) {
	var out []Policy
	err := retry(ctx, func() error {
		out = nil
		rows, err := s.db.QueryContext(ctx, `SELECT `+policyCols+` FROM policies ORDER BY version`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			p, err := scanPolicy(rows)
			if err != nil {
				return err
			}
			out = append(out, p)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("feedback: listing policies: %w", err)
	}
	return out, nil
}

// Lineage returns version, its parent, the parent's parent, ... down to
// the base.
func (s *Store) Lineage(ctx context.Context, version int64) ([]Policy, error) {
	all, err := s.Policies(ctx)
	if err != nil {
		return nil, err
	}
	byV := make(map[int64]Policy, len(all))
	for _, p := range all {
		byV[p.Version] = p
	}
	var out []Policy
	for v := version; v != 0 && len(out) <= len(all); {
		p, ok := byV[v]
		if !ok {
			if len(out) == 0 {
				return nil, fmt.Errorf("feedback: lineage of policy %d: %w", version, ErrNotFound)
			}
			break
		}
		out = append(out, p)
		v = p.ParentVersion
	}
	return out, nil
}

// Promote makes version the active policy and retires the one it replaces,
// in one transaction (the database allows at most one active policy).
func (s *Store) Promote(ctx context.Context, version int64) error {
	now := ms(s.stamp(time.Time{}))
	err := s.write(ctx, func(tx *sql.Tx) error {
		var status string
		err := tx.QueryRowContext(ctx, `SELECT status FROM policies WHERE version = ?`, version).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if PolicyStatus(status) == PolicyActive {
			return nil
		}
		var prev sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT max(version) FROM policies WHERE status = 'active'`).Scan(&prev); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE policies SET status = 'retired', retired_at = ? WHERE status = 'active'`, now); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE policies SET status = 'active', promoted_at = ?, retired_at = NULL, replaced = ?
			WHERE version = ?`, now, prev, version)
		return err
	})
	if err != nil {
		return fmt.Errorf("feedback: promoting policy %d: %w", version, err)
	}
	return nil
}

// Retire retires a candidate (or already retired) policy. The active one
// cannot be retired this way: promote another or roll back.
func (s *Store) Retire(ctx context.Context, version int64) error {
	now := ms(s.stamp(time.Time{}))
	err := s.write(ctx, func(tx *sql.Tx) error {
		var status string
		err := tx.QueryRowContext(ctx, `SELECT status FROM policies WHERE version = ?`, version).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		switch PolicyStatus(status) {
		case PolicyActive:
			return fmt.Errorf("%w: policy %d is active; promote another or roll back first", ErrInvalid, version)
		case PolicyRetired:
			return nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE policies SET status = 'retired', retired_at = ? WHERE version = ?`, now, version)
		return err
	})
	if err != nil {
		return fmt.Errorf("feedback: retiring policy %d: %w", version, err)
	}
	return nil
}

// Rollback retires the active policy and reactivates the one it replaced
// when it was promoted (or else its parent). It returns the now-active
// policy.
func (s *Store) Rollback(ctx context.Context) (Policy, error) {
	now := ms(s.stamp(time.Time{}))
	var out Policy
	err := s.write(ctx, func(tx *sql.Tx) error {
		cur, err := scanPolicy(tx.QueryRowContext(ctx, `SELECT `+policyCols+` FROM policies WHERE status = 'active'`))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("no active policy: %w", ErrNotFound)
		}
		if err != nil {
			return err
		}
		target := cur.Replaced
		if target == 0 {
			target = cur.ParentVersion
		}
		if target == 0 {
			return fmt.Errorf("%w: policy %d replaced nothing and has no parent to roll back to", ErrInvalid, cur.Version)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE policies SET status = 'retired', retired_at = ? WHERE version = ?`, now, cur.Version); err != nil {
			return err
		}
		// The reactivated policy keeps its own "replaced" link, so rolling
		// back again walks further back through the promotion history.
		res, err := tx.ExecContext(ctx, `UPDATE policies SET status = 'active', promoted_at = ?, retired_at = NULL WHERE version = ?`, now, target)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("policy %d to roll back to: %w", target, ErrNotFound)
		}
		out, err = scanPolicy(tx.QueryRowContext(ctx, `SELECT `+policyCols+` FROM policies WHERE version = ?`, target))
		return err
	})
	if err != nil {
		return Policy{}, fmt.Errorf("feedback: rolling back: %w", err)
	}
	return out, nil
}

// SetPolicyMetrics replaces a policy's metrics JSON.
func (s *Store) SetPolicyMetrics(ctx context.Context, version int64, metrics json.RawMessage) error {
	text, err := metricsText(metrics)
	if err != nil {
		return fmt.Errorf("feedback: metrics of policy %d: %w", version, err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		return execOne(ctx, tx, `UPDATE policies SET metrics = ? WHERE version = ?`, text, version)
	})
	if err != nil {
		return fmt.Errorf("feedback: metrics of policy %d: %w", version, err)
	}
	return nil
}

const runCols = `id, algorithm, policy_version, candidate_version, watermark_from, watermark_to, examples, pairs,
	metrics, outcome, error, started_at, finished_at`

func scanRun(r scanner) (TrainingRun, error) {
	var x TrainingRun
	var pol, cand, finished sql.NullInt64
	var metrics, outcome string
	var started int64
	if err := r.Scan(&x.ID, &x.Algorithm, &pol, &cand, &x.WatermarkFrom, &x.WatermarkTo, &x.Examples, &x.Pairs,
		&metrics, &outcome, &x.Error, &started, &finished); err != nil {
		return TrainingRun{}, err
	}
	x.PolicyVersion, x.CandidateVersion = pol.Int64, cand.Int64
	x.Metrics, x.Outcome = json.RawMessage(metrics), Outcome(outcome)
	x.StartedAt, x.FinishedAt = fromMS(started), fromNullMS(finished)
	return x, nil
}

// StartRun records a training run as running and returns it with its id.
func (s *Store) StartRun(ctx context.Context, r TrainingRun) (TrainingRun, error) {
	metrics, err := metricsText(r.Metrics)
	if err != nil {
		return TrainingRun{}, fmt.Errorf("feedback: starting training run: %w", err)
	}
	now := s.stamp(r.StartedAt)
	var out TrainingRun
	err = s.write(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = scanRun(tx.QueryRowContext(ctx, `INSERT INTO training_runs (algorithm, policy_version, candidate_version,
				watermark_from, watermark_to, examples, pairs, metrics, outcome, started_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?) RETURNING `+runCols,
			r.Algorithm, nullID(r.PolicyVersion), nullID(r.CandidateVersion), r.WatermarkFrom, r.WatermarkTo,
			r.Examples, r.Pairs, metrics, ms(now)))
		return err
	})
	if err != nil {
		return TrainingRun{}, fmt.Errorf("feedback: starting training run: %w", err)
	}
	return out, nil
}

// UpdateRun replaces a running run's metrics (progress, checkpoints).
func (s *Store) UpdateRun(ctx context.Context, id int64, metrics json.RawMessage) error {
	text, err := metricsText(metrics)
	if err != nil {
		return fmt.Errorf("feedback: updating training run %d: %w", id, err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		return execOne(ctx, tx, `UPDATE training_runs SET metrics = ? WHERE id = ?`, text, id)
	})
	if err != nil {
		return fmt.Errorf("feedback: updating training run %d: %w", id, err)
	}
	return nil
}

// FinishRun records how a run ended.
func (s *Store) FinishRun(ctx context.Context, id int64, res RunResult) error {
	if !res.Outcome.valid() || res.Outcome == OutcomeRunning {
		return fmt.Errorf("feedback: finishing training run %d: %w: outcome %q", id, ErrInvalid, res.Outcome)
	}
	var metrics sql.NullString
	if len(res.Metrics) > 0 {
		text, err := metricsText(res.Metrics)
		if err != nil {
			return fmt.Errorf("feedback: finishing training run %d: %w", id, err)
		}
		metrics = sql.NullString{String: text, Valid: true}
	}
	now := ms(s.stamp(time.Time{}))
	err := s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `UPDATE training_runs SET outcome = ?, candidate_version = coalesce(?, candidate_version),
			metrics = coalesce(?, metrics), error = ?, finished_at = ? WHERE id = ?`,
			string(res.Outcome), nullID(res.CandidateVersion), metrics, res.Error, now, id)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("feedback: finishing training run %d: %w", id, err)
	}
	return nil
}

// Run returns one training run.
func (s *Store) Run(ctx context.Context, id int64) (TrainingRun, error) {
	var r TrainingRun
	err := retry(ctx, func() error {
		var err error
		r, err = scanRun(s.db.QueryRowContext(ctx, `SELECT `+runCols+` FROM training_runs WHERE id = ?`, id))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return TrainingRun{}, fmt.Errorf("feedback: training run %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return TrainingRun{}, fmt.Errorf("feedback: training run %d: %w", id, err)
	}
	return r, nil
}

// Runs lists training runs, newest first; limit <= 0 means all.
func (s *Store) Runs(ctx context.Context, limit int) ([]TrainingRun, error) {
	if limit <= 0 {
		limit = -1
	}
	var out []TrainingRun
	err := retry(ctx, func() error {
		out = nil
		rows, err := s.db.QueryContext(ctx, `SELECT `+runCols+` FROM training_runs ORDER BY started_at DESC, id DESC LIMIT ?`, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanRun(rows)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("feedback: listing training runs: %w", err)
	}
	return out, nil
}
