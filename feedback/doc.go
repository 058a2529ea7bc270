// Package feedback is hone's memory: conversations (as trees of messages),
// ratings, comparisons, the policy registry and training runs, kept in one
// SQLite file (modernc.org/sqlite, no cgo), plus JSONL export/import in the
// formats the rest of the field trains on (TRL, OpenAI).
//
// # API summary (for chat/, tui/, rlhf/ and cmd/hone)
//
//	s, err := feedback.Open(ctx, path)          // creates 0700 dir / 0600 file, migrates, refuses newer DBs
//	defer s.Close()
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
// Errors: ErrNotFound, *NewerDatabaseError (errors.Is(err, ErrNewerDatabase)), ErrInvalid (bad input, wrapped).
package feedback
