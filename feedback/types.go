package feedback

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Role is who wrote a message.
type Role string

// Message roles.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

func (r Role) valid() bool { return r == RoleSystem || r == RoleUser || r == RoleAssistant }

// Status is the state of a message's content.
type Status string

// Message statuses: a streamed reply starts as StatusStreaming and ends
// complete, stopped (the user interrupted it) or error.
const (
	StatusComplete  Status = "complete"
	StatusStreaming Status = "streaming"
	StatusStopped   Status = "stopped"
	StatusError     Status = "error"
)

func (s Status) valid() bool {
	return s == StatusComplete || s == StatusStreaming || s == StatusStopped || s == StatusError
}

// Source says where a preference pair came from.
type Source string

// Pair sources: an explicit side-by-side choice, a regeneration (either
// chosen explicitly after regenerating, or derived from 👍/👎 on siblings),
// or 👍/👎 on replies to the same prompt in different places (derived by
// SamePromptPairs; never stored).
const (
	SourceCompare    Source = "compare"
	SourceRegenerate Source = "regenerate"
	SourcePrompt     Source = "prompt"
)

func (s Source) valid() bool { return s == SourceCompare || s == SourceRegenerate }

// PolicyStatus is a policy's place in the registry.
type PolicyStatus string

// Policy statuses; exactly zero or one policy is active.
const (
	PolicyActive    PolicyStatus = "active"
	PolicyCandidate PolicyStatus = "candidate"
	PolicyRetired   PolicyStatus = "retired"
)

// Outcome is how a training run ended.
type Outcome string

// Training run outcomes.
const (
	OutcomeRunning   Outcome = "running"
	OutcomePromoted  Outcome = "promoted"
	OutcomeRejected  Outcome = "rejected"
	OutcomeFailed    Outcome = "failed"
	OutcomeCancelled Outcome = "cancelled"
	OutcomeNothing   Outcome = "nothing"
)

func (o Outcome) valid() bool {
	switch o {
	case OutcomeRunning, OutcomePromoted, OutcomeRejected, OutcomeFailed, OutcomeCancelled, OutcomeNothing:
		return true
	}
	return false
}

// Errors callers can test with errors.Is.
var (
	ErrNotFound      = errors.New("not found")
	ErrInvalid       = errors.New("invalid input")
	ErrNewerDatabase = errors.New("database was written by a newer hone")
	ErrBusy          = errors.New("database busy")
)

// NewerDatabaseError refuses a database whose schema is newer than this
// binary's newest migration. The file is left untouched.
type NewerDatabaseError struct {
	Path              string
	DBVersion, Newest int64
}

func (e *NewerDatabaseError) Error() string {
	return fmt.Sprintf("%s has schema version %d but this hone knows only up to %d: it was written by a newer hone; upgrade hone (the file was not modified)",
		e.Path, e.DBVersion, e.Newest)
}

// Is makes errors.Is(err, ErrNewerDatabase) true.
func (e *NewerDatabaseError) Is(target error) bool { return target == ErrNewerDatabase }

// NewConversation is what CreateConversation needs.
type NewConversation struct {
	Title        string
	SystemPrompt string
	Model        string
}

// Conversation is one chat: a tree of messages.
type Conversation struct {
	ID           int64
	Title        string
	SystemPrompt string
	Model        string
	LeafID       int64 // the message the user last saw/appended (0: none)
	MessageCount int
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Message is one node of a conversation tree.
type Message struct {
	ID               int64
	ConversationID   int64
	ParentID         int64 // 0: a root message
	Role             Role
	Content          string
	Status           Status // "" means complete when appending
	PolicyVersion    int64  // 0: none (user text, or a model outside the registry)
	Model            string
	Sampling         json.RawMessage // sampling parameters as a JSON object (nil: none)
	PromptTokens     int
	CompletionTokens int
	PromptDuration   time.Duration
	GenDuration      time.Duration
	CreatedAt        time.Time // zero: now
}

// MessageUpdate replaces the content, status and generation stats of a
// message, e.g. when a streamed reply finishes or is stopped.
type MessageUpdate struct {
	Content          string
	Status           Status
	PromptTokens     int
	CompletionTokens int
	PromptDuration   time.Duration
	GenDuration      time.Duration
}

// RatingInput is what Rate stores.
type RatingInput struct {
	MessageID int64
	Rater     string // required
	Value     int    // +1 (👍) or -1 (👎)
	Reason    string
	Comment   string
	Time      time.Time // zero: now (import sets it)
}

// Rating is one rater's 👍/👎 on one assistant message.
type Rating struct {
	ID        int64
	MessageID int64
	Rater     string
	Value     int
	Reason    string
	Comment   string
	Seq       int64 // watermark position of its latest change
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ComparisonInput is what Compare stores.
type ComparisonInput struct {
	ChosenID   int64
	RejectedID int64
	Rater      string // required
	Source     Source // "" means compare
	Reason     string
	Time       time.Time // zero: now
}

// Comparison is an explicit preference between two sibling replies.
type Comparison struct {
	ID         int64
	ParentID   int64
	ChosenID   int64
	RejectedID int64
	Rater      string
	Source     Source
	Reason     string
	Seq        int64
	CreatedAt  time.Time
}

// SearchHit is one message matching a search.
type SearchHit struct {
	ConversationID int64
	MessageID      int64
	Role           Role
	Title          string // the conversation's title
	Snippet        string // matched text with the hits wrapped in [ and ]
	CreatedAt      time.Time
}

// Window selects training data by change sequence: Since < seq <= Until;
// Until 0 means no upper bound.
type Window struct {
	Since int64
	Until int64
}

// Turn is one chat message as the training formats want it.
type Turn struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Example is an unpaired (KTO-style) example from one rating.
type Example struct {
	Prompt         []Turn  // the conversation up to the reply (system prompt first if any)
	PromptIDs      []int64 // message ids of Prompt's turns, the system prompt excepted
	Completion     string
	Label          bool // true: 👍
	Rater          string
	Reason         string
	Comment        string
	PolicyVersion  int64
	Model          string
	Status         Status
	ConversationID int64
	MessageID      int64
	RatingID       int64
	Seq            int64
	Time           time.Time
	PromptKey      string
}

// Pair is a preference pair: an explicit comparison (ComparisonID > 0) or
// one derived from the same rater's 👍 and 👎 on sibling replies
// (ComparisonID 0, Source regenerate).
type Pair struct {
	Prompt                []Turn  // the conversation up to the parent (system prompt first if any)
	PromptIDs             []int64 // message ids of Prompt's turns, the system prompt excepted
	Chosen                string
	Rejected              string
	Source                Source
	Rater                 string
	Reason                string
	ConversationID        int64
	ParentID              int64
	ChosenID              int64
	RejectedID            int64
	ComparisonID          int64
	ChosenPolicyVersion   int64
	RejectedPolicyVersion int64
	Seq                   int64
	Time                  time.Time
	PromptKey             string
}

// Counts summarises training data in a window.
type Counts struct {
	Up           int // 👍 ratings
	Down         int // 👎 ratings
	Pairs        int // all pairs, derived ones included
	DerivedPairs int // pairs derived from rated regenerations
}

// Policy is one version in the registry.
type Policy struct {
	Version       int64
	Name          string
	Base          string
	ParentVersion int64 // 0: none (a base model)
	Path          string
	Algorithm     string
	Metrics       json.RawMessage
	Status        PolicyStatus
	Replaced      int64 // the active version this one replaced when promoted (0: none)
	CreatedAt     time.Time
	PromotedAt    time.Time // zero: never
	RetiredAt     time.Time // zero: not retired
}

// TrainingRun is one run of the training job.
type TrainingRun struct {
	ID               int64
	Algorithm        string
	PolicyVersion    int64 // reference policy
	CandidateVersion int64 // produced policy (0: none)
	WatermarkFrom    int64 // data used: WatermarkFrom < seq <= WatermarkTo
	WatermarkTo      int64
	Examples         int
	Pairs            int
	Metrics          json.RawMessage
	Outcome          Outcome
	Error            string
	StartedAt        time.Time
	FinishedAt       time.Time // zero: still running
}

// RunResult ends a training run.
type RunResult struct {
	Outcome          Outcome
	CandidateVersion int64
	Metrics          json.RawMessage // nil: keep the current metrics
	Error            string
}
