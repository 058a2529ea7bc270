package feedback

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Format is an export format.
type Format string

// Export formats (see the package documentation for their fields).
const (
	FormatTRLKTO    Format = "trl-kto"    // TRL unpaired preference: prompt, completion, label
	FormatTRLDPO    Format = "trl-dpo"    // TRL preference: prompt, chosen, rejected
	FormatOpenAIDPO Format = "openai-dpo" // OpenAI preference fine-tuning: input.messages, preferred_output, non_preferred_output
)

// Formats lists the export formats.
func Formats() []Format { return []Format{FormatTRLKTO, FormatTRLDPO, FormatOpenAIDPO} }

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats() {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("%w: format %q (want trl-kto, trl-dpo or openai-dpo)", ErrInvalid, s)
}

// timeLayout is how exports write times: RFC 3339, UTC, milliseconds (the
// store's resolution, so times survive a round trip exactly).
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// ExampleMeta is the metadata object of a trl-kto row.
type ExampleMeta struct {
	ConversationID    int64   `json:"conversation_id"`
	ConversationTitle string  `json:"conversation_title"`
	PromptIDs         []int64 `json:"prompt_ids"`
	MessageID         int64   `json:"message_id"`
	RatingID          int64   `json:"rating_id"`
	Seq               int64   `json:"seq"`
	PolicyVersion     int64   `json:"policy_version"` // 0: none
	Model             string  `json:"model"`
	Status            string  `json:"status"`
	Rater             string  `json:"rater"`
	Reason            string  `json:"reason"`
	Comment           string  `json:"comment"`
	Time              string  `json:"time"`
}

// PairMeta is the metadata object of a trl-dpo or openai-dpo row.
type PairMeta struct {
	ConversationID        int64   `json:"conversation_id"`
	ConversationTitle     string  `json:"conversation_title"`
	PromptIDs             []int64 `json:"prompt_ids"`
	ParentID              int64   `json:"parent_id"`
	ChosenID              int64   `json:"chosen_id"`
	RejectedID            int64   `json:"rejected_id"`
	ComparisonID          int64   `json:"comparison_id"` // 0: derived from ratings of regenerations
	Seq                   int64   `json:"seq"`
	Source                string  `json:"source"`
	ChosenPolicyVersion   int64   `json:"chosen_policy_version"`
	RejectedPolicyVersion int64   `json:"rejected_policy_version"`
	Rater                 string  `json:"rater"`
	Reason                string  `json:"reason"`
	Time                  string  `json:"time"`
}

// KTORow is one trl-kto line.
type KTORow struct {
	Prompt     []Turn      `json:"prompt"`
	Completion []Turn      `json:"completion"`
	Label      bool        `json:"label"`
	Metadata   ExampleMeta `json:"metadata"`
}

// DPORow is one trl-dpo line.
type DPORow struct {
	Prompt   []Turn   `json:"prompt"`
	Chosen   []Turn   `json:"chosen"`
	Rejected []Turn   `json:"rejected"`
	Metadata PairMeta `json:"metadata"`
}

// OpenAIRow is one openai-dpo line.
type OpenAIRow struct {
	Input struct {
		Messages []Turn `json:"messages"`
	} `json:"input"`
	PreferredOutput    []Turn   `json:"preferred_output"`
	NonPreferredOutput []Turn   `json:"non_preferred_output"`
	Metadata           PairMeta `json:"metadata"`
}

func assistant(s string) []Turn { return []Turn{{Role: string(RoleAssistant), Content: s}} }

func nonNilIDs(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}

// Export writes the window's data as JSON lines in format f and returns
// the number of rows. trl-kto writes one row per rating; trl-dpo and
// openai-dpo one row per pair (explicit and derived).
func (s *Store) Export(ctx context.Context, w io.Writer, f Format, win Window) (int, error) {
	if _, err := ParseFormat(string(f)); err != nil {
		return 0, fmt.Errorf("feedback: export: %w", err)
	}
	titles := map[int64]string{}
	title := func(id int64) (string, error) {
		if t, ok := titles[id]; ok {
			return t, nil
		}
		var t string
		err := retry(ctx, func() error {
			return s.db.QueryRowContext(ctx, `SELECT title FROM conversations WHERE id = ?`, id).Scan(&t)
		})
		titles[id] = t
		return t, err
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	n := 0
	if f == FormatTRLKTO {
		xs, err := s.Examples(ctx, win)
		if err != nil {
			return 0, err
		}
		for _, x := range xs {
			t, err := title(x.ConversationID)
			if err != nil {
				return n, fmt.Errorf("feedback: export: %w", err)
			}
			row := KTORow{Prompt: x.Prompt, Completion: assistant(x.Completion), Label: x.Label, Metadata: ExampleMeta{
				ConversationID: x.ConversationID, ConversationTitle: t, PromptIDs: nonNilIDs(x.PromptIDs),
				MessageID: x.MessageID, RatingID: x.RatingID, Seq: x.Seq, PolicyVersion: x.PolicyVersion,
				Model: x.Model, Status: string(x.Status), Rater: x.Rater, Reason: x.Reason, Comment: x.Comment,
				Time: x.Time.UTC().Format(timeLayout)}}
			if err := enc.Encode(row); err != nil {
				return n, fmt.Errorf("feedback: export: %w", err)
			}
			n++
		}
	} else {
		ps, err := s.Pairs(ctx, win)
		if err != nil {
			return 0, err
		}
		for _, p := range ps {
			t, err := title(p.ConversationID)
			if err != nil {
				return n, fmt.Errorf("feedback: export: %w", err)
			}
			meta := PairMeta{ConversationID: p.ConversationID, ConversationTitle: t, PromptIDs: nonNilIDs(p.PromptIDs),
				ParentID: p.ParentID, ChosenID: p.ChosenID, RejectedID: p.RejectedID, ComparisonID: p.ComparisonID,
				Seq: p.Seq, Source: string(p.Source), ChosenPolicyVersion: p.ChosenPolicyVersion,
				RejectedPolicyVersion: p.RejectedPolicyVersion, Rater: p.Rater, Reason: p.Reason,
				Time: p.Time.UTC().Format(timeLayout)}
			var row any
			if f == FormatTRLDPO {
				row = DPORow{Prompt: p.Prompt, Chosen: assistant(p.Chosen), Rejected: assistant(p.Rejected), Metadata: meta}
			} else {
				r := OpenAIRow{PreferredOutput: assistant(p.Chosen), NonPreferredOutput: assistant(p.Rejected), Metadata: meta}
				r.Input.Messages = p.Prompt
				row = r
			}
			if err := enc.Encode(row); err != nil {
				return n, fmt.Errorf("feedback: export: %w", err)
			}
			n++
		}
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("feedback: export: %w", err)
	}
	return n, nil
}

// ImportError is a malformed import file; nothing was imported.
type ImportError struct {
	Line int
	Err  error
}

func (e *ImportError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *ImportError) Unwrap() error { return e.Err }

// ImportStats counts what Import created.
type ImportStats struct {
	Rows          int
	Conversations int
	Messages      int
	Ratings       int
	Comparisons   int
}

// importRow is one parsed line, in a format-neutral shape.
type importRow struct {
	line      int
	prompt    []Turn
	promptIDs []int64
	convID    int64
	title     string
	// unpaired
	unpaired   bool
	completion string
	messageID  int64
	label      bool
	policy     int64
	model      string
	status     Status
	comment    string
	// paired
	chosen, rejected       string
	chosenID, rejectedID   int64
	chosenPol, rejectedPol int64
	source                 Source
	// both
	rater  string
	reason string
	time   time.Time
}

// Import reads JSON lines in any of the export formats (sniffed line by
// line, so one file may mix them; TRL's plain-string prompt/completion form
// is accepted too) and recreates the conversations, messages, ratings and
// comparisons, all in one transaction. Rows that share a conversation
// (metadata conversation_id, or else an identical prompt) share their
// messages, so regenerations come back as siblings. A malformed file is
// refused with *ImportError naming the line, and nothing is imported.
// Missing raters become "import".
func (s *Store) Import(ctx context.Context, r io.Reader) (ImportStats, error) {
	var rows []importRow
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 256*1024*1024)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		row, err := parseImportLine(b)
		if err != nil {
			return ImportStats{}, fmt.Errorf("feedback: import: %w", &ImportError{Line: line, Err: err})
		}
		row.line = line
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		return ImportStats{}, fmt.Errorf("feedback: import: reading after line %d: %w", line, err)
	}
	var st ImportStats
	err := s.write(ctx, func(tx *sql.Tx) error {
		st = ImportStats{}
		im := &importer{ctx: ctx, tx: tx, st: &st, now: s.stamp(time.Time{}), convs: map[string]int64{}, msgs: map[string]int64{}}
		for _, row := range rows {
			if err := im.add(row); err != nil {
				return &ImportError{Line: row.line, Err: err}
			}
			st.Rows++
		}
		return nil
	})
	if err != nil {
		return ImportStats{}, fmt.Errorf("feedback: import: %w", err)
	}
	return st, nil
}

// turns decodes a conversational list of {role, content}, or a plain
// string (TRL's standard form) as one turn of role def.
func turns(raw json.RawMessage, field, def string) ([]Turn, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, fmt.Errorf("missing %q", field)
	}
	var str string
	if err := json.Unmarshal(raw, &str); err == nil {
		return []Turn{{Role: def, Content: str}}, nil
	}
	var list []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("%q: want a list of {role, content} or a string: %v", field, err)
	}
	out := make([]Turn, len(list))
	for i, m := range list {
		var t Turn
		if err := json.Unmarshal(m["role"], &t.Role); err != nil {
			return nil, fmt.Errorf("%s[%d].role: want a string", field, i)
		}
		if err := json.Unmarshal(m["content"], &t.Content); err != nil {
			return nil, fmt.Errorf("%s[%d].content: want a string", field, i)
		}
		if !Role(t.Role).valid() {
			return nil, fmt.Errorf("%s[%d].role: %q is not system, user or assistant", field, i, t.Role)
		}
		if t.Role == string(RoleSystem) && (i > 0 || field != "prompt" && field != "input.messages") {
			return nil, fmt.Errorf("%s[%d]: a system turn may only open the prompt", field, i)
		}
		out[i] = t
	}
	return out, nil
}

func reply(raw json.RawMessage, field string) (string, error) {
	ts, err := turns(raw, field, string(RoleAssistant))
	if err != nil {
		return "", err
	}
	if len(ts) != 1 || ts[0].Role != string(RoleAssistant) {
		return "", fmt.Errorf("%q: want exactly one assistant turn, got %d turn(s)", field, len(ts))
	}
	return ts[0].Content, nil
}

func parseImportLine(b []byte) (importRow, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return importRow{}, fmt.Errorf("not a JSON object: %v", err)
	}
	var row importRow
	var err error
	var metaRaw = obj["metadata"]
	switch {
	case obj["label"] != nil || obj["completion"] != nil:
		row.unpaired = true
		if row.prompt, err = turns(obj["prompt"], "prompt", string(RoleUser)); err != nil {
			return row, err
		}
		if row.completion, err = reply(obj["completion"], "completion"); err != nil {
			return row, err
		}
		if err := json.Unmarshal(obj["label"], &row.label); err != nil || obj["label"] == nil {
			return row, errors.New(`"label": want true or false`)
		}
		var m ExampleMeta
		if metaRaw != nil {
			if err := json.Unmarshal(metaRaw, &m); err != nil {
				return row, fmt.Errorf("metadata: %v", err)
			}
		}
		row.convID, row.title, row.promptIDs, row.messageID = m.ConversationID, m.ConversationTitle, m.PromptIDs, m.MessageID
		row.policy, row.model, row.status = m.PolicyVersion, m.Model, Status(m.Status)
		row.rater, row.reason, row.comment = m.Rater, m.Reason, m.Comment
		if row.status == "" {
			row.status = StatusComplete
		}
		if !row.status.valid() {
			return row, fmt.Errorf("metadata.status: %q is not complete, streaming, stopped or error", m.Status)
		}
		if row.time, err = parseTime(m.Time); err != nil {
			return row, err
		}
	case obj["chosen"] != nil || obj["preferred_output"] != nil:
		var m PairMeta
		if metaRaw != nil {
			if err := json.Unmarshal(metaRaw, &m); err != nil {
				return row, fmt.Errorf("metadata: %v", err)
			}
		}
		if obj["chosen"] != nil {
			if row.prompt, err = turns(obj["prompt"], "prompt", string(RoleUser)); err != nil {
				return row, err
			}
			if row.chosen, err = reply(obj["chosen"], "chosen"); err != nil {
				return row, err
			}
			if row.rejected, err = reply(obj["rejected"], "rejected"); err != nil {
				return row, err
			}
		} else {
			var in map[string]json.RawMessage
			if err := json.Unmarshal(obj["input"], &in); err != nil || in == nil {
				return row, errors.New(`"input": want an object with "messages"`)
			}
			if row.prompt, err = turns(in["messages"], "input.messages", string(RoleUser)); err != nil {
				return row, err
			}
			if row.chosen, err = reply(obj["preferred_output"], "preferred_output"); err != nil {
				return row, err
			}
			if row.rejected, err = reply(obj["non_preferred_output"], "non_preferred_output"); err != nil {
				return row, err
			}
		}
		row.convID, row.title, row.promptIDs = m.ConversationID, m.ConversationTitle, m.PromptIDs
		row.chosenID, row.rejectedID, row.chosenPol, row.rejectedPol = m.ChosenID, m.RejectedID, m.ChosenPolicyVersion, m.RejectedPolicyVersion
		row.source, row.rater, row.reason = Source(m.Source), m.Rater, m.Reason
		if row.source == "" {
			row.source = SourceCompare
		}
		if !row.source.valid() {
			return row, fmt.Errorf("metadata.source: %q is not compare or regenerate", m.Source)
		}
		if row.time, err = parseTime(m.Time); err != nil {
			return row, err
		}
	default:
		return row, errors.New(`unknown row: want trl-kto ("prompt", "completion", "label"), trl-dpo ("prompt", "chosen", "rejected") or openai-dpo ("input", "preferred_output", "non_preferred_output")`)
	}
	if n := len(row.prompt); n == 0 || row.prompt[n-1].Role != string(RoleUser) {
		return row, errors.New("the prompt must end with a user turn")
	}
	if row.rater == "" {
		row.rater = "import"
	}
	return row, nil
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("metadata.time: %q is not an RFC 3339 time", s)
	}
	return t, nil
}

type importer struct {
	ctx   context.Context
	tx    *sql.Tx
	st    *ImportStats
	now   time.Time
	convs map[string]int64 // conversation key -> new id
	msgs  map[string]int64 // message key (path of parts) -> new id
}

func (im *importer) add(r importRow) error {
	prompt := r.prompt
	system := ""
	if prompt[0].Role == string(RoleSystem) {
		system, prompt = prompt[0].Content, prompt[1:]
	}
	ids := r.promptIDs
	if len(ids) != len(prompt) {
		ids = nil
	}
	convKey := "p:" + PromptKey(r.prompt)
	if r.convID > 0 {
		convKey = "c:" + strconv.FormatInt(r.convID, 10)
	}
	conv, ok := im.convs[convKey]
	if !ok {
		title := r.title
		if title == "" {
			title = truncateRunes(strings.Join(strings.Fields(prompt[0].Content), " "), 60)
		}
		c, err := createConversation(im.ctx, im.tx, NewConversation{Title: title, SystemPrompt: system}, im.now)
		if err != nil {
			return err
		}
		conv = c.ID
		im.convs[convKey] = conv
		im.st.Conversations++
	}
	key := convKey
	parent := int64(0)
	for i, t := range prompt {
		part := "t:" + t.Role + "\x00" + t.Content
		if ids != nil {
			part = "id:" + strconv.FormatInt(ids[i], 10)
		}
		var err error
		key, parent, err = im.message(key, part, Message{ConversationID: conv, ParentID: parent, Role: Role(t.Role), Content: t.Content})
		if err != nil {
			return err
		}
	}
	replyPart := func(id int64, content string) string {
		if id > 0 {
			return "id:" + strconv.FormatInt(id, 10)
		}
		return "t:assistant\x00" + content
	}
	if r.unpaired {
		_, id, err := im.message(key, replyPart(r.messageID, r.completion), Message{ConversationID: conv, ParentID: parent,
			Role: RoleAssistant, Content: r.completion, Status: r.status, PolicyVersion: r.policy, Model: r.model})
		if err != nil {
			return err
		}
		// The reply may already exist as a prompt turn of an earlier row
		// (a later turn of the conversation was rated first); this row is
		// the one that describes it.
		if _, err := im.tx.ExecContext(im.ctx, `UPDATE messages SET status = ?, policy_version = ?, model = ? WHERE id = ?`,
			string(r.status), nullID(r.policy), r.model, id); err != nil {
			return err
		}
		value := -1
		if r.label {
			value = 1
		}
		t := r.time
		if t.IsZero() {
			t = im.now
		}
		if _, err := rate(im.ctx, im.tx, RatingInput{MessageID: id, Rater: r.rater, Value: value, Reason: r.reason, Comment: r.comment}, t.UTC()); err != nil {
			return err
		}
		im.st.Ratings++
		return nil
	}
	_, chosen, err := im.message(key, replyPart(r.chosenID, r.chosen), Message{ConversationID: conv, ParentID: parent,
		Role: RoleAssistant, Content: r.chosen, PolicyVersion: r.chosenPol})
	if err != nil {
		return err
	}
	_, rejected, err := im.message(key, replyPart(r.rejectedID, r.rejected), Message{ConversationID: conv, ParentID: parent,
		Role: RoleAssistant, Content: r.rejected, PolicyVersion: r.rejectedPol})
	if err != nil {
		return err
	}
	t := r.time
	if t.IsZero() {
		t = im.now
	}
	for _, u := range []struct{ id, pol int64 }{{chosen, r.chosenPol}, {rejected, r.rejectedPol}} {
		if u.pol != 0 {
			if _, err := im.tx.ExecContext(im.ctx, `UPDATE messages SET policy_version = ? WHERE id = ?`, u.pol, u.id); err != nil {
				return err
			}
		}
	}
	if _, err := compare(im.ctx, im.tx, ComparisonInput{ChosenID: chosen, RejectedID: rejected, Rater: r.rater,
		Source: r.source, Reason: r.reason}, t.UTC()); err != nil {
		return err
	}
	im.st.Comparisons++
	return nil
}

// message finds or creates the message reached by part under parentKey.
func (im *importer) message(parentKey, part string, m Message) (key string, id int64, err error) {
	key = parentKey + "\x01" + part
	if id, ok := im.msgs[key]; ok {
		return key, id, nil
	}
	id, err = appendMessage(im.ctx, im.tx, m, im.now)
	if err != nil {
		return "", 0, err
	}
	im.msgs[key] = id
	im.st.Messages++
	return key, id, nil
}
