#!/usr/bin/env bash
# The stage-1 training step side by side with PyTorch, in one invocation, one table.
# Installs what it needs: a software GPU when there is no driver (tools/install-software-gpu.sh)
# and, on a machine without CUDA, Debian's python3-torch with the pthread OpenBLAS. Then it
# times the same network at the same batch in interleaved rounds (vae-gpu, PyTorch, vae-gpu,
# PyTorch, ...: these machines are shared and noisy), and prints both throughputs, both peak
# memories, the ratio within each round and their median. With an NVIDIA GPU (nvidia-smi present and torch.cuda
# available) PyTorch runs on CUDA: eager, CUDA graphs and torch.compile, each reported apart.
# Usage: bash tools/compare-pytorch.sh [--batch 64] [--steps 20] [--rounds 2]
set -euo pipefail
cd "$(dirname "$0")/.."
batch=64; steps=20; rounds=2
while [ $# -gt 0 ]; do
    case "$1" in
        --batch) batch="$2"; shift 2 ;;
        --steps) steps="$2"; shift 2 ;;
        --rounds) rounds="$2"; shift 2 ;;
        *) echo "compare-pytorch.sh: unknown argument '$1' (--batch N, --steps N, --rounds N)" >&2; exit 2 ;;
    esac
done
case "$rounds" in
    ''|*[!0-9]*|0) echo "compare-pytorch.sh: --rounds takes a positive whole number, not '$rounds'" >&2; exit 2 ;;
esac

# A software GPU only where there is no NVIDIA driver (the GPU machines have no apt registry).
command -v nvidia-smi >/dev/null || source tools/install-software-gpu.sh
# The first Python that has torch: PATH's, or Debian's (which python3-torch installs into).
torch_python() {
    for py in python3 /usr/bin/python3; do
        if "$py" -c 'import torch' 2>/dev/null; then echo "$py"; return; fi
    done
}
PY="$(torch_python)"
if [ -z "$PY" ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "installing python3-torch libopenblas0-pthread" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-torch libopenblas0-pthread >/dev/null
    PY="$(torch_python)"
fi
cuda=0
if command -v nvidia-smi >/dev/null && "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    cuda=1
fi
# The GPU machines have no Rust toolchain: there the binary built elsewhere is used as it is.
if command -v cargo >/dev/null; then
    cargo build --release --quiet
elif [ ! -x target/release/vae-gpu ]; then
    echo "compare-pytorch.sh: no cargo and no target/release/vae-gpu; build it on a machine with cargo" >&2
    exit 2
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

modes=(eager)
device=cpu
if [ "$cuda" = 1 ]; then device=cuda; modes=(eager graphs compile); fi
for round in $(seq 1 "$rounds"); do
    ./target/release/vae-gpu bench train --json --batch-size "$batch" --steps "$steps" > "$out/vae-gpu-$round.json"
    for m in "${modes[@]}"; do
        "$PY" tools/pytorch_stage1.py --device "$device" --batch "$batch" --steps "$steps" --mode "$m" \
            > "$out/torch-$m-$round.json" || echo '{}' > "$out/torch-$m-$round.json"
    done
done

python3 - "$out" "$rounds" "${modes[@]}" <<'PY'
import json, statistics, sys
out, rounds, modes = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def load(p):
    try:
        return json.load(open(p))
    except Exception:
        return {}
v = [load(f"{out}/vae-gpu-{r}.json") for r in range(1, rounds + 1)]
print(f"stage-1 training step (InfoGAN VAE, 28x28x1, kappa 64, learned gamma, Adam), batch {v[0].get('batch')}, "
      f"{v[0].get('steps')} timed steps after warm-up, {rounds} interleaved rounds")
heads = "".join(f"{'round ' + str(r) + ' img/s':>14}" for r in range(1, rounds + 1))
print(f"{'':50} {heads} {'ms/step':>9} {'peak MiB':>9}  vae-gpu / it, by round (median)")
def row(name, docs, ref):
    ips = [d.get("images_per_second") for d in docs]
    ms = [d.get("ms_per_step") for d in docs if d.get("ms_per_step")]
    peak = max([d.get("peak_bytes") or d.get("peak_device_bytes") or 0 for d in docs]) / 2**20
    ratio = ""
    if ref and all(ips) and all(ref):
        r = [a / b for a, b in zip(ref, ips)]
        ratio = " / ".join(f"{x:.2f}x" for x in r) + f" ({statistics.median(r):.2f}x)"
    cells = "".join(f"{x:14.1f}" if x else f"{'failed':>14}" for x in ips)
    print(f"{name:50} {cells} {min(ms) if ms else float('nan'):9.1f} {peak:9.1f}  {ratio}")
vips = [d.get("images_per_second") for d in v]
row(f"vae-gpu, {v[0].get('backend', '?')}: {v[0].get('adapter', '?')}"[:50], v, None)
for m in modes:
    t = [load(f"{out}/torch-{m}-{r}.json") for r in range(1, rounds + 1)]
    row(f"{t[0].get('framework', 'PyTorch')} {t[0].get('device', '')} {m}"[:50], t, vips)
print("peak: vae-gpu's is its pool's device bytes; PyTorch's is", load(f"{out}/torch-{modes[0]}-1.json").get("peak_is", "?"))
PY
