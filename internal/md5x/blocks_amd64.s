//go:build amd64 && !purego

#include "textflag.h"

// Multi-buffer MD5: the MD5 compression function on 8 (blocks8) or 16
// (blocks16) independent messages at once, one message per 32-bit lane of a
// YMM register. A set of 8 lanes has its state transposed in 4 registers
// (A, B, C, D of every lane). Each block is first transposed into a 512-byte
// stack scratch per set, so that (ws+w*32)(SP) holds message word w of all 8
// lanes and the steps use it as a memory operand.
//
// A step's critical path is the chain through a: F/G/H/I of the just-computed
// b, the add, the rotate (shift, shift, or) and the add of b, 5-6 cycles.
// Everything that does not depend on b (adding K and the message word, c^d,
// c&^d) is issued first so that it overlaps the previous step. blocks8 is
// bound by that latency (~365 cycles per block on Zen 3 for ~350 on the
// critical path) and leaves vector ALUs idle, so blocks16 interleaves two
// independent sets of 8 lanes: 2x the lanes for ~1.4x the time per block.

// consts<>: the 64 step constants K, each broadcast to 8 lanes so they can be
// memory operands of VPADDD. Round 4 stores K-1 (see II). At 2048: VPSHUFB
// control rotating every 32-bit lane left by 16.
#define KBCAST(i, k) \
	DATA consts<>+(i*32)(SB)/4, $k    \
	DATA consts<>+(i*32+4)(SB)/4, $k  \
	DATA consts<>+(i*32+8)(SB)/4, $k  \
	DATA consts<>+(i*32+12)(SB)/4, $k \
	DATA consts<>+(i*32+16)(SB)/4, $k \
	DATA consts<>+(i*32+20)(SB)/4, $k \
	DATA consts<>+(i*32+24)(SB)/4, $k \
	DATA consts<>+(i*32+28)(SB)/4, $k

KBCAST(0, 0xd76aa478)
KBCAST(1, 0xe8c7b756)
KBCAST(2, 0x242070db)
KBCAST(3, 0xc1bdceee)
KBCAST(4, 0xf57c0faf)
KBCAST(5, 0x4787c62a)
KBCAST(6, 0xa8304613)
KBCAST(7, 0xfd469501)
KBCAST(8, 0x698098d8)
KBCAST(9, 0x8b44f7af)
KBCAST(10, 0xffff5bb1)
KBCAST(11, 0x895cd7be)
KBCAST(12, 0x6b901122)
KBCAST(13, 0xfd987193)
KBCAST(14, 0xa679438e)
KBCAST(15, 0x49b40821)
KBCAST(16, 0xf61e2562)
KBCAST(17, 0xc040b340)
KBCAST(18, 0x265e5a51)
KBCAST(19, 0xe9b6c7aa)
KBCAST(20, 0xd62f105d)
KBCAST(21, 0x02441453)
KBCAST(22, 0xd8a1e681)
KBCAST(23, 0xe7d3fbc8)
KBCAST(24, 0x21e1cde6)
KBCAST(25, 0xc33707d6)
KBCAST(26, 0xf4d50d87)
KBCAST(27, 0x455a14ed)
KBCAST(28, 0xa9e3e905)
KBCAST(29, 0xfcefa3f8)
KBCAST(30, 0x676f02d9)
KBCAST(31, 0x8d2a4c8a)
KBCAST(32, 0xfffa3942)
KBCAST(33, 0x8771f681)
KBCAST(34, 0x6d9d6122)
KBCAST(35, 0xfde5380c)
KBCAST(36, 0xa4beea44)
KBCAST(37, 0x4bdecfa9)
KBCAST(38, 0xf6bb4b60)
KBCAST(39, 0xbebfbc70)
KBCAST(40, 0x289b7ec6)
KBCAST(41, 0xeaa127fa)
KBCAST(42, 0xd4ef3085)
KBCAST(43, 0x04881d05)
KBCAST(44, 0xd9d4d039)
KBCAST(45, 0xe6db99e5)
KBCAST(46, 0x1fa27cf8)
KBCAST(47, 0xc4ac5665)
KBCAST(48, 0xf4292243)
KBCAST(49, 0x432aff96)
KBCAST(50, 0xab9423a6)
KBCAST(51, 0xfc93a038)
KBCAST(52, 0x655b59c2)
KBCAST(53, 0x8f0ccc91)
KBCAST(54, 0xffeff47c)
KBCAST(55, 0x85845dd0)
KBCAST(56, 0x6fa87e4e)
KBCAST(57, 0xfe2ce6df)
KBCAST(58, 0xa3014313)
KBCAST(59, 0x4e0811a0)
KBCAST(60, 0xf7537e81)
KBCAST(61, 0xbd3af234)
KBCAST(62, 0x2ad7d2ba)
KBCAST(63, 0xeb86d390)
DATA consts<>+2048(SB)/8, $0x0504070601000302
DATA consts<>+2056(SB)/8, $0x0d0c0f0e09080b0a
DATA consts<>+2064(SB)/8, $0x0504070601000302
DATA consts<>+2072(SB)/8, $0x0d0c0f0e09080b0a
GLOBL consts<>(SB), RODATA|NOPTR, $2080

// The step macros work on one set: a, b, c, d are its state registers in
// step order, t0 and t1 temporaries, ws the offset of its scratch. AX points
// at consts<>.

// ROTADD sets a = b + (a <<< s).
#define ROTADD(a, b, s, t1) \
	VPSLLD $s, a, t1       \
	VPSRLD $(32-s), a, a   \
	VPOR   t1, a, a        \
	VPADDD b, a, a

// Step i of round 1, on message word w:
// a = b + ((a + F(b,c,d) + K[i] + X[w]) <<< s) with F = d ^ (b & (c ^ d)).
#define FF(a, b, c, d, i, w, s, t0, t1, ws) \
	VPADDD (i*32)(AX), a, a    \
	VPADDD (ws+w*32)(SP), a, a \
	VPXOR  c, d, t0            \
	VPAND  b, t0, t0           \
	VPXOR  d, t0, t0           \
	VPADDD t0, a, a            \
	ROTADD(a, b, s, t1)

// Round 2: G = (b & d) | (c &^ d). The two terms have no bit in common, so
// they are added separately and only b & d is on the critical path.
#define GG(a, b, c, d, i, w, s, t0, t1, ws) \
	VPADDD (i*32)(AX), a, a    \
	VPADDD (ws+w*32)(SP), a, a \
	VPANDN c, d, t0            \
	VPADDD t0, a, a            \
	VPAND  b, d, t0            \
	VPADDD t0, a, a            \
	ROTADD(a, b, s, t1)

// Round 3: H = b ^ c ^ d.
#define HH(a, b, c, d, i, w, s, t0, t1, ws) \
	VPADDD (i*32)(AX), a, a    \
	VPADDD (ws+w*32)(SP), a, a \
	VPXOR  c, d, t0            \
	VPXOR  b, t0, t0           \
	VPADDD t0, a, a            \
	ROTADD(a, b, s, t1)

// HH with s = 16: one byte shuffle instead of shift, shift, or.
#define HH16(a, b, c, d, i, w, t0, ws) \
	VPADDD  (i*32)(AX), a, a    \
	VPADDD  (ws+w*32)(SP), a, a \
	VPXOR   c, d, t0            \
	VPXOR   b, t0, t0           \
	VPADDD  t0, a, a            \
	VPSHUFB 2048(AX), a, a      \
	VPADDD  b, a, a

// Round 4: I = c ^ (b | ^d) = ^(c ^ (^b & d)), and a + ^x = a - x - 1, so
// with K-1 in the table a += I is a -= c ^ (^b & d): no all-ones register.
#define II(a, b, c, d, i, w, s, t0, t1, ws) \
	VPADDD (i*32)(AX), a, a    \
	VPADDD (ws+w*32)(SP), a, a \
	VPANDN d, b, t0            \
	VPXOR  c, t0, t0           \
	VPSUBD t0, a, a            \
	ROTADD(a, b, s, t1)

// TRANSPOSE4 loads bytes off..off+15 (message words w..w+3) at offset CX of
// the 8 lanes whose pointers are in R8-R14, DX, lanes 0-3 in the low and 4-7
// in the high 128-bit halves, transposes the 4x4 word blocks and stores word
// w+j of every lane at (ws+(w+j)*32)(SP). Uses Y8-Y15.
#define TRANSPOSE4(off, w, ws) \
	VMOVDQU     off(R8)(CX*1), X8             \
	VINSERTI128 $1, off(R12)(CX*1), Y8, Y8    \
	VMOVDQU     off(R9)(CX*1), X9             \
	VINSERTI128 $1, off(R13)(CX*1), Y9, Y9    \
	VMOVDQU     off(R10)(CX*1), X10           \
	VINSERTI128 $1, off(R14)(CX*1), Y10, Y10  \
	VMOVDQU     off(R11)(CX*1), X11           \
	VINSERTI128 $1, off(DX)(CX*1), Y11, Y11   \
	VPUNPCKLDQ  Y9, Y8, Y12                   \
	VPUNPCKHDQ  Y9, Y8, Y13                   \
	VPUNPCKLDQ  Y11, Y10, Y14                 \
	VPUNPCKHDQ  Y11, Y10, Y15                 \
	VPUNPCKLQDQ Y14, Y12, Y8                  \
	VPUNPCKHQDQ Y14, Y12, Y9                  \
	VPUNPCKLQDQ Y15, Y13, Y10                 \
	VPUNPCKHQDQ Y15, Y13, Y11                 \
	VMOVDQU     Y8, (ws+(w+0)*32)(SP)         \
	VMOVDQU     Y9, (ws+(w+1)*32)(SP)         \
	VMOVDQU     Y10, (ws+(w+2)*32)(SP)        \
	VMOVDQU     Y11, (ws+(w+3)*32)(SP)

// TRANSPOSE transposes a whole block of the 8 lanes whose pointers are at
// p(SI) into the scratch at ws. R15 and BP are avoided (R15 is clobbered by
// global accesses when dynamically linking; BP is the frame pointer).
#define TRANSPOSE(p, ws) \
	MOVQ p+0(SI), R8         \
	MOVQ p+8(SI), R9         \
	MOVQ p+16(SI), R10       \
	MOVQ p+24(SI), R11       \
	MOVQ p+32(SI), R12       \
	MOVQ p+40(SI), R13       \
	MOVQ p+48(SI), R14       \
	MOVQ p+56(SI), DX        \
	TRANSPOSE4(0, 0, ws)     \
	TRANSPOSE4(16, 4, ws)    \
	TRANSPOSE4(32, 8, ws)    \
	TRANSPOSE4(48, 12, ws)

// func blocks8(state *[4][8]uint32, ptrs *[8]*byte, nblocks int)
//
// Y0-Y3: state; Y4-Y7: state at the start of the block; Y8, Y9: temporaries.
// CX is the offset of the current block, the same in every lane.
// Not NOSPLIT: the 512-byte scratch frame gets a normal stack check.
TEXT ·blocks8(SB), 0, $512-24
	MOVQ state+0(FP), DI
	MOVQ ptrs+8(FP), SI
	MOVQ nblocks+16(FP), BX
	SHLQ $6, BX
	XORQ CX, CX
	LEAQ consts<>(SB), AX

	VMOVDQU 0(DI), Y0
	VMOVDQU 32(DI), Y1
	VMOVDQU 64(DI), Y2
	VMOVDQU 96(DI), Y3
	TESTQ   BX, BX
	JZ      done8

loop8:
	TRANSPOSE(0, 0)
	VMOVDQA Y0, Y4
	VMOVDQA Y1, Y5
	VMOVDQA Y2, Y6
	VMOVDQA Y3, Y7

	FF(Y0, Y1, Y2, Y3, 0, 0, 7, Y8, Y9, 0)
	FF(Y3, Y0, Y1, Y2, 1, 1, 12, Y8, Y9, 0)
	FF(Y2, Y3, Y0, Y1, 2, 2, 17, Y8, Y9, 0)
	FF(Y1, Y2, Y3, Y0, 3, 3, 22, Y8, Y9, 0)
	FF(Y0, Y1, Y2, Y3, 4, 4, 7, Y8, Y9, 0)
	FF(Y3, Y0, Y1, Y2, 5, 5, 12, Y8, Y9, 0)
	FF(Y2, Y3, Y0, Y1, 6, 6, 17, Y8, Y9, 0)
	FF(Y1, Y2, Y3, Y0, 7, 7, 22, Y8, Y9, 0)
	FF(Y0, Y1, Y2, Y3, 8, 8, 7, Y8, Y9, 0)
	FF(Y3, Y0, Y1, Y2, 9, 9, 12, Y8, Y9, 0)
	FF(Y2, Y3, Y0, Y1, 10, 10, 17, Y8, Y9, 0)
	FF(Y1, Y2, Y3, Y0, 11, 11, 22, Y8, Y9, 0)
	FF(Y0, Y1, Y2, Y3, 12, 12, 7, Y8, Y9, 0)
	FF(Y3, Y0, Y1, Y2, 13, 13, 12, Y8, Y9, 0)
	FF(Y2, Y3, Y0, Y1, 14, 14, 17, Y8, Y9, 0)
	FF(Y1, Y2, Y3, Y0, 15, 15, 22, Y8, Y9, 0)

	GG(Y0, Y1, Y2, Y3, 16, 1, 5, Y8, Y9, 0)
	GG(Y3, Y0, Y1, Y2, 17, 6, 9, Y8, Y9, 0)
	GG(Y2, Y3, Y0, Y1, 18, 11, 14, Y8, Y9, 0)
	GG(Y1, Y2, Y3, Y0, 19, 0, 20, Y8, Y9, 0)
	GG(Y0, Y1, Y2, Y3, 20, 5, 5, Y8, Y9, 0)
	GG(Y3, Y0, Y1, Y2, 21, 10, 9, Y8, Y9, 0)
	GG(Y2, Y3, Y0, Y1, 22, 15, 14, Y8, Y9, 0)
	GG(Y1, Y2, Y3, Y0, 23, 4, 20, Y8, Y9, 0)
	GG(Y0, Y1, Y2, Y3, 24, 9, 5, Y8, Y9, 0)
	GG(Y3, Y0, Y1, Y2, 25, 14, 9, Y8, Y9, 0)
	GG(Y2, Y3, Y0, Y1, 26, 3, 14, Y8, Y9, 0)
	GG(Y1, Y2, Y3, Y0, 27, 8, 20, Y8, Y9, 0)
	GG(Y0, Y1, Y2, Y3, 28, 13, 5, Y8, Y9, 0)
	GG(Y3, Y0, Y1, Y2, 29, 2, 9, Y8, Y9, 0)
	GG(Y2, Y3, Y0, Y1, 30, 7, 14, Y8, Y9, 0)
	GG(Y1, Y2, Y3, Y0, 31, 12, 20, Y8, Y9, 0)

	HH(Y0, Y1, Y2, Y3, 32, 5, 4, Y8, Y9, 0)
	HH(Y3, Y0, Y1, Y2, 33, 8, 11, Y8, Y9, 0)
	HH16(Y2, Y3, Y0, Y1, 34, 11, Y8, 0)
	HH(Y1, Y2, Y3, Y0, 35, 14, 23, Y8, Y9, 0)
	HH(Y0, Y1, Y2, Y3, 36, 1, 4, Y8, Y9, 0)
	HH(Y3, Y0, Y1, Y2, 37, 4, 11, Y8, Y9, 0)
	HH16(Y2, Y3, Y0, Y1, 38, 7, Y8, 0)
	HH(Y1, Y2, Y3, Y0, 39, 10, 23, Y8, Y9, 0)
	HH(Y0, Y1, Y2, Y3, 40, 13, 4, Y8, Y9, 0)
	HH(Y3, Y0, Y1, Y2, 41, 0, 11, Y8, Y9, 0)
	HH16(Y2, Y3, Y0, Y1, 42, 3, Y8, 0)
	HH(Y1, Y2, Y3, Y0, 43, 6, 23, Y8, Y9, 0)
	HH(Y0, Y1, Y2, Y3, 44, 9, 4, Y8, Y9, 0)
	HH(Y3, Y0, Y1, Y2, 45, 12, 11, Y8, Y9, 0)
	HH16(Y2, Y3, Y0, Y1, 46, 15, Y8, 0)
	HH(Y1, Y2, Y3, Y0, 47, 2, 23, Y8, Y9, 0)

	II(Y0, Y1, Y2, Y3, 48, 0, 6, Y8, Y9, 0)
	II(Y3, Y0, Y1, Y2, 49, 7, 10, Y8, Y9, 0)
	II(Y2, Y3, Y0, Y1, 50, 14, 15, Y8, Y9, 0)
	II(Y1, Y2, Y3, Y0, 51, 5, 21, Y8, Y9, 0)
	II(Y0, Y1, Y2, Y3, 52, 12, 6, Y8, Y9, 0)
	II(Y3, Y0, Y1, Y2, 53, 3, 10, Y8, Y9, 0)
	II(Y2, Y3, Y0, Y1, 54, 10, 15, Y8, Y9, 0)
	II(Y1, Y2, Y3, Y0, 55, 1, 21, Y8, Y9, 0)
	II(Y0, Y1, Y2, Y3, 56, 8, 6, Y8, Y9, 0)
	II(Y3, Y0, Y1, Y2, 57, 15, 10, Y8, Y9, 0)
	II(Y2, Y3, Y0, Y1, 58, 6, 15, Y8, Y9, 0)
	II(Y1, Y2, Y3, Y0, 59, 13, 21, Y8, Y9, 0)
	II(Y0, Y1, Y2, Y3, 60, 4, 6, Y8, Y9, 0)
	II(Y3, Y0, Y1, Y2, 61, 11, 10, Y8, Y9, 0)
	II(Y2, Y3, Y0, Y1, 62, 2, 15, Y8, Y9, 0)
	II(Y1, Y2, Y3, Y0, 63, 9, 21, Y8, Y9, 0)

	VPADDD Y4, Y0, Y0
	VPADDD Y5, Y1, Y1
	VPADDD Y6, Y2, Y2
	VPADDD Y7, Y3, Y3
	ADDQ   $64, CX
	CMPQ   CX, BX
	JB     loop8

done8:
	VMOVDQU Y0, 0(DI)
	VMOVDQU Y1, 32(DI)
	VMOVDQU Y2, 64(DI)
	VMOVDQU Y3, 96(DI)
	VZEROUPPER
	RET

// func blocks16(state *[2][4][8]uint32, ptrs *[16]*byte, nblocks int)
//
// Two sets of 8 lanes, interleaved step by step. Y0-Y3: state of lanes 0-7
// (scratch at 0(SP)); Y4-Y7: state of lanes 8-15 (scratch at 512(SP)); Y8-Y11
// temporaries. The states at the start of the block are kept at 1024(SP).
TEXT ·blocks16(SB), 0, $1280-24
	MOVQ state+0(FP), DI
	MOVQ ptrs+8(FP), SI
	MOVQ nblocks+16(FP), BX
	SHLQ $6, BX
	XORQ CX, CX
	LEAQ consts<>(SB), AX

	VMOVDQU 0(DI), Y0
	VMOVDQU 32(DI), Y1
	VMOVDQU 64(DI), Y2
	VMOVDQU 96(DI), Y3
	VMOVDQU 128(DI), Y4
	VMOVDQU 160(DI), Y5
	VMOVDQU 192(DI), Y6
	VMOVDQU 224(DI), Y7
	TESTQ   BX, BX
	JZ      done16

loop16:
	TRANSPOSE(0, 0)
	TRANSPOSE(64, 512)
	VMOVDQU Y0, 1024(SP)
	VMOVDQU Y1, 1056(SP)
	VMOVDQU Y2, 1088(SP)
	VMOVDQU Y3, 1120(SP)
	VMOVDQU Y4, 1152(SP)
	VMOVDQU Y5, 1184(SP)
	VMOVDQU Y6, 1216(SP)
	VMOVDQU Y7, 1248(SP)

	FF(Y0, Y1, Y2, Y3, 0, 0, 7, Y8, Y9, 0)
	FF(Y4, Y5, Y6, Y7, 0, 0, 7, Y10, Y11, 512)
	FF(Y3, Y0, Y1, Y2, 1, 1, 12, Y8, Y9, 0)
	FF(Y7, Y4, Y5, Y6, 1, 1, 12, Y10, Y11, 512)
	FF(Y2, Y3, Y0, Y1, 2, 2, 17, Y8, Y9, 0)
	FF(Y6, Y7, Y4, Y5, 2, 2, 17, Y10, Y11, 512)
	FF(Y1, Y2, Y3, Y0, 3, 3, 22, Y8, Y9, 0)
	FF(Y5, Y6, Y7, Y4, 3, 3, 22, Y10, Y11, 512)
	FF(Y0, Y1, Y2, Y3, 4, 4, 7, Y8, Y9, 0)
	FF(Y4, Y5, Y6, Y7, 4, 4, 7, Y10, Y11, 512)
	FF(Y3, Y0, Y1, Y2, 5, 5, 12, Y8, Y9, 0)
	FF(Y7, Y4, Y5, Y6, 5, 5, 12, Y10, Y11, 512)
	FF(Y2, Y3, Y0, Y1, 6, 6, 17, Y8, Y9, 0)
	FF(Y6, Y7, Y4, Y5, 6, 6, 17, Y10, Y11, 512)
	FF(Y1, Y2, Y3, Y0, 7, 7, 22, Y8, Y9, 0)
	FF(Y5, Y6, Y7, Y4, 7, 7, 22, Y10, Y11, 512)
	FF(Y0, Y1, Y2, Y3, 8, 8, 7, Y8, Y9, 0)
	FF(Y4, Y5, Y6, Y7, 8, 8, 7, Y10, Y11, 512)
	FF(Y3, Y0, Y1, Y2, 9, 9, 12, Y8, Y9, 0)
	FF(Y7, Y4, Y5, Y6, 9, 9, 12, Y10, Y11, 512)
	FF(Y2, Y3, Y0, Y1, 10, 10, 17, Y8, Y9, 0)
	FF(Y6, Y7, Y4, Y5, 10, 10, 17, Y10, Y11, 512)
	FF(Y1, Y2, Y3, Y0, 11, 11, 22, Y8, Y9, 0)
	FF(Y5, Y6, Y7, Y4, 11, 11, 22, Y10, Y11, 512)
	FF(Y0, Y1, Y2, Y3, 12, 12, 7, Y8, Y9, 0)
	FF(Y4, Y5, Y6, Y7, 12, 12, 7, Y10, Y11, 512)
	FF(Y3, Y0, Y1, Y2, 13, 13, 12, Y8, Y9, 0)
	FF(Y7, Y4, Y5, Y6, 13, 13, 12, Y10, Y11, 512)
	FF(Y2, Y3, Y0, Y1, 14, 14, 17, Y8, Y9, 0)
	FF(Y6, Y7, Y4, Y5, 14, 14, 17, Y10, Y11, 512)
	FF(Y1, Y2, Y3, Y0, 15, 15, 22, Y8, Y9, 0)
	FF(Y5, Y6, Y7, Y4, 15, 15, 22, Y10, Y11, 512)

	GG(Y0, Y1, Y2, Y3, 16, 1, 5, Y8, Y9, 0)
	GG(Y4, Y5, Y6, Y7, 16, 1, 5, Y10, Y11, 512)
	GG(Y3, Y0, Y1, Y2, 17, 6, 9, Y8, Y9, 0)
	GG(Y7, Y4, Y5, Y6, 17, 6, 9, Y10, Y11, 512)
	GG(Y2, Y3, Y0, Y1, 18, 11, 14, Y8, Y9, 0)
	GG(Y6, Y7, Y4, Y5, 18, 11, 14, Y10, Y11, 512)
	GG(Y1, Y2, Y3, Y0, 19, 0, 20, Y8, Y9, 0)
	GG(Y5, Y6, Y7, Y4, 19, 0, 20, Y10, Y11, 512)
	GG(Y0, Y1, Y2, Y3, 20, 5, 5, Y8, Y9, 0)
	GG(Y4, Y5, Y6, Y7, 20, 5, 5, Y10, Y11, 512)
	GG(Y3, Y0, Y1, Y2, 21, 10, 9, Y8, Y9, 0)
	GG(Y7, Y4, Y5, Y6, 21, 10, 9, Y10, Y11, 512)
	GG(Y2, Y3, Y0, Y1, 22, 15, 14, Y8, Y9, 0)
	GG(Y6, Y7, Y4, Y5, 22, 15, 14, Y10, Y11, 512)
	GG(Y1, Y2, Y3, Y0, 23, 4, 20, Y8, Y9, 0)
	GG(Y5, Y6, Y7, Y4, 23, 4, 20, Y10, Y11, 512)
	GG(Y0, Y1, Y2, Y3, 24, 9, 5, Y8, Y9, 0)
	GG(Y4, Y5, Y6, Y7, 24, 9, 5, Y10, Y11, 512)
	GG(Y3, Y0, Y1, Y2, 25, 14, 9, Y8, Y9, 0)
	GG(Y7, Y4, Y5, Y6, 25, 14, 9, Y10, Y11, 512)
	GG(Y2, Y3, Y0, Y1, 26, 3, 14, Y8, Y9, 0)
	GG(Y6, Y7, Y4, Y5, 26, 3, 14, Y10, Y11, 512)
	GG(Y1, Y2, Y3, Y0, 27, 8, 20, Y8, Y9, 0)
	GG(Y5, Y6, Y7, Y4, 27, 8, 20, Y10, Y11, 512)
	GG(Y0, Y1, Y2, Y3, 28, 13, 5, Y8, Y9, 0)
	GG(Y4, Y5, Y6, Y7, 28, 13, 5, Y10, Y11, 512)
	GG(Y3, Y0, Y1, Y2, 29, 2, 9, Y8, Y9, 0)
	GG(Y7, Y4, Y5, Y6, 29, 2, 9, Y10, Y11, 512)
	GG(Y2, Y3, Y0, Y1, 30, 7, 14, Y8, Y9, 0)
	GG(Y6, Y7, Y4, Y5, 30, 7, 14, Y10, Y11, 512)
	GG(Y1, Y2, Y3, Y0, 31, 12, 20, Y8, Y9, 0)
	GG(Y5, Y6, Y7, Y4, 31, 12, 20, Y10, Y11, 512)

	HH(Y0, Y1, Y2, Y3, 32, 5, 4, Y8, Y9, 0)
	HH(Y4, Y5, Y6, Y7, 32, 5, 4, Y10, Y11, 512)
	HH(Y3, Y0, Y1, Y2, 33, 8, 11, Y8, Y9, 0)
	HH(Y7, Y4, Y5, Y6, 33, 8, 11, Y10, Y11, 512)
	HH16(Y2, Y3, Y0, Y1, 34, 11, Y8, 0)
	HH16(Y6, Y7, Y4, Y5, 34, 11, Y10, 512)
	HH(Y1, Y2, Y3, Y0, 35, 14, 23, Y8, Y9, 0)
	HH(Y5, Y6, Y7, Y4, 35, 14, 23, Y10, Y11, 512)
	HH(Y0, Y1, Y2, Y3, 36, 1, 4, Y8, Y9, 0)
	HH(Y4, Y5, Y6, Y7, 36, 1, 4, Y10, Y11, 512)
	HH(Y3, Y0, Y1, Y2, 37, 4, 11, Y8, Y9, 0)
	HH(Y7, Y4, Y5, Y6, 37, 4, 11, Y10, Y11, 512)
	HH16(Y2, Y3, Y0, Y1, 38, 7, Y8, 0)
	HH16(Y6, Y7, Y4, Y5, 38, 7, Y10, 512)
	HH(Y1, Y2, Y3, Y0, 39, 10, 23, Y8, Y9, 0)
	HH(Y5, Y6, Y7, Y4, 39, 10, 23, Y10, Y11, 512)
	HH(Y0, Y1, Y2, Y3, 40, 13, 4, Y8, Y9, 0)
	HH(Y4, Y5, Y6, Y7, 40, 13, 4, Y10, Y11, 512)
	HH(Y3, Y0, Y1, Y2, 41, 0, 11, Y8, Y9, 0)
	HH(Y7, Y4, Y5, Y6, 41, 0, 11, Y10, Y11, 512)
	HH16(Y2, Y3, Y0, Y1, 42, 3, Y8, 0)
	HH16(Y6, Y7, Y4, Y5, 42, 3, Y10, 512)
	HH(Y1, Y2, Y3, Y0, 43, 6, 23, Y8, Y9, 0)
	HH(Y5, Y6, Y7, Y4, 43, 6, 23, Y10, Y11, 512)
	HH(Y0, Y1, Y2, Y3, 44, 9, 4, Y8, Y9, 0)
	HH(Y4, Y5, Y6, Y7, 44, 9, 4, Y10, Y11, 512)
	HH(Y3, Y0, Y1, Y2, 45, 12, 11, Y8, Y9, 0)
	HH(Y7, Y4, Y5, Y6, 45, 12, 11, Y10, Y11, 512)
	HH16(Y2, Y3, Y0, Y1, 46, 15, Y8, 0)
	HH16(Y6, Y7, Y4, Y5, 46, 15, Y10, 512)
	HH(Y1, Y2, Y3, Y0, 47, 2, 23, Y8, Y9, 0)
	HH(Y5, Y6, Y7, Y4, 47, 2, 23, Y10, Y11, 512)

	II(Y0, Y1, Y2, Y3, 48, 0, 6, Y8, Y9, 0)
	II(Y4, Y5, Y6, Y7, 48, 0, 6, Y10, Y11, 512)
	II(Y3, Y0, Y1, Y2, 49, 7, 10, Y8, Y9, 0)
	II(Y7, Y4, Y5, Y6, 49, 7, 10, Y10, Y11, 512)
	II(Y2, Y3, Y0, Y1, 50, 14, 15, Y8, Y9, 0)
	II(Y6, Y7, Y4, Y5, 50, 14, 15, Y10, Y11, 512)
	II(Y1, Y2, Y3, Y0, 51, 5, 21, Y8, Y9, 0)
	II(Y5, Y6, Y7, Y4, 51, 5, 21, Y10, Y11, 512)
	II(Y0, Y1, Y2, Y3, 52, 12, 6, Y8, Y9, 0)
	II(Y4, Y5, Y6, Y7, 52, 12, 6, Y10, Y11, 512)
	II(Y3, Y0, Y1, Y2, 53, 3, 10, Y8, Y9, 0)
	II(Y7, Y4, Y5, Y6, 53, 3, 10, Y10, Y11, 512)
	II(Y2, Y3, Y0, Y1, 54, 10, 15, Y8, Y9, 0)
	II(Y6, Y7, Y4, Y5, 54, 10, 15, Y10, Y11, 512)
	II(Y1, Y2, Y3, Y0, 55, 1, 21, Y8, Y9, 0)
	II(Y5, Y6, Y7, Y4, 55, 1, 21, Y10, Y11, 512)
	II(Y0, Y1, Y2, Y3, 56, 8, 6, Y8, Y9, 0)
	II(Y4, Y5, Y6, Y7, 56, 8, 6, Y10, Y11, 512)
	II(Y3, Y0, Y1, Y2, 57, 15, 10, Y8, Y9, 0)
	II(Y7, Y4, Y5, Y6, 57, 15, 10, Y10, Y11, 512)
	II(Y2, Y3, Y0, Y1, 58, 6, 15, Y8, Y9, 0)
	II(Y6, Y7, Y4, Y5, 58, 6, 15, Y10, Y11, 512)
	II(Y1, Y2, Y3, Y0, 59, 13, 21, Y8, Y9, 0)
	II(Y5, Y6, Y7, Y4, 59, 13, 21, Y10, Y11, 512)
	II(Y0, Y1, Y2, Y3, 60, 4, 6, Y8, Y9, 0)
	II(Y4, Y5, Y6, Y7, 60, 4, 6, Y10, Y11, 512)
	II(Y3, Y0, Y1, Y2, 61, 11, 10, Y8, Y9, 0)
	II(Y7, Y4, Y5, Y6, 61, 11, 10, Y10, Y11, 512)
	II(Y2, Y3, Y0, Y1, 62, 2, 15, Y8, Y9, 0)
	II(Y6, Y7, Y4, Y5, 62, 2, 15, Y10, Y11, 512)
	II(Y1, Y2, Y3, Y0, 63, 9, 21, Y8, Y9, 0)
	II(Y5, Y6, Y7, Y4, 63, 9, 21, Y10, Y11, 512)

	VPADDD 1024(SP), Y0, Y0
	VPADDD 1056(SP), Y1, Y1
	VPADDD 1088(SP), Y2, Y2
	VPADDD 1120(SP), Y3, Y3
	VPADDD 1152(SP), Y4, Y4
	VPADDD 1184(SP), Y5, Y5
	VPADDD 1216(SP), Y6, Y6
	VPADDD 1248(SP), Y7, Y7
	ADDQ   $64, CX
	CMPQ   CX, BX
	JB     loop16

done16:
	VMOVDQU Y0, 0(DI)
	VMOVDQU Y1, 32(DI)
	VMOVDQU Y2, 64(DI)
	VMOVDQU Y3, 96(DI)
	VMOVDQU Y4, 128(DI)
	VMOVDQU Y5, 160(DI)
	VMOVDQU Y6, 192(DI)
	VMOVDQU Y7, 224(DI)
	VZEROUPPER
	RET
