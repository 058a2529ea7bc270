//go:build amd64 && !purego

#include "textflag.h"

// Hand-written AVX2+FMA(+F16C) kernels. Every routine here is called only
// when the CPU reports AVX2, FMA and F16C (see simd_amd64.go), and only on
// lengths the Go wrappers have already checked; element counts are
// multiples of 8 unless stated otherwise, the Go side handling tails.

// Horizontal sum of the 8 lanes of Y0 into the low lane of X0 (clobbers X1).
#define HSUM0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS       X1, X0, X0 \
	VPERMILPS    $0x4E, X0, X1 \
	VADDPS       X1, X0, X0 \
	VPERMILPS    $0xB1, X0, X1 \
	VADDPS       X1, X0, X0

// func dotAVX(a, b *float32, n int) float32
// n is a multiple of 8.
TEXT ·dotAVX(SB), NOSPLIT, $0-28
	MOVQ   a+0(FP), SI
	MOVQ   b+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

dot32:
	CMPQ        CX, $32
	JL          dot8
	VMOVUPS     0(SI), Y4
	VMOVUPS     32(SI), Y5
	VMOVUPS     64(SI), Y6
	VMOVUPS     96(SI), Y7
	VFMADD231PS 0(DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	JMP         dot32

dot8:
	CMPQ        CX, $8
	JL          dotdone
	VMOVUPS     0(SI), Y4
	VFMADD231PS 0(DI), Y4, Y0
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         dot8

dotdone:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	HSUM0
	VZEROUPPER
	MOVSS  X0, ret+24(FP)
	RET

// func gemv4AVX(out *float32, w *float32, ldw int, x *float32, n int, groups int)
// out[r] = Σ_c w[r*ldw+c]·x[c] for r < 4·groups, c < n; n multiple of 8.
// Four rows per pass share each load of x. While it reads 64 bytes of the
// four rows it prefetches 256 contiguous bytes 16 rows ahead, so over a
// pass it prefetches rows r+16…r+19 when the rows are contiguous
// (ldw == n, the matrices of a model): decode streams its weights from
// DRAM, and this raised the single-core rate ~30% over prefetching 1 KiB
// ahead within each row on small rows (288 columns) without losing on
// long ones (768).
TEXT ·gemv4AVX(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DX
	MOVQ w+8(FP), R8
	MOVQ ldw+16(FP), AX
	SHLQ $2, AX
	MOVQ x+24(FP), DI
	MOVQ groups+40(FP), R12

gvgroup:
	TESTQ  R12, R12
	JE     gvend
	LEAQ   (R8)(AX*1), R9
	LEAQ   (R9)(AX*1), R10
	LEAQ   (R10)(AX*1), R11
	LEAQ   (R8)(AX*8), R13
	LEAQ   (R13)(AX*8), R13
	MOVQ   n+32(FP), CX
	XORQ   BX, BX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

gv16:
	CMPQ        CX, $16
	JL          gv8
	VMOVUPS     0(DI)(BX*1), Y8
	VMOVUPS     32(DI)(BX*1), Y9
	VFMADD231PS 0(R8)(BX*1), Y8, Y0
	VFMADD231PS 32(R8)(BX*1), Y9, Y1
	VFMADD231PS 0(R9)(BX*1), Y8, Y2
	VFMADD231PS 32(R9)(BX*1), Y9, Y3
	VFMADD231PS 0(R10)(BX*1), Y8, Y4
	VFMADD231PS 32(R10)(BX*1), Y9, Y5
	VFMADD231PS 0(R11)(BX*1), Y8, Y6
	VFMADD231PS 32(R11)(BX*1), Y9, Y7
	PREFETCHT0  0(R13)(BX*4)
	PREFETCHT0  64(R13)(BX*4)
	PREFETCHT0  128(R13)(BX*4)
	PREFETCHT0  192(R13)(BX*4)
	ADDQ        $64, BX
	SUBQ        $16, CX
	JMP         gv16

gv8:
	CMPQ        CX, $8
	JL          gvdone
	VMOVUPS     0(DI)(BX*1), Y8
	VFMADD231PS 0(R8)(BX*1), Y8, Y0
	VFMADD231PS 0(R9)(BX*1), Y8, Y2
	VFMADD231PS 0(R10)(BX*1), Y8, Y4
	VFMADD231PS 0(R11)(BX*1), Y8, Y6

gvdone:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y5, Y4, Y4
	VADDPS       Y7, Y6, Y6
	VHADDPS      Y2, Y0, Y0
	VHADDPS      Y6, Y4, Y4
	VHADDPS      Y4, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VMOVUPS      X0, 0(DX)
	ADDQ         $16, DX
	LEAQ         (R11)(AX*1), R8
	DECQ         R12
	JMP          gvgroup

gvend:
	VZEROUPPER
	RET

// func sgemmKernAVX(k int, a, b, c *float32, ldc int, alpha, beta float32)
// C[6×16] = alpha·(Σ_p a[p*6+i]·b[p*16+j]) + beta·C, C row stride ldc.
// beta == 0 never reads C.
TEXT ·sgemmKernAVX(SB), NOSPLIT, $0-48
	MOVQ   k+0(FP), CX
	MOVQ   a+8(FP), SI
	MOVQ   b+16(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

kloop2:
	CMPQ         CX, $2
	JL           kloop1
	VMOVUPS      0(DI), Y12
	VMOVUPS      32(DI), Y13
	VBROADCASTSS 0(SI), Y14
	VBROADCASTSS 4(SI), Y15
	VFMADD231PS  Y12, Y14, Y0
	VFMADD231PS  Y13, Y14, Y1
	VFMADD231PS  Y12, Y15, Y2
	VFMADD231PS  Y13, Y15, Y3
	VBROADCASTSS 8(SI), Y14
	VBROADCASTSS 12(SI), Y15
	VFMADD231PS  Y12, Y14, Y4
	VFMADD231PS  Y13, Y14, Y5
	VFMADD231PS  Y12, Y15, Y6
	VFMADD231PS  Y13, Y15, Y7
	VBROADCASTSS 16(SI), Y14
	VBROADCASTSS 20(SI), Y15
	VFMADD231PS  Y12, Y14, Y8
	VFMADD231PS  Y13, Y14, Y9
	VFMADD231PS  Y12, Y15, Y10
	VFMADD231PS  Y13, Y15, Y11
	VMOVUPS      64(DI), Y12
	VMOVUPS      96(DI), Y13
	VBROADCASTSS 24(SI), Y14
	VBROADCASTSS 28(SI), Y15
	VFMADD231PS  Y12, Y14, Y0
	VFMADD231PS  Y13, Y14, Y1
	VFMADD231PS  Y12, Y15, Y2
	VFMADD231PS  Y13, Y15, Y3
	VBROADCASTSS 32(SI), Y14
	VBROADCASTSS 36(SI), Y15
	VFMADD231PS  Y12, Y14, Y4
	VFMADD231PS  Y13, Y14, Y5
	VFMADD231PS  Y12, Y15, Y6
	VFMADD231PS  Y13, Y15, Y7
	VBROADCASTSS 40(SI), Y14
	VBROADCASTSS 44(SI), Y15
	VFMADD231PS  Y12, Y14, Y8
	VFMADD231PS  Y13, Y14, Y9
	VFMADD231PS  Y12, Y15, Y10
	VFMADD231PS  Y13, Y15, Y11
	PREFETCHT0   512(DI)
	ADDQ         $48, SI
	ADDQ         $128, DI
	SUBQ         $2, CX
	JMP          kloop2

kloop1:
	TESTQ        CX, CX
	JE           kstore
	VMOVUPS      0(DI), Y12
	VMOVUPS      32(DI), Y13
	VBROADCASTSS 0(SI), Y14
	VBROADCASTSS 4(SI), Y15
	VFMADD231PS  Y12, Y14, Y0
	VFMADD231PS  Y13, Y14, Y1
	VFMADD231PS  Y12, Y15, Y2
	VFMADD231PS  Y13, Y15, Y3
	VBROADCASTSS 8(SI), Y14
	VBROADCASTSS 12(SI), Y15
	VFMADD231PS  Y12, Y14, Y4
	VFMADD231PS  Y13, Y14, Y5
	VFMADD231PS  Y12, Y15, Y6
	VFMADD231PS  Y13, Y15, Y7
	VBROADCASTSS 16(SI), Y14
	VBROADCASTSS 20(SI), Y15
	VFMADD231PS  Y12, Y14, Y8
	VFMADD231PS  Y13, Y14, Y9
	VFMADD231PS  Y12, Y15, Y10
	VFMADD231PS  Y13, Y15, Y11

kstore:
	MOVQ         c+24(FP), DX
	MOVQ         ldc+32(FP), BX
	SHLQ         $2, BX
	VBROADCASTSS alpha+40(FP), Y14
	VMULPS       Y14, Y0, Y0
	VMULPS       Y14, Y1, Y1
	VMULPS       Y14, Y2, Y2
	VMULPS       Y14, Y3, Y3
	VMULPS       Y14, Y4, Y4
	VMULPS       Y14, Y5, Y5
	VMULPS       Y14, Y6, Y6
	VMULPS       Y14, Y7, Y7
	VMULPS       Y14, Y8, Y8
	VMULPS       Y14, Y9, Y9
	VMULPS       Y14, Y10, Y10
	VMULPS       Y14, Y11, Y11
	MOVL         beta+44(FP), AX
	TESTL        $0x7fffffff, AX
	JE           kstore0
	VBROADCASTSS beta+44(FP), Y15
	VFMADD231PS  0(DX), Y15, Y0
	VFMADD231PS  32(DX), Y15, Y1
	VMOVUPS      Y0, 0(DX)
	VMOVUPS      Y1, 32(DX)
	ADDQ         BX, DX
	VFMADD231PS  0(DX), Y15, Y2
	VFMADD231PS  32(DX), Y15, Y3
	VMOVUPS      Y2, 0(DX)
	VMOVUPS      Y3, 32(DX)
	ADDQ         BX, DX
	VFMADD231PS  0(DX), Y15, Y4
	VFMADD231PS  32(DX), Y15, Y5
	VMOVUPS      Y4, 0(DX)
	VMOVUPS      Y5, 32(DX)
	ADDQ         BX, DX
	VFMADD231PS  0(DX), Y15, Y6
	VFMADD231PS  32(DX), Y15, Y7
	VMOVUPS      Y6, 0(DX)
	VMOVUPS      Y7, 32(DX)
	ADDQ         BX, DX
	VFMADD231PS  0(DX), Y15, Y8
	VFMADD231PS  32(DX), Y15, Y9
	VMOVUPS      Y8, 0(DX)
	VMOVUPS      Y9, 32(DX)
	ADDQ         BX, DX
	VFMADD231PS  0(DX), Y15, Y10
	VFMADD231PS  32(DX), Y15, Y11
	VMOVUPS      Y10, 0(DX)
	VMOVUPS      Y11, 32(DX)
	VZEROUPPER
	RET

kstore0:
	VMOVUPS Y0, 0(DX)
	VMOVUPS Y1, 32(DX)
	ADDQ    BX, DX
	VMOVUPS Y2, 0(DX)
	VMOVUPS Y3, 32(DX)
	ADDQ    BX, DX
	VMOVUPS Y4, 0(DX)
	VMOVUPS Y5, 32(DX)
	ADDQ    BX, DX
	VMOVUPS Y6, 0(DX)
	VMOVUPS Y7, 32(DX)
	ADDQ    BX, DX
	VMOVUPS Y8, 0(DX)
	VMOVUPS Y9, 32(DX)
	ADDQ    BX, DX
	VMOVUPS Y10, 0(DX)
	VMOVUPS Y11, 32(DX)
	VZEROUPPER
	RET

// Signed int8 dot of 32-byte Y3 (weights) and Y4 (activations) into eight
// int32 partial sums converted to float in Y7. Needs Y15 = int16 ones.
#define I8DOT \
	VPABSB     Y3, Y5 \
	VPSIGNB    Y3, Y4, Y6 \
	VPMADDUBSW Y6, Y5, Y7 \
	VPMADDWD   Y15, Y7, Y7 \
	VCVTDQ2PS  Y7, Y7

// One Q8_0 block (32 weights at ow(SI)) times 32 int8 activations at
// ox(DI) into eight int32 partial sums in dst. Needs Y15 = int16 ones.
#define Q8BLK(ow, ox, dst) \
	VMOVDQU    ox(DI), Y4 \
	VPABSB     ow(SI), Y5 \
	VPSIGNB    ow(SI), Y4, Y6 \
	VPMADDUBSW Y6, Y5, Y6 \
	VPMADDWD   Y15, Y6, dst

// Reduce eight vectors of int32 partial sums, already pairwise added into
// a (blocks 0-3) and b (blocks 4-7) by VPHADDD trees, to the eight block
// sums in block order in Y10, as float32.
#define BLKSUMS(a, b) \
	VPERM2I128 $0x20, b, a, Y10 \
	VPERM2I128 $0x31, b, a, Y11 \
	VPADDD     Y11, Y10, Y10 \
	VCVTDQ2PS  Y10, Y10

// func dotQ8RowsAVX(out *float32, outStride int, w *byte, wStride int, xq *int8, xqStride int, xd *float32, xdStride int, nb, count int)
// For c < count: out[c·outStride] = Σ over nb Q8_0 blocks at w+c·wStride
// (f16 scale + 32 int8 each) times the int8 activation blocks at
// xq+c·xqStride with float32 scales at xd+c·xdStride (strides in elements
// of the pointed-to type; bytes for w). MatVec steps over weight rows,
// MatMul over inputs with the weight row fixed in L1. Eight blocks per
// iteration: their integer sums are reduced into one vector and scaled by
// one vector of d_w·d_x.
TEXT ·dotQ8RowsAVX(SB), NOSPLIT, $0-80
	MOVQ     out+0(FP), R8
	MOVQ     w+16(FP), R9
	MOVQ     xq+32(FP), R12
	MOVQ     xd+48(FP), R13
	MOVQ     count+72(FP), R10
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15

q8row:
	TESTQ  R10, R10
	JE     q8end
	MOVQ   R9, SI
	MOVQ   R12, DI
	MOVQ   R13, DX
	MOVQ   nb+64(FP), CX
	VXORPS Y0, Y0, Y0

q8loop8:
	CMPQ        CX, $8
	JL          q8loop1
	VPXOR       X2, X2, X2
	VPINSRW     $0, 0(SI), X2, X2
	VPINSRW     $1, 34(SI), X2, X2
	VPINSRW     $2, 68(SI), X2, X2
	VPINSRW     $3, 102(SI), X2, X2
	VPINSRW     $4, 136(SI), X2, X2
	VPINSRW     $5, 170(SI), X2, X2
	VPINSRW     $6, 204(SI), X2, X2
	VPINSRW     $7, 238(SI), X2, X2
	VCVTPH2PS   X2, Y2
	VMULPS      0(DX), Y2, Y2
	Q8BLK(2, 0, Y8)
	Q8BLK(36, 32, Y9)
	VPHADDD     Y9, Y8, Y8
	Q8BLK(70, 64, Y9)
	Q8BLK(104, 96, Y10)
	VPHADDD     Y10, Y9, Y9
	VPHADDD     Y9, Y8, Y8
	Q8BLK(138, 128, Y9)
	Q8BLK(172, 160, Y10)
	VPHADDD     Y10, Y9, Y9
	Q8BLK(206, 192, Y10)
	Q8BLK(240, 224, Y11)
	VPHADDD     Y11, Y10, Y10
	VPHADDD     Y10, Y9, Y9
	BLKSUMS(Y8, Y9)
	VFMADD231PS Y10, Y2, Y0
	ADDQ        $272, SI
	ADDQ        $256, DI
	ADDQ        $32, DX
	SUBQ        $8, CX
	JMP         q8loop8

q8loop1:
	TESTQ        CX, CX
	JE           q8done
	VPBROADCASTW 0(SI), X1
	VCVTPH2PS    X1, Y1
	VBROADCASTSS 0(DX), Y2
	VMULPS       Y2, Y1, Y1
	VMOVDQU      2(SI), Y3
	VMOVDQU      0(DI), Y4
	I8DOT
	VFMADD231PS  Y7, Y1, Y0
	ADDQ         $34, SI
	ADDQ         $32, DI
	ADDQ         $4, DX
	DECQ         CX
	JMP          q8loop1

q8done:
	HSUM0
	VMOVSS X0, 0(R8)
	MOVQ   outStride+8(FP), AX
	LEAQ   (R8)(AX*4), R8
	ADDQ   wStride+24(FP), R9
	ADDQ   xqStride+40(FP), R12
	MOVQ   xdStride+56(FP), AX
	LEAQ   (R13)(AX*4), R13
	DECQ   R10
	JMP    q8row

q8end:
	VZEROUPPER
	RET

// Broadcast constants of the exponential (Cephes expf), 32 bytes each.
DATA expc<>+0(SB)/4, $0x42b00000
DATA expc<>+4(SB)/4, $0x42b00000
DATA expc<>+8(SB)/4, $0x42b00000
DATA expc<>+12(SB)/4, $0x42b00000
DATA expc<>+16(SB)/4, $0x42b00000
DATA expc<>+20(SB)/4, $0x42b00000
DATA expc<>+24(SB)/4, $0x42b00000
DATA expc<>+28(SB)/4, $0x42b00000
DATA expc<>+32(SB)/4, $0xc2ae0000
DATA expc<>+36(SB)/4, $0xc2ae0000
DATA expc<>+40(SB)/4, $0xc2ae0000
DATA expc<>+44(SB)/4, $0xc2ae0000
DATA expc<>+48(SB)/4, $0xc2ae0000
DATA expc<>+52(SB)/4, $0xc2ae0000
DATA expc<>+56(SB)/4, $0xc2ae0000
DATA expc<>+60(SB)/4, $0xc2ae0000
DATA expc<>+64(SB)/4, $0x3fb8aa3b
DATA expc<>+68(SB)/4, $0x3fb8aa3b
DATA expc<>+72(SB)/4, $0x3fb8aa3b
DATA expc<>+76(SB)/4, $0x3fb8aa3b
DATA expc<>+80(SB)/4, $0x3fb8aa3b
DATA expc<>+84(SB)/4, $0x3fb8aa3b
DATA expc<>+88(SB)/4, $0x3fb8aa3b
DATA expc<>+92(SB)/4, $0x3fb8aa3b
DATA expc<>+96(SB)/4, $0x3f000000
DATA expc<>+100(SB)/4, $0x3f000000
DATA expc<>+104(SB)/4, $0x3f000000
DATA expc<>+108(SB)/4, $0x3f000000
DATA expc<>+112(SB)/4, $0x3f000000
DATA expc<>+116(SB)/4, $0x3f000000
DATA expc<>+120(SB)/4, $0x3f000000
DATA expc<>+124(SB)/4, $0x3f000000
DATA expc<>+128(SB)/4, $0x3f318000
DATA expc<>+132(SB)/4, $0x3f318000
DATA expc<>+136(SB)/4, $0x3f318000
DATA expc<>+140(SB)/4, $0x3f318000
DATA expc<>+144(SB)/4, $0x3f318000
DATA expc<>+148(SB)/4, $0x3f318000
DATA expc<>+152(SB)/4, $0x3f318000
DATA expc<>+156(SB)/4, $0x3f318000
DATA expc<>+160(SB)/4, $0xb95e8083
DATA expc<>+164(SB)/4, $0xb95e8083
DATA expc<>+168(SB)/4, $0xb95e8083
DATA expc<>+172(SB)/4, $0xb95e8083
DATA expc<>+176(SB)/4, $0xb95e8083
DATA expc<>+180(SB)/4, $0xb95e8083
DATA expc<>+184(SB)/4, $0xb95e8083
DATA expc<>+188(SB)/4, $0xb95e8083
DATA expc<>+192(SB)/4, $0x39506967
DATA expc<>+196(SB)/4, $0x39506967
DATA expc<>+200(SB)/4, $0x39506967
DATA expc<>+204(SB)/4, $0x39506967
DATA expc<>+208(SB)/4, $0x39506967
DATA expc<>+212(SB)/4, $0x39506967
DATA expc<>+216(SB)/4, $0x39506967
DATA expc<>+220(SB)/4, $0x39506967
DATA expc<>+224(SB)/4, $0x3ab743ce
DATA expc<>+228(SB)/4, $0x3ab743ce
DATA expc<>+232(SB)/4, $0x3ab743ce
DATA expc<>+236(SB)/4, $0x3ab743ce
DATA expc<>+240(SB)/4, $0x3ab743ce
DATA expc<>+244(SB)/4, $0x3ab743ce
DATA expc<>+248(SB)/4, $0x3ab743ce
DATA expc<>+252(SB)/4, $0x3ab743ce
DATA expc<>+256(SB)/4, $0x3c088908
DATA expc<>+260(SB)/4, $0x3c088908
DATA expc<>+264(SB)/4, $0x3c088908
DATA expc<>+268(SB)/4, $0x3c088908
DATA expc<>+272(SB)/4, $0x3c088908
DATA expc<>+276(SB)/4, $0x3c088908
DATA expc<>+280(SB)/4, $0x3c088908
DATA expc<>+284(SB)/4, $0x3c088908
DATA expc<>+288(SB)/4, $0x3d2aa9c1
DATA expc<>+292(SB)/4, $0x3d2aa9c1
DATA expc<>+296(SB)/4, $0x3d2aa9c1
DATA expc<>+300(SB)/4, $0x3d2aa9c1
DATA expc<>+304(SB)/4, $0x3d2aa9c1
DATA expc<>+308(SB)/4, $0x3d2aa9c1
DATA expc<>+312(SB)/4, $0x3d2aa9c1
DATA expc<>+316(SB)/4, $0x3d2aa9c1
DATA expc<>+320(SB)/4, $0x3e2aaaaa
DATA expc<>+324(SB)/4, $0x3e2aaaaa
DATA expc<>+328(SB)/4, $0x3e2aaaaa
DATA expc<>+332(SB)/4, $0x3e2aaaaa
DATA expc<>+336(SB)/4, $0x3e2aaaaa
DATA expc<>+340(SB)/4, $0x3e2aaaaa
DATA expc<>+344(SB)/4, $0x3e2aaaaa
DATA expc<>+348(SB)/4, $0x3e2aaaaa
DATA expc<>+352(SB)/4, $0x3f000000
DATA expc<>+356(SB)/4, $0x3f000000
DATA expc<>+360(SB)/4, $0x3f000000
DATA expc<>+364(SB)/4, $0x3f000000
DATA expc<>+368(SB)/4, $0x3f000000
DATA expc<>+372(SB)/4, $0x3f000000
DATA expc<>+376(SB)/4, $0x3f000000
DATA expc<>+380(SB)/4, $0x3f000000
DATA expc<>+384(SB)/4, $0x3f800000
DATA expc<>+388(SB)/4, $0x3f800000
DATA expc<>+392(SB)/4, $0x3f800000
DATA expc<>+396(SB)/4, $0x3f800000
DATA expc<>+400(SB)/4, $0x3f800000
DATA expc<>+404(SB)/4, $0x3f800000
DATA expc<>+408(SB)/4, $0x3f800000
DATA expc<>+412(SB)/4, $0x3f800000
DATA expc<>+416(SB)/4, $0x0000007f
DATA expc<>+420(SB)/4, $0x0000007f
DATA expc<>+424(SB)/4, $0x0000007f
DATA expc<>+428(SB)/4, $0x0000007f
DATA expc<>+432(SB)/4, $0x0000007f
DATA expc<>+436(SB)/4, $0x0000007f
DATA expc<>+440(SB)/4, $0x0000007f
DATA expc<>+444(SB)/4, $0x0000007f
GLOBL expc<>(SB), RODATA|NOPTR, $448

// EXPY0 replaces the 8 floats of Y0 with exp(Y0) (inputs clamped to
// [-87, 88]; NaNs propagate); clobbers Y1-Y3.
#define EXPY0 \
	VMOVUPS      expc<>+0(SB), Y1 \
	VMINPS       Y0, Y1, Y0 \
	VMOVUPS      expc<>+32(SB), Y1 \
	VMAXPS       Y0, Y1, Y0 \
	VMOVUPS      expc<>+64(SB), Y1 \
	VFMADD213PS  expc<>+96(SB), Y0, Y1 \
	VROUNDPS     $1, Y1, Y1 \
	VFNMADD231PS expc<>+128(SB), Y1, Y0 \
	VFNMADD231PS expc<>+160(SB), Y1, Y0 \
	VMOVUPS      expc<>+192(SB), Y2 \
	VFMADD213PS  expc<>+224(SB), Y0, Y2 \
	VFMADD213PS  expc<>+256(SB), Y0, Y2 \
	VFMADD213PS  expc<>+288(SB), Y0, Y2 \
	VFMADD213PS  expc<>+320(SB), Y0, Y2 \
	VFMADD213PS  expc<>+352(SB), Y0, Y2 \
	VMULPS       Y0, Y0, Y3 \
	VFMADD213PS  Y0, Y3, Y2 \
	VADDPS       expc<>+384(SB), Y2, Y2 \
	VCVTTPS2DQ   Y1, Y1 \
	VPADDD       expc<>+416(SB), Y1, Y1 \
	VPSLLD       $23, Y1, Y1 \
	VMULPS       Y1, Y2, Y0


// func expSubSumAVX(x *float32, n int, mx float32) float32
// x[i] = exp(x[i]-mx); returns Σ x[i]. n multiple of 8.
TEXT ·expSubSumAVX(SB), NOSPLIT, $0-28
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS mx+16(FP), Y4
	VXORPS       Y5, Y5, Y5

esloop:
	TESTQ   CX, CX
	JE      esdone
	VMOVUPS 0(SI), Y0
	VSUBPS  Y4, Y0, Y0
	EXPY0
	VMOVUPS Y0, 0(SI)
	VADDPS  Y0, Y5, Y5
	ADDQ    $32, SI
	SUBQ    $8, CX
	JMP     esloop

esdone:
	VMOVUPS Y5, Y0
	HSUM0
	VZEROUPPER
	MOVSS   X0, ret+24(FP)
	RET

// func siluMulAVX(out, gate, up *float32, n int)
// out[i] = gate[i]/(1+exp(-gate[i]))·up[i]. n multiple of 8.
TEXT ·siluMulAVX(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ gate+8(FP), SI
	MOVQ up+16(FP), DX
	MOVQ n+24(FP), CX

smloop:
	TESTQ   CX, CX
	JE      smdone
	VMOVUPS 0(SI), Y6
	VXORPS  Y0, Y0, Y0
	VSUBPS  Y6, Y0, Y0
	EXPY0
	VADDPS  expc<>+384(SB), Y0, Y0
	VDIVPS  Y0, Y6, Y6
	VMULPS  0(DX), Y6, Y6
	VMOVUPS Y6, 0(DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     smloop

smdone:
	VZEROUPPER
	RET


// One Q4_0 block (16 bytes of nibbles at ow(SI)) times 32 int8
// activations at ox(DI): unsigned nibbles 0..15 by maddubs, into eight
// int32 partial sums in dst (the −8 offset is applied per block later).
#define Q4BLK(ow, ox, dst) \
	VMOVDQU     ow(SI), X3 \
	VPSRLW      $4, X3, X5 \
	VINSERTI128 $1, X5, Y3, Y3 \
	VPAND       Y14, Y3, Y3 \
	VPMADDUBSW  ox(DI), Y3, Y3 \
	VPMADDWD    Y15, Y3, dst

// func dotQ4AVX(w *byte, xq *int8, xd *float32, bs *int32, nb int) float32
// Q4_0 weight blocks (f16 scale + 16 bytes of nibbles, value q-8) against
// int8 activation blocks with float32 scales; bs[j] = 8·Σxq of block j.
TEXT ·dotQ4AVX(SB), NOSPLIT, $0-44
	MOVQ         w+0(FP), SI
	MOVQ         xq+8(FP), DI
	MOVQ         xd+16(FP), DX
	MOVQ         bs+24(FP), R8
	MOVQ         nb+32(FP), CX
	VXORPS       Y0, Y0, Y0
	VPCMPEQW     Y15, Y15, Y15
	VPSRLW       $15, Y15, Y15
	MOVQ         $0x0F0F0F0F0F0F0F0F, AX
	VMOVQ        AX, X14
	VPBROADCASTQ X14, Y14
	MOVQ         $0x0808080808080808, AX
	VMOVQ        AX, X13
	VPBROADCASTQ X13, Y13

q4loop8:
	CMPQ        CX, $8
	JL          q4loop
	VPXOR       X2, X2, X2
	VPINSRW     $0, 0(SI), X2, X2
	VPINSRW     $1, 18(SI), X2, X2
	VPINSRW     $2, 36(SI), X2, X2
	VPINSRW     $3, 54(SI), X2, X2
	VPINSRW     $4, 72(SI), X2, X2
	VPINSRW     $5, 90(SI), X2, X2
	VPINSRW     $6, 108(SI), X2, X2
	VPINSRW     $7, 126(SI), X2, X2
	VCVTPH2PS   X2, Y2
	VMULPS      0(DX), Y2, Y2
	Q4BLK(2, 0, Y8)
	Q4BLK(20, 32, Y9)
	VPHADDD     Y9, Y8, Y8
	Q4BLK(38, 64, Y9)
	Q4BLK(56, 96, Y10)
	VPHADDD     Y10, Y9, Y9
	VPHADDD     Y9, Y8, Y8
	Q4BLK(74, 128, Y9)
	Q4BLK(92, 160, Y10)
	VPHADDD     Y10, Y9, Y9
	Q4BLK(110, 192, Y10)
	Q4BLK(128, 224, Y11)
	VPHADDD     Y11, Y10, Y10
	VPHADDD     Y10, Y9, Y9
	VPERM2I128  $0x20, Y9, Y8, Y10
	VPERM2I128  $0x31, Y9, Y8, Y11
	VPADDD      Y11, Y10, Y10
	VPSUBD      0(R8), Y10, Y10
	VCVTDQ2PS   Y10, Y10
	VFMADD231PS Y10, Y2, Y0
	ADDQ        $144, SI
	ADDQ        $256, DI
	ADDQ        $32, DX
	ADDQ        $32, R8
	SUBQ        $8, CX
	JMP         q4loop8

q4loop:
	TESTQ        CX, CX
	JE           q4done
	VPBROADCASTW 0(SI), X1
	VCVTPH2PS    X1, Y1
	VBROADCASTSS 0(DX), Y2
	VMULPS       Y2, Y1, Y1
	VMOVDQU      2(SI), X3
	VPSRLW       $4, X3, X4
	VINSERTI128  $1, X4, Y3, Y3
	VPAND        Y14, Y3, Y3
	VPSUBB       Y13, Y3, Y3
	VMOVDQU      0(DI), Y4
	I8DOT
	VFMADD231PS  Y7, Y1, Y0
	ADDQ         $18, SI
	ADDQ         $32, DI
	ADDQ         $4, DX
	DECQ         CX
	JMP          q4loop

q4done:
	HSUM0
	VZEROUPPER
	MOVSS X0, ret+40(FP)
	RET

// func dotF16AVX(w *uint16, x *float32, n int) float32
// n multiple of 8.
TEXT ·dotF16AVX(SB), NOSPLIT, $0-28
	MOVQ   w+0(FP), SI
	MOVQ   x+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

h32:
	CMPQ        CX, $32
	JL          h8
	VCVTPH2PS   0(SI), Y4
	VCVTPH2PS   16(SI), Y5
	VCVTPH2PS   32(SI), Y6
	VCVTPH2PS   48(SI), Y7
	VFMADD231PS 0(DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ        $64, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	JMP         h32

h8:
	CMPQ        CX, $8
	JL          hdone
	VCVTPH2PS   0(SI), Y4
	VFMADD231PS 0(DI), Y4, Y0
	ADDQ        $16, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         h8

hdone:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	HSUM0
	VZEROUPPER
	MOVSS  X0, ret+24(FP)
	RET

// func cvtF16AVX(dst *float32, src *uint16, n int)
// n multiple of 8.
TEXT ·cvtF16AVX(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

cvloop:
	TESTQ     CX, CX
	JE        cvdone
	VCVTPH2PS 0(SI), Y0
	VMOVUPS   Y0, 0(DI)
	ADDQ      $16, SI
	ADDQ      $32, DI
	SUBQ      $8, CX
	JMP       cvloop

cvdone:
	VZEROUPPER
	RET

// func axpyAVX(x, y *float32, n int, a float32)
// y[i] += a·x[i]. n multiple of 8.
TEXT ·axpyAVX(SB), NOSPLIT, $0-28
	MOVQ         x+0(FP), SI
	MOVQ         y+8(FP), DI
	MOVQ         n+16(FP), CX
	VBROADCASTSS a+24(FP), Y1

axloop:
	TESTQ       CX, CX
	JE          axdone
	VMOVUPS     0(DI), Y0
	VFMADD231PS 0(SI), Y1, Y0
	VMOVUPS     Y0, 0(DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         axloop

axdone:
	VZEROUPPER
	RET

// func mulScaleAVX(out, x, w *float32, n int, s float32)
// out[i] = (x[i]·s)·w[i]. n multiple of 8.
TEXT ·mulScaleAVX(SB), NOSPLIT, $0-36
	MOVQ         out+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         w+16(FP), DX
	MOVQ         n+24(FP), CX
	VBROADCASTSS s+32(FP), Y1

msloop:
	TESTQ   CX, CX
	JE      msdone
	VMULPS  0(SI), Y1, Y0
	VMULPS  0(DX), Y0, Y0
	VMOVUPS Y0, 0(DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     msloop

msdone:
	VZEROUPPER
	RET

// func dotQ4KAVX(w *byte, xq *int8, xd *float32, xs *float32, nsb int) float32
// Q4_K super-blocks (f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 128
// bytes of nibbles) against int8 activation blocks of 32 with float32
// scales xd and block sums xs = xd·Σxq:
// Σ_j d·sc_j·xd_j·Σ(q·xq) − Σ_j dmin·m_j·xs_j.
TEXT ·dotQ4KAVX(SB), NOSPLIT, $0-44
	MOVQ         w+0(FP), SI
	MOVQ         xq+8(FP), DI
	MOVQ         xd+16(FP), R8
	MOVQ         xs+24(FP), R9
	MOVQ         nsb+32(FP), CX
	VXORPS       Y0, Y0, Y0
	VXORPS       Y1, Y1, Y1
	VPCMPEQW     Y15, Y15, Y15
	VPSRLW       $15, Y15, Y15
	MOVQ         $0x0F0F0F0F0F0F0F0F, AX
	VMOVQ        AX, X14
	VPBROADCASTQ X14, Y14

q4kloop:
	TESTQ CX, CX
	JE    q4kdone

	// Unpack the 6-bit scales and mins (llama.cpp's utmp shuffle).
	MOVL 4(SI), AX
	MOVL 8(SI), BX
	MOVL 12(SI), R10
	MOVL R10, R11
	SHRL $4, R11
	ANDL $0x0f0f0f0f, R11
	MOVL BX, R12
	SHRL $6, R12
	ANDL $0x03030303, R12
	SHLL $4, R12
	ORL  R12, R11
	MOVL BX, R13
	ANDL $0x3f3f3f3f, R13
	MOVL R10, BX
	ANDL $0x0f0f0f0f, BX
	MOVL AX, R12
	SHRL $6, R12
	ANDL $0x03030303, R12
	SHLL $4, R12
	ORL  R12, BX
	ANDL $0x3f3f3f3f, AX
	SHLQ $32, BX
	ORQ  BX, AX
	SHLQ $32, R11
	ORQ  R11, R13

	VMOVQ        AX, X2
	VPMOVZXBD    X2, Y2
	VCVTDQ2PS    Y2, Y2
	VMOVQ        R13, X3
	VPMOVZXBD    X3, Y3
	VCVTDQ2PS    Y3, Y3
	VPBROADCASTW 0(SI), X4
	VCVTPH2PS    X4, Y4
	VPBROADCASTW 2(SI), X5
	VCVTPH2PS    X5, Y5
	VMULPS       Y4, Y2, Y2
	VMULPS       0(R8), Y2, Y2
	VMULPS       Y5, Y3, Y3
	VFMADD231PS  0(R9), Y3, Y1

	VMOVDQU    16(SI), Y6
	VPSRLW     $4, Y6, Y7
	VPAND      Y14, Y6, Y6
	VPAND      Y14, Y7, Y7
	VPMADDUBSW 0(DI), Y6, Y6
	VPMADDUBSW 32(DI), Y7, Y7
	VPMADDWD   Y15, Y6, Y8
	VPMADDWD   Y15, Y7, Y9

	VMOVDQU    48(SI), Y6
	VPSRLW     $4, Y6, Y7
	VPAND      Y14, Y6, Y6
	VPAND      Y14, Y7, Y7
	VPMADDUBSW 64(DI), Y6, Y6
	VPMADDUBSW 96(DI), Y7, Y7
	VPMADDWD   Y15, Y6, Y10
	VPMADDWD   Y15, Y7, Y11

	VMOVDQU    80(SI), Y6
	VPSRLW     $4, Y6, Y7
	VPAND      Y14, Y6, Y6
	VPAND      Y14, Y7, Y7
	VPMADDUBSW 128(DI), Y6, Y6
	VPMADDUBSW 160(DI), Y7, Y7
	VPMADDWD   Y15, Y6, Y12
	VPMADDWD   Y15, Y7, Y13

	VMOVDQU    112(SI), Y6
	VPSRLW     $4, Y6, Y7
	VPAND      Y14, Y6, Y6
	VPAND      Y14, Y7, Y7
	VPMADDUBSW 192(DI), Y6, Y6
	VPMADDUBSW 224(DI), Y7, Y7
	VPMADDWD   Y15, Y6, Y3
	VPMADDWD   Y15, Y7, Y4

	VPHADDD    Y9, Y8, Y8
	VPHADDD    Y11, Y10, Y10
	VPHADDD    Y13, Y12, Y12
	VPHADDD    Y4, Y3, Y3
	VPHADDD    Y10, Y8, Y8
	VPHADDD    Y3, Y12, Y12
	VPERM2I128 $0x20, Y12, Y8, Y5
	VPERM2I128 $0x31, Y12, Y8, Y6
	VPADDD     Y6, Y5, Y5
	VCVTDQ2PS  Y5, Y5
	VFMADD231PS Y5, Y2, Y0

	ADDQ $144, SI
	ADDQ $256, DI
	ADDQ $32, R8
	ADDQ $32, R9
	DECQ CX
	JMP  q4kloop

q4kdone:
	VSUBPS Y1, Y0, Y0
	HSUM0
	VZEROUPPER
	MOVSS  X0, ret+40(FP)
	RET

DATA q6perm<>+0(SB)/4, $0
DATA q6perm<>+4(SB)/4, $2
DATA q6perm<>+8(SB)/4, $4
DATA q6perm<>+12(SB)/4, $6
DATA q6perm<>+16(SB)/4, $1
DATA q6perm<>+20(SB)/4, $3
DATA q6perm<>+24(SB)/4, $5
DATA q6perm<>+28(SB)/4, $7
GLOBL q6perm<>(SB), RODATA|NOPTR, $32

// Q6K_HALF computes one 128-element half (offset h*64 in ql, h*32 in qh,
// h*8 in the scales, h*128 in xq, h*32 bytes in xdp and bs).
#define Q6K_HALF(qlo, qho, sco, xo, po) \
	VMOVDQU     qlo(SI), Y5 \
	VMOVDQU     qlo+32(SI), Y6 \
	VMOVDQU     qho(SI), Y7 \
	VPAND       Y14, Y5, Y8 \
	VPSLLW      $4, Y7, Y9 \
	VPAND       Y13, Y9, Y9 \
	VPOR        Y9, Y8, Y8 \
	VPAND       Y14, Y6, Y9 \
	VPSLLW      $2, Y7, Y10 \
	VPAND       Y13, Y10, Y10 \
	VPOR        Y10, Y9, Y9 \
	VPSRLW      $4, Y5, Y5 \
	VPAND       Y14, Y5, Y5 \
	VPAND       Y13, Y7, Y10 \
	VPOR        Y5, Y10, Y10 \
	VPSRLW      $4, Y6, Y6 \
	VPAND       Y14, Y6, Y6 \
	VPSRLW      $2, Y7, Y7 \
	VPAND       Y13, Y7, Y7 \
	VPOR        Y6, Y7, Y11 \
	VPMADDUBSW  xo(DI), Y8, Y8 \
	VPMADDUBSW  xo+32(DI), Y9, Y9 \
	VPMADDUBSW  xo+64(DI), Y10, Y10 \
	VPMADDUBSW  xo+96(DI), Y11, Y11 \
	VPMADDWD    Y15, Y8, Y8 \
	VPMADDWD    Y15, Y9, Y9 \
	VPMADDWD    Y15, Y10, Y10 \
	VPMADDWD    Y15, Y11, Y11 \
	VPHADDD     Y9, Y8, Y8 \
	VPHADDD     Y11, Y10, Y10 \
	VPHADDD     Y10, Y8, Y8 \
	VPSUBD      po(R9), Y8, Y8 \
	VCVTDQ2PS   Y8, Y8 \
	VPMOVSXBD   sco(SI), Y12 \
	VPERMD      Y12, Y3, Y12 \
	VCVTDQ2PS   Y12, Y12 \
	VMULPS      Y4, Y12, Y12 \
	VMULPS      po(R8), Y12, Y12 \
	VFMADD231PS Y12, Y8, Y0

// func dotQ6KAVX(w *byte, xq *int8, xdp *float32, bs *int32, nsb int) float32
// Q6_K super-blocks (ql[128], qh[64], int8 scales[16], f16 d) against int8
// activations. Per 128-element half, xdp holds the activation scales and bs
// 32·Σxq of each 16-element group, both in the lane order
// [g0 g2 g4 g6 g1 g3 g5 g7] that the reduction below produces.
TEXT ·dotQ6KAVX(SB), NOSPLIT, $0-44
	MOVQ         w+0(FP), SI
	MOVQ         xq+8(FP), DI
	MOVQ         xdp+16(FP), R8
	MOVQ         bs+24(FP), R9
	MOVQ         nsb+32(FP), CX
	VXORPS       Y0, Y0, Y0
	VPCMPEQW     Y15, Y15, Y15
	VPSRLW       $15, Y15, Y15
	MOVQ         $0x0F0F0F0F0F0F0F0F, AX
	VMOVQ        AX, X14
	VPBROADCASTQ X14, Y14
	MOVQ         $0x3030303030303030, AX
	VMOVQ        AX, X13
	VPBROADCASTQ X13, Y13
	VMOVDQU      q6perm<>(SB), Y3

q6kloop:
	TESTQ        CX, CX
	JE           q6kdone
	VPBROADCASTW 208(SI), X4
	VCVTPH2PS    X4, Y4
	Q6K_HALF(0, 128, 192, 0, 0)
	Q6K_HALF(64, 160, 200, 128, 32)
	ADDQ         $210, SI
	ADDQ         $256, DI
	ADDQ         $64, R8
	ADDQ         $64, R9
	DECQ         CX
	JMP          q6kloop

q6kdone:
	HSUM0
	VZEROUPPER
	MOVSS X0, ret+40(FP)
	RET

DATA qconst<>+0(SB)/4, $0x7fffffff
DATA qconst<>+4(SB)/4, $0x42fe0000
DATA qconst<>+8(SB)/4, $0x3f800000
GLOBL qconst<>(SB), RODATA|NOPTR, $12

DATA packperm<>+0(SB)/4, $0
DATA packperm<>+4(SB)/4, $4
DATA packperm<>+8(SB)/4, $1
DATA packperm<>+12(SB)/4, $5
DATA packperm<>+16(SB)/4, $2
DATA packperm<>+20(SB)/4, $6
DATA packperm<>+24(SB)/4, $3
DATA packperm<>+28(SB)/4, $7
GLOBL packperm<>(SB), RODATA|NOPTR, $32

// func quantizeQ8AVX(x *float32, xq *int8, xd *float32, nb int)
// Per block of 32: d = max|x|/127, q = round-to-even(x·(1/d)) (0 when
// d == 0), exactly as quantizeQ8Go computes it.
TEXT ·quantizeQ8AVX(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), SI
	MOVQ         xq+8(FP), DI
	MOVQ         xd+16(FP), DX
	MOVQ         nb+24(FP), CX
	VBROADCASTSS qconst<>+0(SB), Y15
	VMOVSS       qconst<>+4(SB), X14
	VMOVSS       qconst<>+8(SB), X12
	VMOVDQU      packperm<>(SB), Y13

qzloop:
	TESTQ        CX, CX
	JE           qzdone
	VMOVUPS      0(SI), Y0
	VMOVUPS      32(SI), Y1
	VMOVUPS      64(SI), Y2
	VMOVUPS      96(SI), Y3
	VANDPS       Y15, Y0, Y4
	VANDPS       Y15, Y1, Y5
	VMAXPS       Y5, Y4, Y4
	VANDPS       Y15, Y2, Y5
	VMAXPS       Y5, Y4, Y4
	VANDPS       Y15, Y3, Y5
	VMAXPS       Y5, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VMAXPS       X5, X4, X4
	VPERMILPS    $0x4E, X4, X5
	VMAXPS       X5, X4, X4
	VPERMILPS    $0xB1, X4, X5
	VMAXPS       X5, X4, X4
	VDIVSS       X14, X4, X6
	VMOVSS       X6, 0(DX)
	VDIVSS       X6, X12, X7
	VXORPS       X8, X8, X8
	VCMPSS       $4, X8, X6, X9
	VANDPS       X9, X7, X7
	VBROADCASTSS X7, Y7
	VMULPS       Y7, Y0, Y0
	VMULPS       Y7, Y1, Y1
	VMULPS       Y7, Y2, Y2
	VMULPS       Y7, Y3, Y3
	VCVTPS2DQ    Y0, Y0
	VCVTPS2DQ    Y1, Y1
	VCVTPS2DQ    Y2, Y2
	VCVTPS2DQ    Y3, Y3
	VPACKSSDW    Y1, Y0, Y0
	VPACKSSDW    Y3, Y2, Y2
	VPACKSSWB    Y2, Y0, Y0
	VPERMD       Y0, Y13, Y0
	VMOVDQU      Y0, 0(DI)
	ADDQ         $128, SI
	ADDQ         $32, DI
	ADDQ         $4, DX
	DECQ         CX
	JMP          qzloop

qzdone:
	VZEROUPPER
	RET

// TRANSPOSE8 loads 8 floats from each of the 8 rows at base, base+BX, …,
// base+7·BX (DX = 3·BX, R8 = 5·BX, R9 = 6·BX, R10 = 7·BX) and stores
// column p of that 8×8 block at off+p·64(DI).
#define TRANSPOSE8(base, off) \
	VMOVUPS    0(base), Y0 \
	VMOVUPS    (base)(BX*1), Y1 \
	VMOVUPS    (base)(BX*2), Y2 \
	VMOVUPS    (base)(DX*1), Y3 \
	VMOVUPS    (base)(BX*4), Y4 \
	VMOVUPS    (base)(R8*1), Y5 \
	VMOVUPS    (base)(R9*1), Y6 \
	VMOVUPS    (base)(R10*1), Y7 \
	VUNPCKLPS  Y1, Y0, Y8 \
	VUNPCKHPS  Y1, Y0, Y9 \
	VUNPCKLPS  Y3, Y2, Y10 \
	VUNPCKHPS  Y3, Y2, Y11 \
	VUNPCKLPS  Y5, Y4, Y12 \
	VUNPCKHPS  Y5, Y4, Y13 \
	VUNPCKLPS  Y7, Y6, Y14 \
	VUNPCKHPS  Y7, Y6, Y15 \
	VSHUFPS    $0x44, Y10, Y8, Y0 \
	VSHUFPS    $0xEE, Y10, Y8, Y1 \
	VSHUFPS    $0x44, Y11, Y9, Y2 \
	VSHUFPS    $0xEE, Y11, Y9, Y3 \
	VSHUFPS    $0x44, Y14, Y12, Y4 \
	VSHUFPS    $0xEE, Y14, Y12, Y5 \
	VSHUFPS    $0x44, Y15, Y13, Y6 \
	VSHUFPS    $0xEE, Y15, Y13, Y7 \
	VPERM2F128 $0x20, Y4, Y0, Y8 \
	VPERM2F128 $0x31, Y4, Y0, Y12 \
	VPERM2F128 $0x20, Y5, Y1, Y9 \
	VPERM2F128 $0x31, Y5, Y1, Y13 \
	VPERM2F128 $0x20, Y6, Y2, Y10 \
	VPERM2F128 $0x31, Y6, Y2, Y14 \
	VPERM2F128 $0x20, Y7, Y3, Y11 \
	VPERM2F128 $0x31, Y7, Y3, Y15 \
	VMOVUPS    Y8, off+0(DI) \
	VMOVUPS    Y9, off+64(DI) \
	VMOVUPS    Y10, off+128(DI) \
	VMOVUPS    Y11, off+192(DI) \
	VMOVUPS    Y12, off+256(DI) \
	VMOVUPS    Y13, off+320(DI) \
	VMOVUPS    Y14, off+384(DI) \
	VMOVUPS    Y15, off+448(DI)

// func packBT16AVX(dst, src *float32, ld int, k8 int)
// Packs 16 rows of src (row stride ld floats) × 8·k8 columns into the
// p-major panel dst[p*16+j] = src[j*ld+p].
TEXT ·packBT16AVX(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), BX
	SHLQ $2, BX
	MOVQ k8+24(FP), CX
	LEAQ (BX)(BX*2), DX
	LEAQ (BX)(BX*4), R8
	LEAQ (DX)(DX*1), R9
	LEAQ (R9)(BX*1), R10
	LEAQ (SI)(BX*8), R11

pbtloop:
	TESTQ CX, CX
	JE    pbtdone
	TRANSPOSE8(SI, 0)
	TRANSPOSE8(R11, 32)
	ADDQ  $32, SI
	ADDQ  $32, R11
	ADDQ  $512, DI
	DECQ  CX
	JMP   pbtloop

pbtdone:
	VZEROUPPER
	RET

// func packA6AVX(dst, src *float32, ld int, k8 int)
// Packs 6 rows of src (row stride ld floats) × 8·k8 columns into the
// p-major panel dst[p*6+i] = src[i*ld+p]. Each column is stored as 8
// floats, the last two overwritten by the next store, so the last store
// writes 2 floats past the panel: dst needs 2 floats of slack.
TEXT ·packA6AVX(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), BX
	SHLQ $2, BX
	MOVQ k8+24(FP), CX
	LEAQ (BX)(BX*2), DX
	LEAQ (BX)(BX*4), R8

pa6loop:
	TESTQ      CX, CX
	JE         pa6done
	VMOVUPS    0(SI), Y0
	VMOVUPS    (SI)(BX*1), Y1
	VMOVUPS    (SI)(BX*2), Y2
	VMOVUPS    (SI)(DX*1), Y3
	VMOVUPS    (SI)(BX*4), Y4
	VMOVUPS    (SI)(R8*1), Y5
	VXORPS     Y6, Y6, Y6
	VXORPS     Y7, Y7, Y7
	VUNPCKLPS  Y1, Y0, Y8
	VUNPCKHPS  Y1, Y0, Y9
	VUNPCKLPS  Y3, Y2, Y10
	VUNPCKHPS  Y3, Y2, Y11
	VUNPCKLPS  Y5, Y4, Y12
	VUNPCKHPS  Y5, Y4, Y13
	VUNPCKLPS  Y7, Y6, Y14
	VUNPCKHPS  Y7, Y6, Y15
	VSHUFPS    $0x44, Y10, Y8, Y0
	VSHUFPS    $0xEE, Y10, Y8, Y1
	VSHUFPS    $0x44, Y11, Y9, Y2
	VSHUFPS    $0xEE, Y11, Y9, Y3
	VSHUFPS    $0x44, Y14, Y12, Y4
	VSHUFPS    $0xEE, Y14, Y12, Y5
	VSHUFPS    $0x44, Y15, Y13, Y6
	VSHUFPS    $0xEE, Y15, Y13, Y7
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y7, Y3, Y15
	VMOVUPS    Y8, 0(DI)
	VMOVUPS    Y9, 24(DI)
	VMOVUPS    Y10, 48(DI)
	VMOVUPS    Y11, 72(DI)
	VMOVUPS    Y12, 96(DI)
	VMOVUPS    Y13, 120(DI)
	VMOVUPS    Y14, 144(DI)
	VMOVUPS    Y15, 168(DI)
	ADDQ       $32, SI
	ADDQ       $192, DI
	DECQ       CX
	JMP        pa6loop

pa6done:
	VZEROUPPER
	RET

// func scatter6AVX(dst *float32, stride int, src *float32, n int)
// Copies n runs of 6 floats, src[6c:6c+6] to dst[c*stride:], each as an
// 8-float store: the 2 floats after every run are overwritten, so the
// caller must own them (and fill them later).
TEXT ·scatter6AVX(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ stride+8(FP), BX
	SHLQ $2, BX
	MOVQ src+16(FP), SI
	MOVQ n+24(FP), CX

sc6loop:
	TESTQ   CX, CX
	JE      sc6done
	VMOVUPS 0(SI), Y0
	VMOVUPS Y0, 0(DI)
	ADDQ    $24, SI
	ADDQ    BX, DI
	DECQ    CX
	JMP     sc6loop

sc6done:
	VZEROUPPER
	RET

// func scatter16AVX(dst *float32, stride int, src *float32, n int)
// Copies n runs of 16 floats, src[16c:16c+16] to dst[c*stride:].
TEXT ·scatter16AVX(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ stride+8(FP), BX
	SHLQ $2, BX
	MOVQ src+16(FP), SI
	MOVQ n+24(FP), CX

sc16loop:
	TESTQ   CX, CX
	JE      sc16done
	VMOVUPS 0(SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    $64, SI
	ADDQ    BX, DI
	DECQ    CX
	JMP     sc16loop

sc16done:
	VZEROUPPER
	RET

// func gemvTAVX(out *float32, w *float32, ldw int, x *float32, rows int, n int)
// out[c] = Σ_r x[r]·w[r*ldw+c] for c < n (n a multiple of 8), r < rows;
// rows ≥ 1. Each out element accumulates in row order with FMA, like a
// sequence of axpy calls.
TEXT ·gemvTAVX(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DX
	MOVQ w+8(FP), R8
	MOVQ ldw+16(FP), AX
	SHLQ $2, AX
	MOVQ x+24(FP), DI
	MOVQ rows+32(FP), R12
	MOVQ n+40(FP), CX

gt32:
	CMPQ   CX, $32
	JL     gt8
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ   R8, SI
	XORQ   BX, BX

gt32row:
	VBROADCASTSS (DI)(BX*4), Y8
	VFMADD231PS  0(SI), Y8, Y0
	VFMADD231PS  32(SI), Y8, Y1
	VFMADD231PS  64(SI), Y8, Y2
	VFMADD231PS  96(SI), Y8, Y3
	ADDQ         AX, SI
	INCQ         BX
	CMPQ         BX, R12
	JL           gt32row
	VMOVUPS      Y0, 0(DX)
	VMOVUPS      Y1, 32(DX)
	VMOVUPS      Y2, 64(DX)
	VMOVUPS      Y3, 96(DX)
	ADDQ         $128, DX
	ADDQ         $128, R8
	SUBQ         $32, CX
	JMP          gt32

gt8:
	CMPQ   CX, $8
	JL     gtend
	VXORPS Y0, Y0, Y0
	MOVQ   R8, SI
	XORQ   BX, BX

gt8row:
	VBROADCASTSS (DI)(BX*4), Y8
	VFMADD231PS  0(SI), Y8, Y0
	ADDQ         AX, SI
	INCQ         BX
	CMPQ         BX, R12
	JL           gt8row
	VMOVUPS      Y0, 0(DX)
	ADDQ         $32, DX
	ADDQ         $32, R8
	SUBQ         $8, CX
	JMP          gt8

gtend:
	VZEROUPPER
	RET
