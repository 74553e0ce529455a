//go:build amd64 && !purego

#include "textflag.h"

// plainItemsAVX2 writes a map's items while they are fixstrs or str8s that JSON holds as they
// are (see plainItemsGo in json.go for the contract). Each string is tested 32 bytes at a time:
// a byte needs escaping when it equals '"' or '\\', or is below 0x20 or at least 0x80, which
// one signed compare with 0x20 finds (bytes >= 0x80 are negative). VPMOVMSKB gives a bit per
// byte, and BZHI keeps the bits of the string's own bytes.
//
// Registers: SI src, R10 len(src)-34, R11 q; DI dst, R8 o, R9 cap(dst)-35; R12 the items left
// (odd: the next item is a value, as the item count is even); R13 wantLen; AX n, CX the offset
// of the string, BX the separator and opening quote; Y1 '"', Y2 '\\', Y3 0x20 and Y9 keyStop
// in every byte, Y8 want.

DATA quote<>+0(SB)/8, $0x2222222222222222
DATA quote<>+8(SB)/8, $0x2222222222222222
DATA quote<>+16(SB)/8, $0x2222222222222222
DATA quote<>+24(SB)/8, $0x2222222222222222
GLOBL quote<>(SB), RODATA|NOPTR, $32

DATA backslash<>+0(SB)/8, $0x5c5c5c5c5c5c5c5c
DATA backslash<>+8(SB)/8, $0x5c5c5c5c5c5c5c5c
DATA backslash<>+16(SB)/8, $0x5c5c5c5c5c5c5c5c
DATA backslash<>+24(SB)/8, $0x5c5c5c5c5c5c5c5c
GLOBL backslash<>(SB), RODATA|NOPTR, $32

DATA space<>+0(SB)/8, $0x2020202020202020
DATA space<>+8(SB)/8, $0x2020202020202020
DATA space<>+16(SB)/8, $0x2020202020202020
DATA space<>+24(SB)/8, $0x2020202020202020
GLOBL space<>(SB), RODATA|NOPTR, $32

// FLAGS sets the bytes of Y4 to 0xff where Y0 holds a byte to escape, else to 0.
#define FLAGS \
	VPCMPEQB Y1, Y0, Y4 \
	VPCMPEQB Y2, Y0, Y5 \
	VPCMPGTB Y0, Y3, Y6 \
	VPOR     Y4, Y5, Y4 \
	VPOR     Y4, Y6, Y4

// KEYFLAGS is FLAGS for a key: keyStop bytes are flagged too.
#define KEYFLAGS \
	FLAGS \
	VPCMPEQB Y9, Y0, Y5 \
	VPOR     Y4, Y5, Y4

// func plainItemsAVX2(d *byte, o, dcap int, s *byte, slen, q, j, n2 int, want *[32]byte, wantLen int, keyStop byte) (o2, q2, j2 int, found bool)
TEXT ·plainItemsAVX2(SB), NOSPLIT, $0-113
	MOVQ    d+0(FP), DI
	MOVQ    o+8(FP), R8
	MOVQ    dcap+16(FP), R9
	SUBQ    $35, R9
	MOVQ    s+24(FP), SI
	MOVQ    slen+32(FP), R10
	SUBQ    $34, R10
	MOVQ    q+40(FP), R11
	MOVQ    n2+56(FP), R12
	SUBQ    j+48(FP), R12
	MOVQ    wantLen+72(FP), R13
	MOVQ    want+64(FP), AX
	VMOVDQU (AX), Y8
	VMOVDQU quote<>(SB), Y1
	VMOVDQU backslash<>(SB), Y2
	VMOVDQU space<>(SB), Y3
	MOVBLZX keyStop+80(FP), AX
	VMOVD   AX, X9
	VPBROADCASTB X9, Y9
	TESTQ   R12, R12
	JLE     done

loop:
	// The header and a short string's 32-byte window inside src, and room in dst for the
	// longest short item. Signed compares: the limits may be negative.
	CMPQ    R11, R10
	JGT     done
	CMPQ    R8, R9
	JGT     done
	MOVBLZX (SI)(R11*1), AX
	LEAQ    1(R11), CX
	SUBL    $0xa0, AX
	CMPL    AX, $0x1f
	JA      str8

header:
	TESTQ $1, R12
	JNE   value

	// A key: at most 32 bytes. Keys get ',' before them; the first item of a map gets '{' in
	// its place on the way out.
	CMPQ      AX, $32
	JA        done
	MOVL      $0x222c, BX
	VMOVDQU   (SI)(CX*1), Y0
	KEYFLAGS
	VPMOVMSKB Y4, DX
	BZHIL     AX, DX, DX
	JNE       done
	CMPQ      AX, R13
	JNE       write
	JMP       keywant

value:
	MOVL $0x223a, BX
	CMPQ AX, $32
	JA   long

	VMOVDQU   (SI)(CX*1), Y0
	FLAGS
	VPMOVMSKB Y4, DX
	BZHIL     AX, DX, DX
	JNE       done

write:
	MOVW      BX, (DI)(R8*1)
	VMOVDQU   Y0, 2(DI)(R8*1)
	ADDQ      AX, R8
	MOVB      $0x22, 2(DI)(R8*1)
	ADDQ      $3, R8
	LEAQ      (CX)(AX*1), R11
	DECQ      R12
	JNE       loop
	JMP       done

str8:
	CMPL    AX, $0x39 // 0xd9 - 0xa0
	JNE     done
	MOVBLZX 1(SI)(R11*1), AX
	LEAQ    2(R11), CX
	JMP     header

long:
	// A value of 33 to 255 bytes: the string inside src (s+n <= len(src)) and the item inside
	// dst (o+n+3 <= cap(dst)).
	LEAQ -34(CX)(AX*1), DX
	CMPQ DX, R10
	JGT  done
	LEAQ -32(R8)(AX*1), DX
	CMPQ DX, R9
	JGT  done
	MOVW BX, (DI)(R8*1)

	// BX and R13 (wantLen again below) point at the last 32 bytes of the string and of its copy;
	// DX runs from 32-n up to 0 in steps of 32 over the blocks before them. Y7 collects the
	// flags.
	LEAQ  -32(SI)(CX*1), BX
	ADDQ  AX, BX
	LEAQ  -30(DI)(R8*1), R13
	ADDQ  AX, R13
	MOVQ  $32, DX
	SUBQ  AX, DX
	VPXOR Y7, Y7, Y7

block:
	VMOVDQU (BX)(DX*1), Y0
	VMOVDQU Y0, (R13)(DX*1)
	FLAGS
	VPOR    Y4, Y7, Y7
	ADDQ    $32, DX
	JLT     block

	// The last 32 bytes, overlapping the blocks before.
	VMOVDQU (BX), Y0
	VMOVDQU Y0, (R13)
	FLAGS
	VPOR    Y4, Y7, Y7
	MOVQ    wantLen+72(FP), R13
	VPTEST  Y7, Y7
	JNE     done
	ADDQ    AX, R8
	MOVB    $0x22, 2(DI)(R8*1)
	ADDQ    $3, R8
	LEAQ    (CX)(AX*1), R11
	DECQ    R12
	JNE     loop
	JMP     done

keywant:
	// A plain key as long as want, in Y0: written like any other, and if it is want, the walk
	// stops at its value.
	MOVW      BX, (DI)(R8*1)
	VMOVDQU   Y0, 2(DI)(R8*1)
	ADDQ      AX, R8
	MOVB      $0x22, 2(DI)(R8*1)
	ADDQ      $3, R8
	LEAQ      (CX)(AX*1), R11
	DECQ      R12
	VPCMPEQB  Y8, Y0, Y4
	VPMOVMSKB Y4, DX
	NOTL      DX
	BZHIL     AX, DX, DX
	JEQ       match
	TESTQ     R12, R12
	JNE       loop

done:
	MOVB $0, found+112(FP)

out:
	// '{' before the first item of a map, if written.
	MOVQ  o+8(FP), AX
	CMPQ  AX, R8
	JEQ   ret
	CMPQ  j+48(FP), $0
	JNE   ret
	MOVB  $0x7b, (DI)(AX*1)

ret:
	VZEROUPPER
	MOVQ R8, o2+88(FP)
	MOVQ R11, q2+96(FP)
	MOVQ n2+56(FP), AX
	SUBQ R12, AX
	MOVQ AX, j2+104(FP)
	RET

match:
	MOVB $1, found+112(FP)
	JMP  out
