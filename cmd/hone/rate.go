package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/hone-ai/hone/feedback"
)

// defaultRater is $USER, or "local".
func defaultRater(e *env) string {
	if u := strings.TrimSpace(e.getenv("USER")); u != "" {
		return u
	}
	return "local"
}

// openStore opens the feedback store at e.db; mustExist refuses to create
// a new empty database for commands that only read or amend one.
func openStore(ctx context.Context, e *env, mustExist bool) (*feedback.Store, error) {
	if mustExist {
		if _, err := os.Stat(e.db); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no database at %s (use --db or HONE_DB to point at one)", e.db)
		}
	}
	s, err := feedback.Open(ctx, e.db)
	if err != nil {
		return nil, storeErr(err)
	}
	return s, nil
}

// storeErr maps store errors to the command-line exit codes.
func storeErr(err error) error {
	if errors.Is(err, feedback.ErrBusy) {
		return &exitErr{code: exitLocked, err: err}
	}
	return err
}

func runRate(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("rate", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	reason := fs.String("reason", "", "why (short, e.g. \"wrong\", \"too long\")")
	comment := fs.String("comment", "", "free-text comment")
	rater := fs.String("rater", defaultRater(e), "who rates ($USER or \"local\" by default)")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: hone rate MESSAGE_ID up|down|clear [--reason R] [--comment C] [--rater NAME]")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		fs.Usage()
		return usageError("rate: want MESSAGE_ID and up, down or clear")
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(pos[0], "#"), 10, 64)
	if err != nil || id <= 0 {
		return usageError("rate: MESSAGE_ID %q is not a positive integer", pos[0])
	}
	var value int
	switch strings.ToLower(pos[1]) {
	case "up", "+1", "1", "👍":
		value = 1
	case "down", "-1", "👎":
		value = -1
	case "clear":
	default:
		return usageError("rate: %q: want up, down or clear", pos[1])
	}
	if strings.TrimSpace(*rater) == "" {
		return usageError("rate: --rater must not be empty")
	}
	s, err := openStore(ctx, e, true)
	if err != nil {
		return err
	}
	defer s.Close()
	if value == 0 {
		cleared, err := s.ClearRating(ctx, id, *rater)
		if err != nil {
			return storeErr(err)
		}
		if cleared {
			fmt.Fprintf(e.stdout, "cleared %s's rating of message %d\n", *rater, id)
		} else {
			fmt.Fprintf(e.stdout, "%s had no rating on message %d; nothing cleared\n", *rater, id)
		}
		return nil
	}
	r, err := s.Rate(ctx, feedback.RatingInput{MessageID: id, Rater: *rater, Value: value, Reason: *reason, Comment: *comment})
	if err != nil {
		return storeErr(err)
	}
	dir := "up"
	if r.Value < 0 {
		dir = "down"
	}
	fmt.Fprintf(e.stdout, "rated message %d %s by %s (rating %d, seq %d, %s)", r.MessageID, dir, r.Rater, r.ID, r.Seq,
		r.UpdatedAt.Format("2006-01-02T15:04:05.000Z07:00"))
	if r.Reason != "" {
		fmt.Fprintf(e.stdout, " reason=%q", r.Reason)
	}
	if r.Comment != "" {
		fmt.Fprintf(e.stdout, " comment=%q", r.Comment)
	}
	fmt.Fprintln(e.stdout)
	return nil
}
