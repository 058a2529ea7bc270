package feedback

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"time"
)

// runChild is the body of a re-executed test binary. It prints one line
// "ack RATER RATING_ID" per rating only after Rate returned (committed),
// and "err ..." on any failure.
//
// Environment: HONE_FEEDBACK_DB (path), HONE_FEEDBACK_MSG (message id to
// rate), HONE_FEEDBACK_TAG (rater prefix), HONE_FEEDBACK_FOR (duration;
// 0 = until killed).
func runChild(role string) int {
	ctx := context.Background()
	out := bufio.NewWriter(os.Stdout)
	fail := func(err error) int {
		fmt.Fprintf(out, "err %v\n", err)
		out.Flush()
		return 1
	}
	msg, err := strconv.ParseInt(os.Getenv("HONE_FEEDBACK_MSG"), 10, 64)
	if err != nil {
		return fail(fmt.Errorf("HONE_FEEDBACK_MSG: %w", err))
	}
	dur, _ := time.ParseDuration(os.Getenv("HONE_FEEDBACK_FOR"))
	tag := os.Getenv("HONE_FEEDBACK_TAG")
	s, err := Open(ctx, os.Getenv("HONE_FEEDBACK_DB"))
	if err != nil {
		return fail(err)
	}
	defer s.Close()
	conv, err := s.Message(ctx, msg)
	if err != nil {
		return fail(err)
	}
	deadline := time.Now().Add(dur)
	for i := 0; dur == 0 || time.Now().Before(deadline); i++ {
		target := msg
		if role == "concurrent" && i%4 == 3 {
			// Mix in other writes: a new regeneration, rated.
			target, err = s.AppendMessage(ctx, Message{ConversationID: conv.ConversationID, ParentID: conv.ParentID,
				Role: RoleAssistant, Content: fmt.Sprintf("reply %s-%d", tag, i)})
			if err != nil {
				return fail(err)
			}
		}
		rater := fmt.Sprintf("%s-%d", tag, i)
		v := 1 - 2*(i%2)
		r, err := s.Rate(ctx, RatingInput{MessageID: target, Rater: rater, Value: v, Comment: "child"})
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(out, "ack %s %d %d %d\n", rater, r.ID, target, v)
		if err := out.Flush(); err != nil {
			return 1
		}
	}
	return 0
}
