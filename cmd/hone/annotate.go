package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/hone-ai/hone/chat"
	"github.com/hone-ai/hone/feedback"
	"github.com/hone-ai/hone/rlhf"
	"github.com/hone-ai/hone/tui"
)

func runAnnotate(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("annotate", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	rater := fs.String("rater", "", "who rates (default $USER, or \"auto\" with --auto)")
	auto := fs.String("auto", "", "hand the queue to an external annotator `CMD` (JSON lines, see design.md)")
	timeout := fs.Duration("timeout", rlhf.DefaultAnnotatorTimeout, "--auto: how long to wait for each answer")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: hone annotate [--rater NAME] [--auto CMD [--timeout D]]")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("annotate: unexpected argument %q", pos[0])
	}
	if *rater == "" {
		*rater = defaultRater(e)
		if *auto != "" {
			*rater = "auto"
		}
	}
	if *auto == "" && !isTerminal(e.stdin) {
		return usageError("annotate: the queue needs a terminal; use --auto CMD to annotate from a program")
	}
	st, err := openStore(ctx, e, true)
	if err != nil {
		return err
	}
	defer st.Close()
	items, err := chat.BuildQueue(ctx, st, *rater)
	if err != nil {
		return storeErr(err)
	}
	if *auto != "" {
		return annotateAuto(ctx, e, st, *auto, *rater, *timeout, items)
	}
	m := tui.NewAnnotate(ctx, st, *rater, items, true)
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(e.stdin), tea.WithOutput(e.stdout))
	if _, err := p.Run(); err != nil && !(errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil) {
		return fmt.Errorf("annotate: %w", err)
	}
	up, down, pairs, skipped := m.Counts()
	fmt.Fprintf(e.stdout, "annotated as %s: %d up, %d down, %d pairs, %d skipped, %d left\n",
		*rater, up, down, pairs, skipped, len(items)-up-down-pairs-skipped)
	return nil
}

// annotateAuto sends every unrated reply to the external annotator and
// stores its ratings (pairs have no form in the protocol and are left).
func annotateAuto(ctx context.Context, e *env, st *feedback.Store, command, rater string, timeout time.Duration, items []chat.QueueItem) error {
	var reqs []rlhf.AnnotationRequest
	var ids []int64
	for _, it := range items {
		if it.IsPair() {
			continue
		}
		turns := make([]rlhf.Turn, len(it.Context))
		for i, t := range it.Context {
			turns[i] = rlhf.Turn{Role: t.Role, Content: t.Content}
		}
		reqs = append(reqs, rlhf.AnnotationRequest{ID: strconv.FormatInt(it.A.ID, 10), Messages: turns, Reply: it.A.Content})
		ids = append(ids, it.A.ID)
	}
	if len(reqs) == 0 {
		return &exitErr{code: exitNothing, err: fmt.Errorf("annotate: nothing to annotate for rater %q", rater)}
	}
	a, err := rlhf.StartAnnotator(command, timeout)
	if err != nil {
		return err
	}
	defer a.Close()
	var up, down, skipped int
	const batch = 32
	for lo := 0; lo < len(reqs); lo += batch {
		hi := min(lo+batch, len(reqs))
		js, err := a.Annotate(ctx, reqs[lo:hi])
		if err != nil {
			return fmt.Errorf("annotate --auto: %w (%d rated before it failed)", err, up+down)
		}
		for i, j := range js {
			id := ids[lo+i]
			switch j.Rating {
			case 1, -1:
				if _, err := st.Rate(ctx, feedback.RatingInput{MessageID: id, Rater: rater, Value: j.Rating, Reason: j.Reason}); err != nil {
					return storeErr(fmt.Errorf("annotate: rate message %d: %w", id, err))
				}
				if j.Rating > 0 {
					up++
				} else {
					down++
				}
			default:
				skipped++
			}
		}
	}
	fmt.Fprintf(e.stdout, "annotated %d replies as %s: %d up, %d down, %d skipped\n", len(reqs), rater, up, down, skipped)
	return nil
}
