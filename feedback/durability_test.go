package feedback

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

type ack struct {
	rater string
	id    int64
	msg   int64
	value int
}

// startChild re-executes the test binary as a child writer.
func startChild(t *testing.T, role, db string, msg int64, tag string, dur time.Duration) (*exec.Cmd, io.ReadCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+role, "HONE_FEEDBACK_DB="+db,
		"HONE_FEEDBACK_MSG="+strconv.FormatInt(msg, 10), "HONE_FEEDBACK_TAG="+tag, "HONE_FEEDBACK_FOR="+dur.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out
}

// readAcks collects ack lines until EOF; other lines are returned as errors.
func readAcks(r io.Reader) (acks []ack, errs []string) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 5 && f[0] == "ack" {
			id, _ := strconv.ParseInt(f[2], 10, 64)
			msg, _ := strconv.ParseInt(f[3], 10, 64)
			v, _ := strconv.Atoi(f[4])
			acks = append(acks, ack{rater: f[1], id: id, msg: msg, value: v})
		} else {
			errs = append(errs, sc.Text())
		}
	}
	return acks, errs
}

// checkAcks verifies every acknowledged rating is stored as acknowledged
// and the database is intact.
func checkAcks(t *testing.T, db string, acks []ack) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, db)
	if err != nil {
		t.Fatalf("reopen after children: %v", err)
	}
	defer s.Close()
	var ok string
	if err := s.DB().QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("integrity_check = %q, %v", ok, err)
	}
	missing := 0
	for _, a := range acks {
		var id int64
		var v int
		err := s.DB().QueryRowContext(ctx, `SELECT id, value FROM ratings WHERE message_id = ? AND rater = ?`, a.msg, a.rater).Scan(&id, &v)
		if err != nil || id != a.id || v != a.value {
			missing++
			if missing < 5 {
				t.Errorf("acknowledged rating %+v: stored id=%d value=%d err=%v", a, id, v, err)
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged ratings lost", missing, len(acks))
	}
}

// TestCrashKill9 (acceptance 1): a child writing ratings is SIGKILLed at
// random moments, 50 times; every rating it acknowledged survives and the
// database passes integrity_check.
func TestCrashKill9(t *testing.T) {
	s, db := openTest(t)
	f := makeFixture(t, s)
	s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	var all []ack
	for round := range 50 {
		cmd, out := startChild(t, "crash", db, f.a1, fmt.Sprintf("k%d", round), 0)
		var wg sync.WaitGroup
		var acks []ack
		var errs []string
		wg.Add(1)
		go func() { defer wg.Done(); acks, errs = readAcks(out) }()
		// Startup takes tens of milliseconds; kill anywhere from before the
		// first write to deep into a stream of commits.
		time.Sleep(time.Duration(20+rng.IntN(180)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("round %d: kill: %v", round, err)
		}
		wg.Wait()
		cmd.Wait()
		if len(errs) > 0 {
			t.Fatalf("round %d: child reported %q", round, errs)
		}
		all = append(all, acks...)
	}
	if len(all) == 0 {
		t.Fatal("no child ever acknowledged a rating; the kill timing is too early to test anything")
	}
	t.Logf("%d ratings acknowledged across 50 killed children", len(all))
	checkAcks(t, db, all)
}

// TestConcurrentWriters (acceptance 2): 8 processes rate at once for 3 s;
// no acknowledged write is lost and none sees "database is locked".
func TestConcurrentWriters(t *testing.T) {
	s, db := openTest(t)
	f := makeFixture(t, s)
	s.Close()
	const procs = 8
	dur := 3 * time.Second
	type result struct {
		acks []ack
		errs []string
		err  error
	}
	results := make([]result, procs)
	var wg sync.WaitGroup
	for p := range procs {
		cmd, out := startChild(t, "concurrent", db, f.a2, fmt.Sprintf("p%d", p), dur)
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[p].acks, results[p].errs = readAcks(out)
			results[p].err = cmd.Wait()
		}()
	}
	wg.Wait()
	var all []ack
	for p, r := range results {
		if len(r.errs) > 0 || r.err != nil {
			t.Errorf("process %d: exit %v, output %q", p, r.err, r.errs)
		}
		if len(r.acks) == 0 {
			t.Errorf("process %d acknowledged nothing in %v", p, dur)
		}
		all = append(all, r.acks...)
	}
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d ratings by %d processes in %v", len(all), procs, dur)
	checkAcks(t, db, all)
	// No write beyond the acknowledged ones either (the fixture has none).
	s2, err := Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	var n int
	if err := s2.DB().QueryRow(`SELECT count(*) FROM ratings`).Scan(&n); err != nil || n != len(all) {
		t.Fatalf("ratings stored = %d (%v), acknowledged = %d", n, err, len(all))
	}
}
