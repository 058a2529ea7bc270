package feedback

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkRate measures one rating write (an IMMEDIATE transaction with
// synchronous=FULL, i.e. one WAL fsync) and reports p50/p99 latency.
func BenchmarkRate(b *testing.B) {
	ctx := context.Background()
	s, _ := openTest(b)
	f := makeFixture(b, s)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		if _, err := s.Rate(ctx, RatingInput{MessageID: f.a1, Rater: fmt.Sprintf("r%d", i), Value: 1 - 2*(i%2), Reason: "bench"}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) }
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
}

// searchWords builds message text: common English words, some Korean,
// and two rare markers in about 0.1% of the messages each.
var searchWords = strings.Fields(`the a of to and in is it you that he was for on are with as I his they be at one have
this from or had by hot word but what some we can out other were all there when up use your how said an each she
which do their time if will way about many then them write would like so these her long make thing see him two has
look more day could go come did number sound no most people my over know water than call first who may down side
been now find any new work part take get place made live where after back little only round man year came show every
good me give our under name very through just form sentence great think say help low line differ turn cause much mean
before move right boy old too same tell does set three want air well also play small end put home read hand port large
spell add even land here must big high such follow act why ask men change went light kind off need house picture try
us again animal point mother world near build self earth father 안녕하세요 감사합니다 사랑 학교 친구 음식 오늘 내일
날씨 좋아요 모델 질문 대답 컴퓨터 프로그램`)

func buildSearchDB(b *testing.B, n int) *Store {
	b.Helper()
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "search.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	rng := rand.New(rand.NewPCG(7, 7))
	tx, err := s.DB().BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	const perConv = 100
	conv, _ := tx.Prepare(`INSERT INTO conversations (id, title, created_at, updated_at) VALUES (?, ?, 0, 0)`)
	msg, _ := tx.Prepare(`INSERT INTO messages (id, conversation_id, parent_id, role, content, created_at) VALUES (?, ?, ?, ?, ?, 0)`)
	var sb strings.Builder
	for i := 1; i <= n; i++ {
		c := (i-1)/perConv + 1
		if (i-1)%perConv == 0 {
			if _, err := conv.Exec(c, fmt.Sprintf("conversation %d", c)); err != nil {
				b.Fatal(err)
			}
		}
		sb.Reset()
		for w := 8 + rng.IntN(32); w > 0; w-- {
			sb.WriteString(searchWords[rng.IntN(len(searchWords))])
			sb.WriteByte(' ')
		}
		if i%1000 == 500 {
			sb.WriteString("xylophone ")
		}
		if i%1000 == 700 {
			sb.WriteString("사랑해요 ")
		}
		var parent any
		if (i-1)%perConv != 0 {
			parent = i - 1
		}
		role := "user"
		if i%2 == 0 {
			role = "assistant"
		}
		if _, err := msg.Exec(i, c, parent, role, sb.String()); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkSearch compares Store.Search (FTS5 trigram index) with a LIKE
// scan over the same 100,000 messages (the baseline), for a rare English
// word and a rare Korean word (100 matches each). Both return every match.
func BenchmarkSearch(b *testing.B) {
	ctx := context.Background()
	const n = 100_000
	t0 := time.Now()
	s := buildSearchDB(b, n)
	b.Logf("built %d messages with FTS index in %v", n, time.Since(t0))
	for _, q := range []string{"xylophone", "사랑해요"} {
		b.Run("fts/"+q, func(b *testing.B) {
			for range b.N {
				hits, err := s.Search(ctx, q, 200)
				if err != nil || len(hits) != n/1000 {
					b.Fatalf("Search(%q) = %d hits, %v", q, len(hits), err)
				}
			}
		})
		b.Run("like/"+q, func(b *testing.B) {
			for range b.N {
				rows, err := s.DB().QueryContext(ctx, `SELECT m.id, m.conversation_id, m.content FROM messages m WHERE m.content LIKE ?`, "%"+q+"%")
				if err != nil {
					b.Fatal(err)
				}
				k := 0
				for rows.Next() {
					k++
				}
				rows.Close()
				if k != n/1000 {
					b.Fatalf("LIKE %q = %d rows", q, k)
				}
			}
		})
	}
}
