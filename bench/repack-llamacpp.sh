#!/usr/bin/env bash
# Repack llama.cpp's source (as vendored by the llama-cpp-python 0.3.36 sdist
# on PyPI) into a small .tar.xz that one device call can carry (64 MiB):
# without models/, docs/, media/, benches/, the server web UI and tests, and
# the ggml backends other than cpu and cuda. Runs on the development machine
# (it needs pip and the internet); bench/compare-llamacpp.sh builds it on the
# GPU machine. The result is third-party source: never commit it.
#
#   bench/repack-llamacpp.sh [OUT.tar.xz] [--sdist FILE]
#
# OUT defaults to .gpu/llama.cpp-src.tar.xz (.gpu/ is git-ignored through
# .git/info/exclude). --sdist uses an sdist already downloaded instead of
# fetching it. The sdist's sha256 is checked either way.
set -euo pipefail

VERSION=0.3.36
SDIST_SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e

die() { echo "error: $*" >&2; exit 1; }

out=.gpu/llama.cpp-src.tar.xz
sdist=
while [ $# -gt 0 ]; do
    case "$1" in
        --sdist) [ $# -ge 2 ] || die "--sdist needs a file"; sdist=$2; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) out=$1; shift ;;
    esac
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ -z "$sdist" ]; then
    echo "downloading the llama-cpp-python $VERSION sdist" >&2
    # --no-binary names only this package: with `:all:` pip would also build
    # the sdist's build backend (scikit-build-core, cmake, ...) from source
    # to read its metadata, which takes many minutes.
    pip download --quiet --no-binary llama-cpp-python --no-deps "llama-cpp-python==$VERSION" -d "$tmp" \
        || die "pip download llama-cpp-python==$VERSION failed"
    sdist=$tmp/llama_cpp_python-$VERSION.tar.gz
fi
[ -f "$sdist" ] || die "no sdist at $sdist"
got=$(sha256sum "$sdist" | cut -d' ' -f1)
[ "$got" = "$SDIST_SHA256" ] || die "$sdist: sha256 $got, expected $SDIST_SHA256"

tar -xzf "$sdist" -C "$tmp" "llama_cpp_python-$VERSION/vendor/llama.cpp"
src=$tmp/llama_cpp_python-$VERSION/vendor/llama.cpp

# What CMake never reads with the options compare-llamacpp.sh passes
# (LLAMA_BUILD_SERVER/TESTS/EXAMPLES=OFF, GGML_CUDA or only the CPU); .git is
# a gitlink into the sdist's own repository, dangling once unpacked.
(
    cd "$src"
    rm -rf models docs media benches tools/ui tools/server/tests tools/server/bench tests \
        gguf-py conversion .github .devops .git
    for d in ggml/src/ggml-*/; do
        case "$(basename "$d")" in
            ggml-cpu|ggml-cuda) ;;
            *) rm -rf "$d" ;;
        esac
    done
)
echo "llama-cpp-python $VERSION vendor/llama.cpp, repacked by bench/repack-llamacpp.sh" > "$src/REPACKED"

mkdir -p "$(dirname "$out")"
# Sorted, fixed owner and times: the same sdist gives the same tarball.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=2026-10-01 \
    -C "$(dirname "$src")" -cf - llama.cpp | xz -9 -T0 > "$out.partial"
mv "$out.partial" "$out"
echo "wrote $out ($(du -h "$out" | cut -f1))" >&2
