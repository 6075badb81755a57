#!/bin/sh
# tests/kernels/check_isa.sh - prove that AVX-512 code exists only in the
# AVX-512 kernel library, so the binary runs on CPUs without AVX-512.
#
# Usage: check_isa.sh BUILD_ROOT AVX512_LIB
#
# Disassembles (objdump -d) every object file the build compiled, except
# those of AVX512_LIB, and fails on any instruction that needs AVX-512:
# zmm registers, mask registers and k-instructions, xmm/ymm 16..31,
# embedded broadcast, zeroing or rounding, or an EVEX prefix (first opcode
# byte 0x62, which in 64-bit mode only ever starts an EVEX instruction;
# this also catches EVEX vpdpbusd on xmm/ymm). As a control, the AVX-512
# library itself must show such instructions, or the check proves nothing.
# Exit 77 (skip) without objdump.
set -u
build=$1
lib512=$2
command -v objdump >/dev/null 2>&1 || { echo "objdump not found: skipping"; exit 77; }

# awk program: print offending lines of one disassembly, prefixed by file.
scan='
BEGIN { FS = "\t"; bad = 0 }
/^[ ]*[0-9a-f]+:\t/ {
	if (NF < 3)
		next                       # continuation line: bytes only
	n = split($2, b, " ")
	i = 1
	while (i <= n && b[i] ~ /^(26|2e|36|3e|64|65|67)$/)
		i++
	ins = $3
	evex = (i <= n && b[i] == "62")
	if (evex || ins ~ /%zmm|%k[0-7]|\{%k|\{1to|\{z\}|-sae\}|\{sae\}|%[xy]mm(1[6-9]|2[0-9]|3[01])/ ||
	    ins ~ /^(kmov|kand|kor|kxor|knot|kshift|kunpck|kortest|ktest|kadd)/) {
		print FILENAME_ ": " $0
		bad++
	}
}
END { exit bad ? 1 : 0 }'

status=0
checked=0
for obj in $(find "$build" -name '*.o' | sort); do
	case "$obj" in
	*"$(basename "$lib512").p/"*) continue ;;
	esac
	checked=$((checked + 1))
	if ! out=$(objdump -d "$obj" | awk -v FILENAME_="$obj" "$scan"); then
		printf '%s\n' "$out" | head -20
		echo "FAIL: AVX-512 instructions in $obj (outside the AVX-512 library)"
		status=1
	fi
done
echo "checked $checked object files outside $(basename "$lib512")"
[ "$checked" -gt 0 ] || { echo "FAIL: no object files found under $build"; exit 1; }

if objdump -d "$lib512" | awk -v FILENAME_="$lib512" "$scan" >/dev/null; then
	echo "FAIL: control: no AVX-512 instruction found in $lib512 (is the check broken?)"
	status=1
else
	echo "control: $(basename "$lib512") does contain AVX-512 instructions"
fi
exit $status
