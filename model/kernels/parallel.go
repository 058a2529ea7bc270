package kernels

import (
	"runtime"
	"sync"
)

// maxWorkers is how many goroutines a large kernel splits into.
func maxWorkers() int {
	return max(1, min(runtime.GOMAXPROCS(0), runtime.NumCPU()))
}

// parallelRange calls fn on consecutive ranges [lo,hi) of [0,n) of chunk
// elements each (the last may be shorter), one goroutine per range; the
// caller's goroutine runs the first range. A single range runs inline.
func parallelRange(n, chunk int, fn func(lo, hi int)) {
	if chunk <= 0 || chunk >= n {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for lo := chunk; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	fn(0, chunk)
	wg.Wait()
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
