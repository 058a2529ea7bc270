// Package migrations holds hone's database schema as numbered goose SQL
// files (NNNNN_name.sql), embedded in the binary. feedback.Open applies the
// pending ones on open, each inside its own transaction, and goose records
// them in the goose_db_version table.
//
// Rules for new files: never edit a released migration; add the next number.
// Times are INTEGER unix milliseconds (UTC). Keep every statement valid inside
// a transaction (no "-- +goose NO TRANSACTION").
package migrations

import "embed"

// FS is the embedded set of migration files, at its root.
//
//go:embed *.sql
var FS embed.FS
