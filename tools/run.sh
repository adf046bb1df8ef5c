#!/usr/bin/env bash
# Quick start: install a software GPU if the machine has none, build, and run
# `vae-gpu` with the given arguments (e.g. `bash tools/run.sh check`). Paths in the arguments
# are the caller's: the binary runs in the folder this script was called from, with the
# repository's data/ as where named datasets are found (unless VAE_GPU_DATA says otherwise).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
source "$repo/tools/install-software-gpu.sh"
cargo build --release --quiet --manifest-path "$repo/Cargo.toml"
export VAE_GPU_DATA="${VAE_GPU_DATA:-$repo/data}"
exec "${CARGO_TARGET_DIR:-$repo/target}/release/vae-gpu" "$@"
