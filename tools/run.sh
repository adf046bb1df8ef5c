#!/usr/bin/env bash
# Quick start: install a software GPU if the machine has none, build, and run
# `vae-gpu` with the given arguments (e.g. `bash tools/run.sh check`).
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/install-software-gpu.sh
cargo build --release --quiet
exec ./target/release/vae-gpu "$@"
