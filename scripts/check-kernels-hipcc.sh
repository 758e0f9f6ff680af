#!/usr/bin/env bash
# Build complete AMD code objects (hipcc --genco) from every kernels/*.hip
# with Debian's hipcc (ROCm 5.2: clang-15 + rocm-device-libs + the real HIP
# headers), for gfx90a (CDNA2, wave64) and gfx1030 (RDNA2, wave32). This
# complements scripts/check-kernels.py (NVRTC for NVIDIA, clang-19 device-only
# for newer gfx targets): here the real hip_runtime.h and device libraries
# are used and code objects are linked, as hiprtc does at run time (hiprtc
# includes the runtime header implicitly; hipcc needs `-include`).
# Debian's device libraries stop before gfx11, hence gfx1030 here.
#
# matmul.hip's matrix-unit path must be compiled in where the target has
# one: on gfx90a every matmul_*_mma kernel must contain MFMA instructions
# (gfx1030 has no matrix unit: no mma kernels, the portable one only).
# That check disassembles the code object with clang-offload-bundler and
# llvm-objdump (any version found); without them it is skipped, with a note.
set -euo pipefail
cd "$(dirname "$0")/.."
HIPCC="${HIPCC:-hipcc}"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail=0

# First of the named tools on PATH, plain or with a version suffix.
find_tool() {
    local t
    for t in "$@"; do
        command -v "$t" 2>/dev/null && return 0
        compgen -c "$t-" 2>/dev/null | grep -E "^$t-[0-9]+$" | sort -t- -k2 -n -r | head -n 1 && return 0
    done
    return 1
}

# isa_check CODE_OBJECT TARGET KERNEL_SUFFIX INSTRUCTION: every kernel whose
# name ends in KERNEL_SUFFIX contains INSTRUCTION, and there is one at least.
isa_check() {
    local co=$1 target=$2 suffix=$3 insn=$4 bundler objdump counts
    bundler=$(find_tool clang-offload-bundler) || bundler=""
    objdump=$(find_tool llvm-objdump) || objdump=""
    if [ -z "$bundler" ] || [ -z "$objdump" ]; then
        echo "      (no clang-offload-bundler / llvm-objdump: $insn check skipped)"
        return 0
    fi
    "$bundler" --unbundle --type=o --input="$co" --targets="hipv4-amdgcn-amd-amdhsa--$target" --output="$co.elf"
    counts=$("$objdump" -d "$co.elf" | awk -v suffix="$suffix>:" -v insn="$insn" '
        /^[0-9a-f]+ <.*>:$/ { name = $2; if (substr(name, length(name) - length(suffix) + 1) == suffix) n[name] = 0 }
        $0 ~ insn && (name in n) { n[name]++ }
        END { for (k in n) print k, n[k] }')
    if [ -z "$counts" ]; then
        echo "      no *${suffix} kernels in the code object (compiled out?)"
        return 1
    fi
    if echo "$counts" | awk '$2 == 0 { bad = 1 } END { exit !bad }'; then
        echo "      no $insn in: $(echo "$counts" | awk '$2 == 0 { printf "%s ", $1 }')"
        return 1
    fi
    echo "      $(echo "$counts" | wc -l) *${suffix} kernels, each with $insn"
}

for src in kernels/*.hip; do
    name=$(basename "$src" .hip)
    for target in gfx90a:64 gfx1030:32; do
        arch=${target%:*}
        warp=${target#*:}
        co="$out/$name-$arch.co"
        if "$HIPCC" --genco --offload-arch="$arch" -O3 -std=c++17 -include hip/hip_runtime.h \
            -DRF_PLATFORM_AMD=1 -DRF_WARP_SIZE="$warp" -I kernels -o "$co" "$src" 2>"$out/log"; then
            echo "  [ok] $src $arch (warp $warp): $(stat -c %s "$co") bytes"
            if [ "$name-$arch" = matmul-gfx90a ] && ! isa_check "$co" "$arch" _mma v_mfma_f32_32x32x8f16; then
                echo "  [FAIL] $src $arch: matrix-unit path missing"
                fail=1
            fi
        else
            echo "  [FAIL] $src $arch (warp $warp)"
            cat "$out/log"
            fail=1
        fi
    done
done
if [ "$fail" -ne 0 ]; then
    echo "check-kernels-hipcc: FAILED"
    exit 1
fi
echo "check-kernels-hipcc: OK"
