#!/usr/bin/env bash
# Set up and run: fetch the default model into the cache (once), build, and
# generate with it. Extra arguments go to `rocmforge generate`.
#   scripts/run.sh                        # default prompt, best backend (hip if usable, else cpu)
#   scripts/run.sh --prompt "Hi" --chat   # your own prompt
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-models.sh >/dev/null
cargo build --release --locked -p rocmforge-cli -p rocmforge-backend-cpu -p rocmforge-backend-hip
if [ $# -eq 0 ]; then
    set -- --prompt "What is the capital of France?" --chat --temperature 0 --max-tokens 64
fi
exec target/release/rocmforge generate --model smollm2-135m-instruct "$@"
