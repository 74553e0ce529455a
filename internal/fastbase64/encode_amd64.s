//go:build amd64 && !purego

#include "textflag.h"

// AVX2 base64 encoding, after Muła and Lemire, "Faster Base64 Encoding and
// Decoding using AVX2 Instructions" (2018). One block is 24 input bytes,
// 12 per 128-bit lane, and gives 32 output characters:
//
//  1. Load src[0:16] into the low lane and src[12:28] into the high lane, so
//     each lane holds its 12 bytes at lane offsets 0-11 (VPSHUFB cannot move
//     bytes across lanes). Bytes 12-15 of each lane are loaded but unused.
//  2. VPSHUFB each 3-byte group a,b,c into the 4-byte slot b,a,c,b. As 16-bit
//     words that is a<<8|b and b<<8|c, which hold the four 6-bit indices at
//     bits 10-15, 4-9 (first word) and 6-11, 0-5 (second word).
//  3. Mask and shift every index to the low 6 bits of its own byte, with
//     per-word shift counts done as multiplies: VPMULHUW by 2^6 and 2^10
//     shifts right by 10 and 6; VPMULLW by 2^4 and 2^8 shifts left by 4 and 8.
//  4. Translate index i to ASCII by adding an offset looked up with VPSHUFB:
//     r = sat(i-51) is 0 for i < 52, 1..12 for 52..63; subtracting the
//     (i > 25 ? -1 : 0) mask gives 0 for A-Z, 1 for a-z, 2..11 for 0-9,
//     12 for '+' and 13 for '/'.

// VPSHUFB control, same in both lanes: group k -> bytes 3k+1, 3k, 3k+2, 3k+1.
DATA shuf<>+0(SB)/8, $0x0405030401020001
DATA shuf<>+8(SB)/8, $0x0a0b090a07080607
GLOBL shuf<>(SB), RODATA|NOPTR, $16

// ASCII offsets indexed by the reduced value r (step 4): 'A'-0, 'a'-26,
// ten times '0'-52, '+'-62, '/'-63, two unused.
DATA offsets<>+0(SB)/8, $0xfcfcfcfcfcfc4741
DATA offsets<>+8(SB)/8, $0x0000f0edfcfcfcfc
GLOBL offsets<>(SB), RODATA|NOPTR, $16

// ENC encodes the block at off(SI) into outoff(DI), using a (and its low
// half ax), b, c and d as temporaries; Y8-Y15 hold the constants.
#define ENC(off, outoff, ax, a, b, c, d) \
	VMOVDQU     off(SI), ax                 \
	VINSERTI128 $1, off+12(SI), a, a        \
	VPSHUFB     Y8, a, a                    \
	VPAND       Y9, a, b                    \
	VPMULHUW    Y10, b, b                   \
	VPAND       Y11, a, c                   \
	VPMULLW     Y12, c, c                   \
	VPOR        b, c, a                     \
	VPSUBUSB    Y13, a, b                   \
	VPCMPGTB    Y14, a, d                   \
	VPSUBB      d, b, b                     \
	VPSHUFB     b, Y15, b                   \
	VPADDB      b, a, a                     \
	VMOVDQU     a, outoff(DI)

// func encodeAVX2(dst, src []byte) (blocks int)
TEXT ·encodeAVX2(SB), NOSPLIT, $0-56
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), DX
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX
	XORQ AX, AX

	VBROADCASTI128 shuf<>(SB), Y8
	MOVL           $0x0fc0fc00, R8 // a>>2 and (b&15)<<2|c>>6, still in place
	VMOVD          R8, X9
	VPBROADCASTD   X9, Y9
	MOVL           $0x04000040, R8 // VPMULHUW: >>10 (low word), >>6 (high word)
	VMOVD          R8, X10
	VPBROADCASTD   X10, Y10
	MOVL           $0x003f03f0, R8 // (a&3)<<4|b>>4 and c&63, still in place
	VMOVD          R8, X11
	VPBROADCASTD   X11, Y11
	MOVL           $0x01000010, R8 // VPMULLW: <<4 (low word), <<8 (high word)
	VMOVD          R8, X12
	VPBROADCASTD   X12, Y12
	MOVL           $51, R8
	VMOVD          R8, X13
	VPBROADCASTB   X13, Y13
	MOVL           $25, R8
	VMOVD          R8, X14
	VPBROADCASTB   X14, Y14
	VBROADCASTI128 offsets<>(SB), Y15

	// Two blocks per iteration while the second block's 28-byte read and
	// both 32-byte stores stay in bounds.
loop2:
	CMPQ CX, $52
	JLT  loop1
	CMPQ DX, $64
	JLT  loop1
	ENC(0, 0, X0, Y0, Y1, Y2, Y3)
	ENC(24, 32, X4, Y4, Y5, Y6, Y7)
	ADDQ $48, SI
	ADDQ $64, DI
	SUBQ $48, CX
	SUBQ $64, DX
	ADDQ $2, AX
	JMP  loop2

	// At most one more block (a second would have been done above).
loop1:
	CMPQ CX, $28
	JLT  done
	CMPQ DX, $32
	JLT  done
	ENC(0, 0, X0, Y0, Y1, Y2, Y3)
	ADDQ $24, SI
	ADDQ $32, DI
	SUBQ $24, CX
	SUBQ $32, DX
	INCQ AX
	JMP  loop1

done:
	VZEROUPPER
	MOVQ AX, blocks+48(FP)
	RET
