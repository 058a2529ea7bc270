package rlhf

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Turn is one message of a conversation as the annotator protocol and the
// TRL conversational formats write it.
type Turn struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// AnnotationRequest is one line hone writes to an annotator.
type AnnotationRequest struct {
	ID       string `json:"id"`
	Messages []Turn `json:"messages"`
	Reply    string `json:"reply"`
}

// Judgement is one line an annotator answers: rating 1 (up), −1 (down)
// or 0 (skip).
type Judgement struct {
	ID     string `json:"id"`
	Rating int    `json:"rating"`
	Reason string `json:"reason,omitempty"`
}

// Annotator is an external program that rates replies over JSON lines
// (design.md, "External annotator protocol"): started once, one request
// per line on its stdin, one answer per line on its stdout, in order.
type Annotator struct {
	command string
	timeout time.Duration
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	lines   chan lineOrErr
	stderr  *tailBuffer
	done    chan struct{} // closed when the process has exited
	waitErr error
	mu      sync.Mutex // one Annotate at a time
	broken  error
}

type lineOrErr struct {
	line []byte
	err  error
}

// tailBuffer keeps the last few KiB written to it (the annotator's stderr,
// quoted in errors).
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 4096 {
		t.buf = t.buf[len(t.buf)-4096:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

// DefaultAnnotatorTimeout is how long hone waits for one answer.
const DefaultAnnotatorTimeout = 30 * time.Second

// StartAnnotator starts command with sh -c. timeout bounds the wait for
// each answer (0 = DefaultAnnotatorTimeout).
func StartAnnotator(command string, timeout time.Duration) (*Annotator, error) {
	if strings.TrimSpace(command) == "" {
		return nil, errors.New("annotator: empty command")
	}
	if timeout <= 0 {
		timeout = DefaultAnnotatorTimeout
	}
	cmd := exec.Command("sh", "-c", command)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("annotator %q: %w", command, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("annotator %q: %w", command, err)
	}
	a := &Annotator{command: command, timeout: timeout, cmd: cmd, stdin: stdin, stderr: &tailBuffer{},
		lines: make(chan lineOrErr, 64), done: make(chan struct{})}
	cmd.Stderr = a.stderr
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("annotator %q: start: %w", command, err)
	}
	go func() {
		r := bufio.NewReaderSize(stdout, 64<<10)
		for {
			line, err := r.ReadBytes('\n')
			if len(bytes.TrimSpace(line)) > 0 {
				a.lines <- lineOrErr{line: line}
			}
			if err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				a.lines <- lineOrErr{err: err}
				close(a.lines)
				return
			}
		}
	}()
	go func() {
		a.waitErr = cmd.Wait()
		close(a.done)
	}()
	return a, nil
}

// exitDetail describes how the process ended, for error messages.
func (a *Annotator) exitDetail() string {
	select {
	case <-a.done:
		d := "it exited"
		if a.waitErr != nil {
			d = fmt.Sprintf("it exited (%v)", a.waitErr)
		}
		if s := a.stderr.String(); s != "" {
			d += "; stderr: " + s
		}
		return d
	case <-time.After(200 * time.Millisecond):
		if s := a.stderr.String(); s != "" {
			return "stderr: " + s
		}
		return "it is still running"
	}
}

// Annotate sends reqs and returns their judgements in the same order. Any
// failure (the program dies, answers garbage, out of order or too late)
// is an error naming the request and what went wrong; the annotator is
// unusable afterwards.
func (a *Annotator) Annotate(ctx context.Context, reqs []AnnotationRequest) ([]Judgement, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.broken != nil {
		return nil, a.broken
	}
	fail := func(err error) ([]Judgement, error) {
		a.broken = err
		return nil, err
	}
	// Write from a goroutine so a program that answers as it reads never
	// blocks on a full pipe.
	werr := make(chan error, 1)
	go func() {
		w := bufio.NewWriter(a.stdin)
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for _, r := range reqs {
			if err := enc.Encode(r); err != nil {
				werr <- err
				return
			}
			if len(reqs) < 64 {
				if err := w.Flush(); err != nil {
					werr <- err
					return
				}
			}
		}
		werr <- w.Flush()
	}()
	out := make([]Judgement, len(reqs))
	timer := time.NewTimer(a.timeout)
	defer timer.Stop()
	for i, r := range reqs {
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(a.timeout)
		var le lineOrErr
		var ok bool
		select {
		case le, ok = <-a.lines:
		case <-timer.C:
			return fail(fmt.Errorf("annotator %q: no answer to request %s within %v", a.command, r.ID, a.timeout))
		case <-ctx.Done():
			return fail(ctx.Err())
		}
		if !ok || le.err != nil {
			return fail(fmt.Errorf("annotator %q: no answer to request %s: %s", a.command, r.ID, a.exitDetail()))
		}
		var j Judgement
		dec := json.NewDecoder(bytes.NewReader(le.line))
		dec.UseNumber()
		var raw map[string]json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fail(fmt.Errorf("annotator %q: answer to request %s is not a JSON object: %q: %w", a.command, r.ID, truncate(string(le.line), 200), err))
		}
		if err := json.Unmarshal(le.line, &j); err != nil {
			return fail(fmt.Errorf("annotator %q: answer to request %s: %q: %w", a.command, r.ID, truncate(string(le.line), 200), err))
		}
		if _, has := raw["rating"]; !has {
			return fail(fmt.Errorf("annotator %q: answer to request %s has no \"rating\": %q", a.command, r.ID, truncate(string(le.line), 200)))
		}
		if j.ID != r.ID {
			return fail(fmt.Errorf("annotator %q: answer for id %q where request %s was expected (answers must come in order)", a.command, j.ID, r.ID))
		}
		if j.Rating < -1 || j.Rating > 1 {
			return fail(fmt.Errorf("annotator %q: rating %d for request %s: must be 1, -1 or 0", a.command, j.Rating, r.ID))
		}
		out[i] = j
	}
	if err := <-werr; err != nil {
		return fail(fmt.Errorf("annotator %q: write requests: %w (%s)", a.command, err, a.exitDetail()))
	}
	return out, nil
}

func truncate(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Close ends the annotator: EOF on its stdin, then a kill of its process
// group if it has not exited within a few seconds.
func (a *Annotator) Close() error {
	a.stdin.Close()
	select {
	case <-a.done:
	case <-time.After(3 * time.Second):
		killGroup(a.cmd)
		<-a.done
	}
	// Children of sh may still hold stdout; end them too.
	killGroup(a.cmd)
	return nil
}
