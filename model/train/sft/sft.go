// Package sft turns supervised fine-tuning data into token sequences with
// loss masks: TRL's conversational JSONL ("messages", or "prompt" and
// "completion" as message lists or plain strings; KTO rows with a false
// "label" are skipped, DPO rows train on "chosen") rendered with the
// model's chat template, so that only assistant tokens are learned; and
// plain text for language modelling.
package sft

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hone-ai/hone/model/template"
	"github.com/hone-ai/hone/model/tokenizer"
)

// Example is one training conversation: Messages rendered with a chat
// template, or (when Messages is empty) a raw Prompt and Completion
// encoded as text without a template.
type Example struct {
	Messages           []template.Message
	Prompt, Completion string
}

// row is the union of the JSONL shapes read.
type row struct {
	Messages   json.RawMessage `json:"messages"`
	Prompt     json.RawMessage `json:"prompt"`
	Completion json.RawMessage `json:"completion"`
	Chosen     json.RawMessage `json:"chosen"`
	Label      *bool           `json:"label"`
	Text       *string         `json:"text"`
}

// messagesOrString decodes a message list or a plain string.
func messagesOrString(raw json.RawMessage) ([]template.Message, string, bool, error) {
	if len(raw) == 0 {
		return nil, "", false, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return nil, s, true, nil
	}
	var msgs []template.Message
	if err := json.Unmarshal(raw, &msgs); err != nil {
		return nil, "", false, err
	}
	for _, m := range msgs {
		switch m.Role {
		case "system", "user", "assistant":
		default:
			return nil, "", false, fmt.Errorf("message role %q (want system, user or assistant)", m.Role)
		}
	}
	return msgs, "", true, nil
}

// ReadJSONL reads training examples, one JSON object per line (blank
// lines skipped). Errors name the line.
func ReadJSONL(r io.Reader) ([]Example, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var out []Example
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var rw row
		if err := json.Unmarshal([]byte(text), &rw); err != nil {
			return nil, fmt.Errorf("sft: line %d: %w", line, err)
		}
		if rw.Label != nil && !*rw.Label {
			continue // an undesirable KTO example: nothing to imitate
		}
		ex, err := rw.example()
		if err != nil {
			return nil, fmt.Errorf("sft: line %d: %w", line, err)
		}
		out = append(out, ex)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("sft: line %d: %w", line+1, err)
	}
	return out, nil
}

func (rw *row) example() (Example, error) {
	if len(rw.Messages) > 0 {
		msgs, _, _, err := messagesOrString(rw.Messages)
		if err != nil || len(msgs) == 0 {
			return Example{}, fmt.Errorf("messages: want a non-empty list of {role, content}: %v", err)
		}
		return Example{Messages: msgs}, nil
	}
	if rw.Text != nil {
		return Example{Completion: *rw.Text}, nil
	}
	comp := rw.Completion
	if len(comp) == 0 {
		comp = rw.Chosen
	}
	pm, ps, okP, err := messagesOrString(rw.Prompt)
	if err != nil {
		return Example{}, fmt.Errorf("prompt: %w", err)
	}
	cm, cs, okC, err := messagesOrString(comp)
	if err != nil {
		return Example{}, fmt.Errorf("completion: %w", err)
	}
	switch {
	case !okC:
		return Example{}, errors.New(`want "messages", "text", or "prompt" with "completion" (or "chosen")`)
	case pm != nil || cm != nil:
		if cm == nil {
			cm = []template.Message{{Role: "assistant", Content: cs}}
		}
		if pm == nil && okP {
			pm = []template.Message{{Role: "user", Content: ps}}
		}
		return Example{Messages: append(append([]template.Message(nil), pm...), cm...)}, nil
	default:
		return Example{Prompt: ps, Completion: cs}, nil
	}
}

// Tokenizer is what encoding needs from model/tokenizer.
type Tokenizer interface {
	Encode(text string) []int
	EncodeSpecial(text string) []int
	BOS() int
	EOS() int
	AddBOS() bool
}

var _ Tokenizer = (*tokenizer.Tokenizer)(nil)

// Encode turns an example into tokens and a mask of the tokens to learn:
// with a template, every assistant message (as the template renders it,
// end-of-turn marker included); without, the completion. A BOS starts the
// sequence when the vocabulary adds one; an EOS ends it when the
// conversation ends with a learned part that does not already end with
// one.
func Encode(ex Example, tok Tokenizer, tmpl template.Template) (ids []int, mask []bool) {
	if bos := tok.BOS(); bos >= 0 && tok.AddBOS() {
		ids, mask = append(ids, bos), append(mask, false)
	}
	add := func(t []int, learn bool) {
		ids = append(ids, t...)
		for range t {
			mask = append(mask, learn)
		}
	}
	if len(ex.Messages) == 0 {
		if ex.Prompt != "" {
			add(tok.Encode(ex.Prompt), false)
		}
		add(tok.Encode(ex.Completion), true)
	} else {
		// Tokenize the whole conversation once; each assistant turn's
		// tokens are those between the encodings of the conversation up
		// to its generation prompt and up to its end.
		msgs := ex.Messages
		full := tok.EncodeSpecial(tmpl.Render(msgs, false))
		learn := make([]bool, len(full))
		for i, m := range msgs {
			if m.Role != "assistant" {
				continue
			}
			lo := commonPrefix(tok.EncodeSpecial(tmpl.Render(msgs[:i], true)), full)
			hi := commonPrefix(tok.EncodeSpecial(tmpl.Render(msgs[:i+1], false)), full)
			for j := lo; j < hi; j++ {
				learn[j] = true
			}
		}
		ids = append(ids, full...)
		mask = append(mask, learn...)
	}
	if n := len(ids); n > 0 && mask[n-1] && tok.EOS() >= 0 && ids[n-1] != tok.EOS() {
		ids, mask = append(ids, tok.EOS()), append(mask, true)
	}
	return ids, mask
}

func commonPrefix(a, b []int) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// Learned counts the tokens a mask learns.
func Learned(mask []bool) int {
	n := 0
	for _, m := range mask {
		if m {
			n++
		}
	}
	return n
}
