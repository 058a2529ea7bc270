-- The policy registry and the training runs that feed it.

-- +goose Up
CREATE TABLE policies (
    version        INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL DEFAULT '',
    base           TEXT    NOT NULL DEFAULT '',   -- base model the lineage starts from (file or name)
    parent_version INTEGER REFERENCES policies (version),
    path           TEXT    NOT NULL DEFAULT '',   -- weights or adapter file
    algorithm      TEXT    NOT NULL DEFAULT '',   -- kto|dpo|rloo|base|...
    metrics        TEXT    NOT NULL DEFAULT '{}', -- JSON
    status         TEXT    NOT NULL DEFAULT 'candidate'
                           CHECK (status IN ('active', 'candidate', 'retired')),
    replaced       INTEGER REFERENCES policies (version), -- the active policy this one replaced when promoted
    created_at     INTEGER NOT NULL,
    promoted_at    INTEGER,
    retired_at     INTEGER
);
-- At most one active policy, enforced by the database itself.
CREATE UNIQUE INDEX policies_one_active ON policies (status) WHERE status = 'active';

CREATE TABLE training_runs (
    id                INTEGER PRIMARY KEY,
    algorithm         TEXT    NOT NULL DEFAULT '',
    policy_version    INTEGER,             -- the reference policy trained from
    candidate_version INTEGER,             -- the policy it produced, if any
    watermark_from    INTEGER NOT NULL DEFAULT 0, -- data window: from < seq <= to
    watermark_to      INTEGER NOT NULL DEFAULT 0,
    examples          INTEGER NOT NULL DEFAULT 0,
    pairs             INTEGER NOT NULL DEFAULT 0,
    metrics           TEXT    NOT NULL DEFAULT '{}',
    outcome           TEXT    NOT NULL DEFAULT 'running'
                              CHECK (outcome IN ('running', 'promoted', 'rejected', 'failed', 'cancelled', 'nothing')),
    error             TEXT    NOT NULL DEFAULT '',
    started_at        INTEGER NOT NULL,
    finished_at       INTEGER
);
CREATE INDEX training_runs_started ON training_runs (started_at DESC, id DESC);

-- +goose Down
DROP TABLE training_runs;
DROP TABLE policies;
