-- Conversations, the message tree, ratings and comparisons.

-- +goose Up
-- counters holds the store-wide change sequence ("seq"): every rating write
-- and every comparison takes the next value, so training can ask for
-- "everything since watermark W" even when a rating is changed in place.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counters (name, value) VALUES ('seq', 0);

CREATE TABLE conversations (
    id            INTEGER PRIMARY KEY,
    title         TEXT    NOT NULL DEFAULT '',
    system_prompt TEXT    NOT NULL DEFAULT '',
    model         TEXT    NOT NULL DEFAULT '',
    leaf_id       INTEGER,            -- last message shown/appended (the branch to resume); no FK: set by the store
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX conversations_updated ON conversations (updated_at DESC, id DESC);

-- Messages form a tree per conversation: regenerations are siblings under one
-- parent, an edited user turn is a new sibling of the original.
CREATE TABLE messages (
    id                INTEGER PRIMARY KEY,
    conversation_id   INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    parent_id         INTEGER REFERENCES messages (id) ON DELETE CASCADE,
    role              TEXT    NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content           TEXT    NOT NULL DEFAULT '',
    status            TEXT    NOT NULL DEFAULT 'complete'
                              CHECK (status IN ('complete', 'streaming', 'stopped', 'error')),
    policy_version    INTEGER,          -- policies.version that wrote it (NULL: user text / unknown)
    model             TEXT    NOT NULL DEFAULT '',
    sampling          TEXT,             -- JSON object of sampling parameters
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    prompt_ms         INTEGER NOT NULL DEFAULT 0,
    gen_ms            INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL
);
CREATE INDEX messages_conversation ON messages (conversation_id, id);
CREATE INDEX messages_parent ON messages (parent_id, id);

-- One rating per (message, rater); changing it takes a new seq, clearing
-- deletes the row.
CREATE TABLE ratings (
    id         INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    rater      TEXT    NOT NULL,
    value      INTEGER NOT NULL CHECK (value IN (-1, 1)),
    reason     TEXT    NOT NULL DEFAULT '',
    comment    TEXT    NOT NULL DEFAULT '',
    seq        INTEGER NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (message_id, rater)
);

-- Explicit preferences between two siblings. One per rater per unordered
-- pair of messages (the latest choice replaces an earlier one).
CREATE TABLE comparisons (
    id          INTEGER PRIMARY KEY,
    parent_id   INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    chosen_id   INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    rejected_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    rater       TEXT    NOT NULL,
    source      TEXT    NOT NULL CHECK (source IN ('compare', 'regenerate')),
    reason      TEXT    NOT NULL DEFAULT '',
    seq         INTEGER NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    CHECK (chosen_id <> rejected_id)
);
CREATE UNIQUE INDEX comparisons_pair ON comparisons (min(chosen_id, rejected_id), max(chosen_id, rejected_id), rater);
CREATE INDEX comparisons_chosen ON comparisons (chosen_id);
CREATE INDEX comparisons_rejected ON comparisons (rejected_id);

-- +goose Down
DROP TABLE comparisons;
DROP TABLE ratings;
DROP TABLE messages;
DROP TABLE conversations;
DROP TABLE counters;
