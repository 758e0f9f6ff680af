#!/usr/bin/env bash
# Build complete AMD code objects (hipcc --genco) from every kernels/*.hip
# with Debian's hipcc (ROCm 5.2: clang-15 + rocm-device-libs + the real HIP
# headers), for gfx90a (CDNA2, wave64) and gfx1030 (RDNA2, wave32). This
# complements scripts/check-kernels.py (NVRTC for NVIDIA, clang-19 device-only
# for newer gfx targets): here the real hip_runtime.h and device libraries
# are used and code objects are linked, as hiprtc does at run time (hiprtc
# includes the runtime header implicitly; hipcc needs `-include`).
# Debian's device libraries stop before gfx11, hence gfx1030 here.
set -euo pipefail
cd "$(dirname "$0")/.."
HIPCC="${HIPCC:-hipcc}"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail=0
for src in kernels/*.hip; do
    name=$(basename "$src" .hip)
    for target in gfx90a:64 gfx1030:32; do
        arch=${target%:*}
        warp=${target#*:}
        if "$HIPCC" --genco --offload-arch="$arch" -O3 -std=c++17 -include hip/hip_runtime.h \
            -DRF_PLATFORM_AMD=1 -DRF_WARP_SIZE="$warp" -I kernels -o "$out/$name-$arch.co" "$src" 2>"$out/log"; then
            echo "  [ok] $src $arch (warp $warp): $(stat -c %s "$out/$name-$arch.co") bytes"
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
