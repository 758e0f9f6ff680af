#!/usr/bin/env bash
# rocmforge and llama.cpp side by side, in one go, on the GPU machine (no
# internet, no Rust): builds llama-bench from a repacked llama.cpp source
# (bench/repack-llamacpp.sh), writes random-weight models at real shapes
# with `rocmforge synth`, measures device copy bandwidth (the decode
# roofline), runs both benchmarks on every model and merges the results
# (bench/compare.py) into bench/results/<date>-<gpu>.{md,json}.
#
#   bench/compare-llamacpp.sh --llamacpp-src SRC.tar.xz --rocmforge DIR [options]
#   bench/compare-llamacpp.sh --cpu --model M.gguf --llamacpp-src SRC.tar.xz --rocmforge DIR [options]
#
#   --llamacpp-src F  the repacked llama.cpp source (needed only to build)
#   --rocmforge P     the rocmforge binary, or the folder holding it (and
#                     its backend plugins)
#   --models-dir D    where synthetic models go (default /root/rocmforge-models);
#                     existing files are reused
#   --out D           result folder (default bench/results of this checkout)
#   --reps N          repetitions per test, both engines (default 3; 2 with --quick)
#   --quick           only qwen2.5-0.5b q4_k_m and llama2-7b q4_k_m
#   --cpu             the CPU backends (rocmforge --backend cpu, llama-bench
#                     -ngl 0 -t <cores>) on --model; no synthetic models,
#                     no bandwidth; llama.cpp built without CUDA
#   --model F         the model for --cpu
#   -p N, -n N        prompt and generation lengths (default 512, 128)
#   --threads N       llama.cpp CPU threads for --cpu (default: all cores)
#   --build-dir D     llama.cpp build (default /root/llamacpp-build, or
#                     /root/llamacpp-build-cpu with --cpu); the build is
#                     skipped when D/build/bin/llama-bench exists
#   --build-only      build llama-bench and stop
#   --work D          logs and raw results (default /tmp/compare-llamacpp-<time>)
#   --commit C        the commit recorded (default: git rev-parse HEAD, if any)
#   --bandwidth B     device copy bandwidth in bytes/s instead of measuring it
#   --cuda-arch A     CMAKE_CUDA_ARCHITECTURES (default 90, the H200)
#   --note TEXT       an extra line for the results' header (repeatable)
#
# Errors are one line (`error: ...`); a failed benchmark run is reported
# with its log's tail, left out of the table, and makes the exit status 1
# once the table is written. The table is printed on stdout at the end.
set -euo pipefail

die() { echo "error: $*" >&2; exit 1; }
say() { echo "[compare] $*" >&2; }

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$script_dir/.." && pwd)
# The command as typed (arguments with spaces or quotes single-quoted).
quote() {
    if [[ "$1" =~ ^[A-Za-z0-9_./:=@,+%-]+$ ]]; then
        printf ' %s' "$1"
    else
        printf " '%s'" "${1//\'/\'\\\'\'}"
    fi
}
command_line=bench/compare-llamacpp.sh
for arg in "$@"; do command_line+=$(quote "$arg"); done

src_tar=
rocmforge=
models_dir=/root/rocmforge-models
out_dir=$repo/bench/results
reps=
quick=0
cpu=0
model=
n_prompt=512
n_gen=128
depth=4096
threads=$(nproc)
build_dir=
build_only=0
work=
commit=
bandwidth=
cuda_arch=90
notes=()

need() { [ "$2" -ge 2 ] || die "$1 needs a value"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --llamacpp-src) need "$1" $#; src_tar=$2; shift 2 ;;
        --rocmforge) need "$1" $#; rocmforge=$2; shift 2 ;;
        --models-dir) need "$1" $#; models_dir=$2; shift 2 ;;
        --out) need "$1" $#; out_dir=$2; shift 2 ;;
        --reps|-r) need "$1" $#; reps=$2; shift 2 ;;
        --quick) quick=1; shift ;;
        --cpu) cpu=1; shift ;;
        --model) need "$1" $#; model=$2; shift 2 ;;
        -p) need "$1" $#; n_prompt=$2; shift 2 ;;
        -n) need "$1" $#; n_gen=$2; shift 2 ;;
        --threads) need "$1" $#; threads=$2; shift 2 ;;
        --build-dir) need "$1" $#; build_dir=$2; shift 2 ;;
        --build-only) build_only=1; shift ;;
        --work) need "$1" $#; work=$2; shift 2 ;;
        --commit) need "$1" $#; commit=$2; shift 2 ;;
        --bandwidth) need "$1" $#; bandwidth=$2; shift 2 ;;
        --cuda-arch) need "$1" $#; cuda_arch=$2; shift 2 ;;
        --note) need "$1" $#; notes+=(--note "$2"); shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

for v in "$n_prompt" "$n_gen" "$threads" ${reps:+"$reps"}; do
    [[ "$v" =~ ^[0-9]+$ ]] || die "not a count: '$v'"
done
[ -z "$bandwidth" ] || [[ "$bandwidth" =~ ^[0-9]+(\.[0-9]*)?([eE][+]?[0-9]+)?$ ]] || die "not a bandwidth in bytes/s: '$bandwidth'"
[ -n "$reps" ] || { [ "$quick" = 1 ] && reps=2 || reps=3; }
[ -n "$build_dir" ] || { [ "$cpu" = 1 ] && build_dir=/root/llamacpp-build-cpu || build_dir=/root/llamacpp-build; }
if [ "$cpu" = 1 ] && [ "$build_only" = 0 ]; then
    [ -n "$model" ] || die "--cpu needs --model <gguf>"
    [ -f "$model" ] || die "no model at '$model'"
fi
[ "$cpu" = 1 ] || [ -z "$model" ] || die "--model is for --cpu (the GPU comparison writes its own models)"

work=${work:-${TMPDIR:-/tmp}/compare-llamacpp-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$work"
work=$(cd "$work" && pwd)
say "logs and raw results: $work"

# libcuda lives outside the loader's default paths on some machines.
if [ -d /usr/local/nvidia/lib64 ]; then
    export LD_LIBRARY_PATH=/usr/local/nvidia/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi

# --- llama-bench ------------------------------------------------------------

llama_bench=$build_dir/build/bin/llama-bench

build_llamacpp() {
    if [ -x "$llama_bench" ]; then
        say "llama-bench: $llama_bench (already built)"
        return
    fi
    [ -n "$src_tar" ] || die "llama-bench is not built at $llama_bench and no --llamacpp-src was given"
    [ -f "$src_tar" ] || die "no llama.cpp source tarball at '$src_tar' (make one with bench/repack-llamacpp.sh)"
    local log=$work/llamacpp-build.log src=$build_dir/src/llama.cpp
    rm -rf "$build_dir/src"
    mkdir -p "$build_dir/src"
    tar -xJf "$src_tar" -C "$build_dir/src" || die "cannot unpack '$src_tar'"
    [ -f "$src/CMakeLists.txt" ] || die "'$src_tar' holds no llama.cpp/CMakeLists.txt"
    command -v cmake >/dev/null || die "cmake not found"

    local gen=() flags=(
        -DCMAKE_BUILD_TYPE=Release
        -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF
        -DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF
        # Deprecated (a warning) in this llama.cpp; kept for older sources.
        -DLLAMA_CURL=OFF
    )
    command -v ninja >/dev/null && gen=(-G Ninja)
    if [ "$cpu" = 1 ]; then
        # Native, but without AMX: some VMs (the 2-core development one)
        # advertise AMX and then trap on its tile instructions (SIGILL in
        # libggml-cpu). An explicit -mno-* wins over -march=native.
        local no_amx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
        flags+=(-DGGML_CUDA=OFF -DGGML_NATIVE=ON "-DCMAKE_C_FLAGS=$no_amx" "-DCMAKE_CXX_FLAGS=$no_amx")
    else
        if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
            export CUDACXX=/usr/local/cuda/bin/nvcc
        fi
        flags+=(-DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$cuda_arch" -DGGML_CUDA_NCCL=OFF)
    fi
    say "building llama-bench ($([ "$cpu" = 1 ] && echo CPU || echo "CUDA arch $cuda_arch"), -j$(nproc)); log: $log"
    local t0=$SECONDS
    {
        echo "# $(date -u +%FT%TZ) cmake ${gen[*]} ${flags[*]}"
        cmake -S "$src" -B "$build_dir/build" "${gen[@]}" "${flags[@]}" &&
            cmake --build "$build_dir/build" --target llama-bench -j "$(nproc)"
    } >"$log" 2>&1 || {
        tail -n 25 "$log" >&2
        die "building llama-bench failed (full log: $log)"
    }
    [ -x "$llama_bench" ] || die "the build finished but $llama_bench is missing (log: $log)"
    say "built llama-bench in $((SECONDS - t0)) s"
}

build_llamacpp
[ "$build_only" = 0 ] || exit 0

# --- rocmforge --------------------------------------------------------------

[ -n "$rocmforge" ] || die "--rocmforge <binary or folder> is required"
rf_bin=$rocmforge
[ -d "$rf_bin" ] && rf_bin=$rf_bin/rocmforge
[ -x "$rf_bin" ] || die "no rocmforge binary at '$rf_bin'"
"$rf_bin" bench --help >/dev/null 2>&1 || die "'$rf_bin' has no working 'bench' command"

if [ "$cpu" = 1 ]; then
    backend=cpu
    lc_common=(-ngl 0 -t "$threads")
else
    backend=hip
    lc_common=(-ngl 99 -fa 1)
fi

# --- models -----------------------------------------------------------------

# "label|file|depth?" per model.
jobs=()
if [ "$cpu" = 1 ]; then
    jobs+=("$(basename "$model" .gguf)|$model|")
else
    if [ "$quick" = 1 ]; then
        specs=("qwen2.5-0.5b q4_k_m" "llama2-7b q4_k_m")
    else
        specs=("qwen2.5-0.5b f16" "qwen2.5-0.5b q8_0" "qwen2.5-0.5b q4_k_m"
            "llama2-7b q4_0" "llama2-7b q4_k_m" "llama3-8b q4_k_m")
    fi
    mkdir -p "$models_dir"
    for spec in "${specs[@]}"; do
        read -r shape type <<<"$spec"
        f=$models_dir/$shape-$type.gguf
        if [ -f "$f" ]; then
            say "model $f (exists)"
        else
            say "writing $f"
            "$rf_bin" synth --shape "$shape" --type "$type" --out "$f" >>"$work/synth.log" 2>&1 || {
                tail -n 5 "$work/synth.log" >&2
                die "rocmforge synth --shape $shape --type $type failed (log: $work/synth.log)"
            }
            tail -n 1 "$work/synth.log" >&2
        fi
        d=
        [ "$spec" = "llama2-7b q4_k_m" ] && d=$depth
        jobs+=("$spec|$f|$d")
    done
fi

# --- bandwidth --------------------------------------------------------------

# A 4 GiB device-to-device copy, counted as read + write bytes.
measure_bandwidth() {
    command -v python3 >/dev/null || return 1
    python3 - 2>>"$work/bandwidth.log" <<'PY'
import sys
import torch
if not torch.cuda.is_available():
    sys.exit("torch sees no CUDA device")
n = 4 << 30
a = torch.empty(n, dtype=torch.uint8, device="cuda")
b = torch.empty_like(a)
for _ in range(3):
    b.copy_(a)
start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
iters = 20
start.record()
for _ in range(iters):
    b.copy_(a)
end.record()
torch.cuda.synchronize()
print(f"{2 * n * iters / (start.elapsed_time(end) / 1e3):.6e}")
PY
}

if [ "$cpu" = 0 ] && [ -z "$bandwidth" ]; then
    if bandwidth=$(measure_bandwidth); then
        say "device copy bandwidth: $bandwidth B/s"
    else
        bandwidth=
        say "no bandwidth (python3 + torch with CUDA needed; $work/bandwidth.log): roofline left empty"
    fi
fi

# --- runs -------------------------------------------------------------------

failed=()
pairs=()

# run NAME OUT LOG CMD...: one benchmark, its JSON to OUT; a failure is
# reported and recorded, not fatal.
run() {
    local name=$1 out=$2 log=$3
    shift 3
    say "$name"
    if ! "$@" >"$out" 2>"$log"; then
        tail -n 5 "$log" >&2
        say "FAILED: $name (log: $log)"
        mv "$out" "$out.failed"
        failed+=("$name")
    fi
}

for job in "${jobs[@]}"; do
    IFS='|' read -r label f d <<<"$job"
    tag=${label// /-}
    run "llama.cpp $label" "$work/$tag.llamacpp.json" "$work/$tag.llamacpp.log" \
        "$llama_bench" -m "$f" "${lc_common[@]}" -p "$n_prompt" -n "$n_gen" -r "$reps" -o json
    run "rocmforge $label" "$work/$tag.rocmforge.json" "$work/$tag.rocmforge.log" \
        "$rf_bin" --backend "$backend" bench --model "$f" -p "$n_prompt" -n "$n_gen" -r "$reps" --output json
    pairs+=(--pair "$label" "$work/$tag.rocmforge.json" "$work/$tag.llamacpp.json")
    if [ -n "$d" ]; then
        run "llama.cpp $label at depth $d" "$work/$tag-d$d.llamacpp.json" "$work/$tag-d$d.llamacpp.log" \
            "$llama_bench" -m "$f" "${lc_common[@]}" -d "$d" -p 0 -n "$n_gen" -r "$reps" -o json
        run "rocmforge $label at depth $d" "$work/$tag-d$d.rocmforge.json" "$work/$tag-d$d.rocmforge.log" \
            "$rf_bin" --backend "$backend" bench --model "$f" --depth "$d" -p 0 -n "$n_gen" -r "$reps" --output json
        pairs+=(--pair "$label" "$work/$tag-d$d.rocmforge.json" "$work/$tag-d$d.llamacpp.json")
    fi
done

# --- results ----------------------------------------------------------------

if [ -z "$commit" ]; then
    if commit=$(git -C "$repo" rev-parse HEAD 2>/dev/null); then
        [ -z "$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null)" ] || commit=$commit-dirty
    else
        commit=unknown
    fi
fi

if [ "$cpu" = 1 ]; then
    device="CPU: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || true), $(nproc) cores"
    slug=cpu-$(nproc)core
else
    device=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1 || true)
    slug=$(echo "${device:-gpu}" | tr 'A-Z' 'a-z' | tr -cs 'a-z0-9' '-' | sed 's/^-*//; s/-*$//')
fi
[ "$quick" = 0 ] || slug=$slug-quick
date=$(date +%F)
mkdir -p "$out_dir"
base=$out_dir/$date-$slug

lc_note="llama-bench ${lc_common[*]} -p $n_prompt -n $n_gen -r $reps"
rf_note="rocmforge --backend $backend bench -p $n_prompt -n $n_gen -r $reps"
if [ "$cpu" = 0 ]; then
    lc_note+=" (depth rows: -d $depth -p 0)"
    rf_note+=" (depth rows: --depth $depth -p 0)"
fi
python3 "$script_dir/compare.py" --date "$date" ${device:+--gpu "$device"} --commit "$commit" \
    --command "$command_line" ${bandwidth:+--bandwidth "$bandwidth"} \
    --note "$lc_note" --note "$rf_note" ${notes[@]+"${notes[@]}"} \
    --md "$base.md" --json "$base.json" "${pairs[@]}"
say "wrote $base.md and $base.json"

if [ ${#failed[@]} -gt 0 ]; then
    die "${#failed[@]} run(s) failed: ${failed[*]} (logs in $work)"
fi
