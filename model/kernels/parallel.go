package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// maxWorkers is how many goroutines a large kernel splits into.
func maxWorkers() int {
	return max(1, min(runtime.GOMAXPROCS(0), runtime.NumCPU()))
}

// parallelRange calls fn on consecutive ranges [lo,hi) of [0,n) of chunk
// elements each (the last may be shorter), each range exactly once, on
// the caller's goroutine and up to one helper goroutine per further range.
// A single range runs inline.
//
// Ranges are claimed, not assigned: the caller claims ranges in turn
// with the helpers, runs every range that no helper has started yet, and
// waits only for ranges a helper has claimed. On a busy machine a helper that is slow to
// be scheduled therefore costs nothing (the caller does its work and does
// not wait for it to start): the split is never much slower than running
// serially.
func parallelRange(n, chunk int, fn func(lo, hi int)) {
	if chunk <= 0 || chunk >= n {
		fn(0, n)
		return
	}
	nr := (n + chunk - 1) / chunk
	var next atomic.Int64 // index of the next unclaimed range
	var done sync.WaitGroup
	done.Add(nr)
	run := func() {
		for {
			i := int(next.Add(1) - 1)
			if i >= nr {
				return
			}
			lo := i * chunk
			fn(lo, min(lo+chunk, n))
			done.Done()
		}
	}
	for k := 1; k < nr; k++ {
		go run()
	}
	run()
	done.Wait()
}

// rowChunk splits rows across the workers when the job has at least
// minWork elements of work, keeping chunks multiples of align.
func rowChunk(rows, work, minWork, align int) int {
	w := maxWorkers()
	if w <= 1 || work < minWork || rows < 2*align {
		return rows
	}
	return roundUp((rows+w-1)/w, align)
}
