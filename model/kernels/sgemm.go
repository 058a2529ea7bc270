package kernels

import "fmt"

// Blocking of the packed Sgemm (GotoBLAS/BLIS scheme): a 6×16 register
// tile, kc-deep panels, an mc×kc block of op(A) that stays in L2 and a
// kc×16 micro-panel of op(B) that stays in L1 while the A panels stream by.
const (
	sgMR = 6
	sgNR = 16
	sgKC = 256
	sgMC = 96
	sgNC = 2048
)

// sgemmWork is one goroutine's packing space.
type sgemmWork struct {
	a, b []float32
	tmp  [sgMR * sgNR]float32
}

func newSgemmWork(m, n, k int) *sgemmWork {
	kc := min(k, sgKC)
	mc := min(roundUp(m, sgMR), sgMC)
	nc := min(roundUp(n, sgNR), sgNC)
	// 8 floats of slack: the assembly packers store whole vectors.
	return &sgemmWork{a: make([]float32, mc*kc+8), b: make([]float32, kc*nc)}
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }

// checkSgemm panics with a clear message when the slices cannot hold the
// matrices the arguments describe (the assembly must never run past them).
func checkSgemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernels.Sgemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	need := func(name string, s []float32, rows, cols, ld int) {
		if rows == 0 || cols == 0 {
			return
		}
		if ld < cols {
			panic(fmt.Sprintf("kernels.Sgemm: ld%s=%d < %d columns", name, ld, cols))
		}
		if len(s) < (rows-1)*ld+cols {
			panic(fmt.Sprintf("kernels.Sgemm: %s has %d elements, needs %d (%d×%d, stride %d)", name, len(s), (rows-1)*ld+cols, rows, cols, ld))
		}
	}
	if transA {
		need("a", a, k, m, lda)
	} else {
		need("a", a, m, k, lda)
	}
	if transB {
		need("b", b, n, k, ldb)
	} else {
		need("b", b, k, n, ldb)
	}
	need("c", c, m, n, ldc)
}

// sgemm is Sgemm's fast path: packed, cache-blocked and split across
// goroutines along the longer side of C.
func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		for i := 0; i < m; i++ {
			cr := c[i*ldc : i*ldc+n]
			if beta == 0 {
				clear(cr)
			} else if beta != 1 {
				for j := range cr {
					cr[j] *= beta
				}
			}
		}
		return
	}
	workers := maxWorkers()
	if m*n*k < 1<<17 {
		workers = 1
	}
	if n >= m {
		chunk := roundUp((n+workers-1)/workers, sgNR)
		parallelRange(n, chunk, func(j0, j1 int) {
			bo := j0
			if transB {
				bo = j0 * ldb
			}
			ws := newSgemmWork(m, j1-j0, k)
			sgemmSerial(ws, transA, transB, m, j1-j0, k, alpha, a, lda, b[bo:], ldb, beta, c[j0:], ldc)
		})
		return
	}
	chunk := roundUp((m+workers-1)/workers, sgMR)
	parallelRange(m, chunk, func(i0, i1 int) {
		ao := i0 * lda
		if transA {
			ao = i0
		}
		ws := newSgemmWork(i1-i0, n, k)
		sgemmSerial(ws, transA, transB, i1-i0, n, k, alpha, a[ao:], lda, b, ldb, beta, c[i0*ldc:], ldc)
	})
}

// sgemmSerial runs the blocked algorithm on one goroutine.
func sgemmSerial(ws *sgemmWork, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for jc := 0; jc < n; jc += sgNC {
		nb := min(sgNC, n-jc)
		for pc := 0; pc < k; pc += sgKC {
			kb := min(sgKC, k-pc)
			packB(ws.b, transB, b, ldb, pc, jc, kb, nb)
			bet := beta
			if pc > 0 {
				bet = 1
			}
			for ic := 0; ic < m; ic += sgMC {
				mb := min(sgMC, m-ic)
				packA(ws.a, transA, a, lda, ic, pc, mb, kb)
				for jr := 0; jr < nb; jr += sgNR {
					bp := ws.b[jr*kb : (jr+sgNR)*kb]
					w := min(sgNR, nb-jr)
					for ir := 0; ir < mb; ir += sgMR {
						ap := ws.a[ir*kb : (ir+sgMR)*kb]
						h := min(sgMR, mb-ir)
						ci := (ic+ir)*ldc + jc + jr
						if h == sgMR && w == sgNR {
							sgemmKern(kb, ap, bp, c[ci:], ldc, alpha, bet)
							continue
						}
						sgemmKern(kb, ap, bp, ws.tmp[:], sgNR, alpha, 0)
						for ii := 0; ii < h; ii++ {
							cr := c[ci+ii*ldc : ci+ii*ldc+w]
							tr := ws.tmp[ii*sgNR : ii*sgNR+w]
							if bet == 0 {
								copy(cr, tr)
							} else {
								for j := range cr {
									cr[j] = tr[j] + bet*cr[j]
								}
							}
						}
					}
				}
			}
		}
	}
}

// packA copies op(A)[i0:i0+mb, p0:p0+kb] into 6-row micro-panels laid out
// p-major (panel[p*6+i]), zero-padding the last panel.
func packA(dst []float32, transA bool, a []float32, lda, i0, p0, mb, kb int) {
	if transA {
		// Stored A is k×m: walk its rows in order (sequential reads), each
		// row scattering 6-element runs into the panels.
		full := mb / sgMR * sgMR
		fast := 0 // panels whose 8-float reads stay inside the block
		if mb >= 8 {
			fast = (mb-8)/sgMR + 1
		}
		for p := 0; p < kb; p++ {
			off := (p0+p)*lda + i0
			src := a[off : off+mb]
			start := 0
			if p < kb-1 { // the last column's spill would hit the next panel
				scatter6(dst[p*sgMR:], kb*sgMR, src, fast)
				start = fast * sgMR
			}
			for ir := start; ir < full; ir += sgMR {
				o := ir*kb + p*sgMR
				copy(dst[o:o+sgMR:o+sgMR], src[ir:ir+sgMR])
			}
			if full < mb {
				o := full*kb + p*sgMR
				d := dst[o : o+sgMR]
				n := copy(d, src[full:])
				clear(d[n:])
			}
		}
		return
	}
	for ir := 0; ir < mb; ir += sgMR {
		panel := dst[ir*kb : (ir+sgMR)*kb]
		h := min(sgMR, mb-ir)
		if h == sgMR {
			packA6(dst[ir*kb:], a, (i0+ir)*lda+p0, lda, kb)
			continue
		}
		for ii := 0; ii < h; ii++ {
			off := (i0+ir+ii)*lda + p0
			src := a[off : off+kb]
			for p, v := range src {
				panel[p*sgMR+ii] = v
			}
		}
		for p := 0; p < kb; p++ {
			clear(panel[p*sgMR+h : p*sgMR+sgMR])
		}
	}
}

// packB copies op(B)[p0:p0+kb, j0:j0+nb] into 16-column micro-panels laid
// out p-major (panel[p*16+j]), zero-padding the last panel.
func packB(dst []float32, transB bool, b []float32, ldb, p0, j0, kb, nb int) {
	if !transB {
		// Stored B is k×n: walk its rows in order (sequential reads), each
		// row scattering 16-element runs into the panels.
		full := nb / sgNR * sgNR
		for p := 0; p < kb; p++ {
			off := (p0+p)*ldb + j0
			src := b[off : off+nb]
			scatter16(dst[p*sgNR:], kb*sgNR, src, full/sgNR)
			if full < nb {
				o := full*kb + p*sgNR
				d := dst[o : o+sgNR]
				n := copy(d, src[full:])
				clear(d[n:])
			}
		}
		return
	}
	for jr := 0; jr < nb; jr += sgNR {
		panel := dst[jr*kb : (jr+sgNR)*kb]
		w := min(sgNR, nb-jr)
		if w == sgNR {
			packBT16(panel, b, (j0+jr)*ldb+p0, ldb, kb)
			continue
		}
		for jj := 0; jj < w; jj++ {
			off := (j0+jr+jj)*ldb + p0
			src := b[off : off+kb]
			for p, v := range src {
				panel[p*sgNR+jj] = v
			}
		}
		for p := 0; p < kb; p++ {
			clear(panel[p*sgNR+w : p*sgNR+sgNR])
		}
	}
}

// packA6Go packs columns p0… of the 6×kb block of a at off (row stride
// lda) into panel[p*6+i].
func packA6Go(panel, a []float32, off, lda, kb, p0 int) {
	r0 := a[off : off+kb]
	r1 := a[off+lda : off+lda+kb]
	r2 := a[off+2*lda : off+2*lda+kb]
	r3 := a[off+3*lda : off+3*lda+kb]
	r4 := a[off+4*lda : off+4*lda+kb]
	r5 := a[off+5*lda : off+5*lda+kb]
	for p := p0; p < kb; p++ {
		d := panel[p*sgMR : p*sgMR+sgMR : p*sgMR+sgMR]
		d[0], d[1], d[2], d[3], d[4], d[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
	}
}
