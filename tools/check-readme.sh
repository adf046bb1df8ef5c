#!/usr/bin/env bash
# Runs the README's quick start as a new user would: a fresh clone of this repository's HEAD
# in a temporary folder, the first command of "Quick start" exactly as the README writes it,
# then the "Then:" commands; checks that the run directory holds what the README says it
# does. (The quick start's other command, tools/test.sh, is what CI runs.)
# CARGO_TARGET_DIR, if set, is used for the clone's build too (it saves the ~5-minute build).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git clone --quiet "$repo" "$work/vae-gpu"
cd "$work/vae-gpu"

# The first fenced block under "## Quick start": one line, the main job.
cmd="$(awk '/^## Quick start/{q=1} q && /^```/{n++; next} q && n==1 {print; exit}' README.md)"
[ -n "$cmd" ] || { echo "check-readme: no command under 'Quick start'" >&2; exit 1; }
echo "== $cmd"
start=$(date +%s)
bash -c "$cmd"
echo "== took $(( $(date +%s) - start )) s"

# What the README says runs/shapes then holds.
for f in config.json metrics.jsonl checkpoint.safetensors stage2.safetensors samples.png \
    samples-two-stage.png reconstructions.png eval.json report.html; do
    [ -s "runs/shapes/$f" ] || { echo "check-readme: runs/shapes/$f is missing" >&2; exit 1; }
done

# "Then:" — the adapters and routing, and the conformance suite's quick shapes.
bash tools/run.sh info
bash tools/run.sh check | tail -n 1
echo "check-readme: the quick start ran as written"
