// Package feedback is hone's memory: conversations (as trees of messages),
// ratings, comparisons, the policy registry and training runs, kept in one
// SQLite file (modernc.org/sqlite, no cgo), plus JSONL export/import in the
// formats the rest of the field trains on (TRL, OpenAI).
//
// # API summary (for chat/, tui/, rlhf/ and cmd/hone)
//
//	s, err := feedback.Open(ctx, path)          // creates 0700 dir / 0600 file, migrates, refuses newer DBs
//	defer s.Close()
//	s.Path() string; s.DB() *sql.DB (diagnostics and tests only; write through the methods)
//	feedback.NewestVersion() (int64, error)   // newest embedded schema version
//
// Chat side:
//
//	s.CreateConversation(ctx, feedback.NewConversation{Title, SystemPrompt, Model}) (Conversation, error)
//	s.AppendMessage(ctx, feedback.Message{ConversationID, ParentID /*0=root*/, Role, Content, Status,
//	        PolicyVersion, Model, Sampling /*json.RawMessage*/, PromptTokens, CompletionTokens,
//	        PromptDuration, GenDuration}) (id int64, error)      // also moves the conversation's leaf here
//	s.UpdateMessage(ctx, id, feedback.MessageUpdate{Content, Status, PromptTokens, CompletionTokens,
//	        PromptDuration, GenDuration}) error                  // finish a streamed reply (complete|stopped|error)
//	s.SetLeaf(ctx, conversationID, messageID) error             // the branch the user is looking at
//	s.Message(ctx, id) (Message, error)
//	s.Rate(ctx, feedback.RatingInput{MessageID, Rater, Value /*+1|-1*/, Reason, Comment}) (Rating, error)
//	s.ClearRating(ctx, messageID, rater) (cleared bool, error)
//	s.Ratings(ctx, messageID) ([]Rating, error)
//	s.Compare(ctx, feedback.ComparisonInput{ChosenID, RejectedID, Rater, Source /*compare|regenerate*/, Reason}) (Comparison, error)
//	s.ListConversations(ctx, limit, offset) ([]Conversation, error)   // most recently updated first
//	s.LastConversation(ctx) (Conversation, error)                     // ErrNotFound when empty
//	s.Conversation(ctx, id) (*Tree, error)      // Tree{Conversation, Messages (id order), Ratings, Comparisons}
//	        tree.Path(leafID) []Message; tree.Children(id) []Message; tree.Message(id) (Message, bool)
//	s.Siblings(ctx, messageID) ([]Message, error)  // same parent, same conversation, id order, itself included
//	s.Search(ctx, query, limit) ([]SearchHit, error) // FTS5 trigram (Korean OK); SearchHit{ConversationID, MessageID, Role, Title, Snippet, CreatedAt}
//	s.RenameConversation(ctx, id, title) error
//	s.DeleteConversation(ctx, id) error          // hard delete: messages, ratings, comparisons, index rows go too
//
// Training side (a Watermark is a store-wide, strictly increasing change
// sequence; every rating write and comparison takes the next one):
//
//	s.Watermark(ctx) (int64, error)                          // current high-water mark
//	s.Examples(ctx, feedback.Window{Since, Until}) ([]Example, error)   // unpaired 👍/👎, Since < seq <= Until (Until 0 = no bound)
//	s.Pairs(ctx, feedback.Window{Since, Until}) ([]Pair, error)         // explicit comparisons + pairs derived from rated regenerations
//	s.Counts(ctx, feedback.Window{...}) (Counts{Up, Down, Pairs, DerivedPairs}, error)
//	feedback.SamePromptPairs(xs []Example, have []Pair) []Pair // 👍×👎 on one prompt, not siblings (Source prompt)
//	Example{Prompt []Turn, Completion string, Label bool, Rater, Reason, Comment, PolicyVersion, Model, Status,
//	        ConversationID, MessageID, RatingID, Seq, Time, PromptKey}
//	Pair{Prompt []Turn, Chosen, Rejected string, Source, Rater, Reason, ConversationID, ParentID, ChosenID, RejectedID,
//	        ComparisonID /*0 = derived*/, ChosenPolicyVersion, RejectedPolicyVersion, Seq, Time, PromptKey}
//	Turn{Role, Content string}                                // json: {"role","content"}
//	feedback.PromptKey(prompt []Turn) string                  // sha256 hex of the canonical prompt
//	feedback.HeldOut(promptKey string, fraction float64) bool // deterministic split by prompt
//	feedback.SplitExamples(xs, fraction) (train, heldOut []Example); feedback.SplitPairs(ps, fraction) (train, heldOut []Pair)
//
// Policies and training runs (for rlhf/):
//
//	s.CreatePolicy(ctx, feedback.Policy{Name, Base, ParentVersion, Path, Algorithm, Metrics}) (Policy, error) // status candidate, Version = max+1
//	s.Promote(ctx, version) error        // exactly one active, in one transaction; records whom it replaced
//	s.Retire(ctx, version) error         // not the active one
//	s.Rollback(ctx) (Policy, error)      // active -> retired; the policy it replaced (else its parent) -> active
//	s.ActivePolicy(ctx) (Policy, error)  // ErrNotFound when none
//	s.Policy(ctx, version) (Policy, error); s.Policies(ctx) ([]Policy, error); s.Lineage(ctx, version) ([]Policy, error)
//	s.SetPolicyMetrics(ctx, version, metrics json.RawMessage) error
//	s.StartRun(ctx, feedback.TrainingRun{Algorithm, PolicyVersion, WatermarkFrom, WatermarkTo, Examples, Pairs}) (TrainingRun, error)
//	s.UpdateRun(ctx, id, metrics json.RawMessage) error
//	s.FinishRun(ctx, id, feedback.RunResult{Outcome, CandidateVersion, Metrics, Error}) error
//	s.Run(ctx, id) (TrainingRun, error); s.Runs(ctx, limit) ([]TrainingRun, error)
//
// Export/import:
//
//	s.Export(ctx, w, feedback.FormatTRLKTO|FormatTRLDPO|FormatOpenAIDPO, Window{}) (rows int, error)
//	s.Import(ctx, r) (ImportStats, error)   // one transaction; *ImportError{Line} on malformed input
//
//	feedback.ParseFormat(name) (Format, error); feedback.Formats() []Format
//
// Errors (test with errors.Is): ErrNotFound, ErrInvalid (bad input; the
// message says which field), ErrNewerDatabase (*NewerDatabaseError, the file
// was not touched), ErrBusy (another process held the write lock for over
// two minutes; SQLite's "database is locked" never escapes), *ImportError
// (errors.As; .Line is the 1-based line of the malformed row).
//
// # Durability
//
// One SQLite file in WAL mode, opened through a file: URI with
// busy_timeout=5000 ms, foreign_keys=ON, synchronous=FULL (see the comment
// on the synchronous constant for why) and _txlock=immediate, so every write
// transaction takes the write lock at BEGIN where the busy timeout applies.
// On top of that every transaction is retried with jittered backoff on
// SQLITE_BUSY/SQLITE_LOCKED for up to two minutes. A new database's folder
// is created 0700 and the file 0600 (an existing file with group/other bits
// is tightened to 0600); -wal/-shm inherit the file's mode.
//
// # Migrations
//
// Numbered goose SQL files in package migrations, embedded. Open first reads
// the schema version without writing anything (immutable/read-only
// connection, no -wal/-shm created); newer than the binary's newest
// migration → *NewerDatabaseError, file untouched. Otherwise pending
// migrations run through goose's Provider (no global state), each in its own
// transaction, recorded in goose_db_version; concurrent first opens take
// turns on an flock of the database's folder.
//
// # Schema (times are INTEGER unix milliseconds, UTC)
//
//	counters(name, value)                     the store-wide change sequence "seq" (the watermark)
//	conversations(id, title, system_prompt, model, leaf_id, created_at, updated_at)
//	messages(id, conversation_id→, parent_id→messages, role system|user|assistant, content,
//	         status complete|streaming|stopped|error, policy_version, model, sampling JSON,
//	         prompt_tokens, completion_tokens, prompt_ms, gen_ms, created_at)
//	         a tree: regenerations are siblings under one parent, an edited user turn a new sibling
//	ratings(id, message_id→, rater, value ±1, reason, comment, seq UNIQUE, created_at, updated_at)
//	         UNIQUE(message_id, rater); a change keeps id/created_at and takes a new seq; clear deletes
//	comparisons(id, parent_id→, chosen_id→, rejected_id→, rater, source compare|regenerate, reason, seq, created_at)
//	         UNIQUE(unordered pair, rater): a rater's newer choice replaces the older
//	messages_fts  FTS5, external content = messages, trigram tokenizer, kept in sync by triggers
//	policies(version, name, base, parent_version→, path, algorithm, metrics JSON,
//	         status active|candidate|retired, replaced→, created_at, promoted_at, retired_at)
//	         partial UNIQUE index: at most one active
//	training_runs(id, algorithm, policy_version, candidate_version, watermark_from, watermark_to,
//	         examples, pairs, metrics JSON, outcome running|promoted|rejected|failed|cancelled|nothing,
//	         error, started_at, finished_at)
//
// All foreign keys cascade on delete: DeleteConversation removes its
// messages, ratings, comparisons and index rows (a deleted conversation is
// data the user asked to be rid of, so it leaves the training data too).
//
// # Training data rules
//
// Examples: one per rating of an assistant message; prompt = system prompt
// (if any) + the path from the root to the rated reply's parent.
//
// Pairs: every explicit comparison, plus, derived at query time, for each
// rater and each parent: every reply that rater rated 👍 ≻ every sibling the
// same rater rated 👎 (source regenerate, ComparisonID 0, seq = the later
// rating's). Derived, not stored, because ratings change and get cleared
// and the pairs must follow them exactly. Ratings of different raters are
// never paired. A derived pair is dropped when any explicit comparison
// between the same two messages exists, so the explicit choice wins and
// nothing is duplicated or contradicted.
//
// Windows: data with Since < seq <= Until. A training run records the
// window it used (watermark_from/to) and the next run starts from there.
//
// Held-out split: HeldOut(PromptKey(prompt), fraction) compares the first
// 64 bits of the prompt's SHA-256 with fraction·2^64: deterministic, the
// same for every example and pair of a prompt, and nested (held out at 10%
// implies held out at 20%).
//
// Search: every whitespace-separated term must occur (case-insensitive
// substring, any script; Korean needs no word boundaries). Terms of three
// or more characters go through the FTS5 trigram index (ranked by bm25,
// snippet with [ ] around hits); shorter terms, which a trigram index
// cannot see, are matched with LIKE.
//
// # JSONL formats (hone export / hone import)
//
// One JSON object per line. Turns are {"role", "content"}. Times are RFC
// 3339 UTC with milliseconds. policy_version 0 means none.
//
//	trl-kto (TRL unpaired preference, conversational):
//	  {"prompt": [turns], "completion": [{"role":"assistant","content":...}], "label": true|false,
//	   "metadata": {"conversation_id", "conversation_title", "prompt_ids", "message_id", "rating_id",
//	                "seq", "policy_version", "model", "status", "rater", "reason", "comment", "time"}}
//	trl-dpo (TRL preference, conversational):
//	  {"prompt": [turns], "chosen": [assistant turn], "rejected": [assistant turn], "metadata": PAIR}
//	openai-dpo (OpenAI preference fine-tuning):
//	  {"input": {"messages": [turns]}, "preferred_output": [assistant turn],
//	   "non_preferred_output": [assistant turn], "metadata": PAIR}
//	PAIR = {"conversation_id", "conversation_title", "prompt_ids", "parent_id", "chosen_id", "rejected_id",
//	        "comparison_id" (0: derived), "seq", "source", "chosen_policy_version",
//	        "rejected_policy_version", "rater", "reason", "time"}
//
// prompt_ids are the message ids of the prompt's turns (the system prompt
// has none). Import sniffs each line's format by its keys (files may mix
// formats; TRL's plain-string form and rows without metadata are accepted),
// validates every line before writing, and writes everything in one
// transaction: a malformed file is refused with its line number and nothing
// is imported. Rows of one source conversation (metadata conversation_id and
// prompt_ids, or else an identical prompt) share their messages, so
// regenerations come back as siblings and their derived pairs reappear.
// Importing then exporting gives the same rows except for the ids and seq,
// which belong to the new database; a derived pair comes back as an explicit
// comparison with source regenerate. Importing a file twice adds it twice.
package feedback
