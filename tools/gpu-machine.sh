#!/usr/bin/env bash
# A lent hour on an NVIDIA machine, prepared in advance. Those machines have the driver and
# PyTorch with CUDA but no cargo, no package registry and no Vulkan loader (../shared/GPU.md).
#
#   bash tools/gpu-machine.sh --prepare   # here: release build + the loader's Debian packages in .gl/
#   (copy the tree, or target/release/vae-gpu, tools/ and .gl/, to the GPU machine)
#   bash tools/gpu-machine.sh             # there: check, benchmarks, training steps, PyTorch
#
# The run prints one table last and keeps every JSON document in gpu-run/ (commit the figures).
# Peaks for the fraction-of-peak columns: --peak-gflops/--peak-gbps, or from the GPU's name
# (H100 SXM: 67 TFLOP/s FP32 without tensor cores, ~3 TB/s measured copy; H200: 67, ~4.3).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--prepare" ]; then
    grep -qx '/.gl/' .git/info/exclude 2>/dev/null || echo /.gl/ >> .git/info/exclude
    mkdir -p .gl /tmp/amd64/partial
    o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
    # shellcheck disable=SC2086
    apt-get $o update -qq
    # shellcheck disable=SC2086
    (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
    cargo build --release --quiet
    echo "prepared: target/release/vae-gpu and $(ls .gl | wc -l) packages in .gl/"
    exit 0
fi

peak_gflops=""; peak_gbps=""
while [ $# -gt 0 ]; do
    case "$1" in
        --peak-gflops) peak_gflops="$2"; shift 2 ;;
        --peak-gbps) peak_gbps="$2"; shift 2 ;;
        *) echo "gpu-machine.sh: unknown argument '$1' (--prepare | --peak-gflops X --peak-gbps Y)" >&2; exit 2 ;;
    esac
done
bin=target/release/vae-gpu
[ -x "$bin" ] || { echo "gpu-machine.sh: no $bin; run --prepare on a machine with cargo" >&2; exit 2; }

# The Vulkan loader, unpacked from the prepared packages when the system has none.
if ! ldconfig -p | grep -q libvulkan.so.1 && ls .gl/*.deb >/dev/null 2>&1; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
fi
if ! "$bin" info 2>/dev/null | grep -qi nvidia; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
gpu_name="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1 || true)"
if [ -z "$peak_gflops" ]; then
    case "$gpu_name" in
        *H100*) peak_gflops=67000; peak_gbps=3000 ;;
        *H200*) peak_gflops=67000; peak_gbps=4300 ;;
    esac
fi
peaks=()
[ -n "$peak_gflops" ] && peaks+=(--peak-gflops "$peak_gflops")
[ -n "$peak_gbps" ] && peaks+=(--peak-gbps "$peak_gbps")

out=gpu-run
mkdir -p "$out"
"$bin" info > "$out/info.txt" 2>&1 || true
status=0
"$bin" check --full --json > "$out/check.json" || status=$?
# Measure which kernels win on this GPU first; everything after runs the winners.
export VAE_GPU_TUNING="$out/tuning.json"
"$bin" bench tune --json > "$out/tune.json" || status=$?
"$bin" bench --json "${peaks[@]}" > "$out/bench.json" || status=$?
"$bin" bench train --json --profile "${peaks[@]}" > "$out/train.json" || status=$?
# The reference: PyTorch's own f32 matmul (TF32 off) and the stage-1 step in three modes.
python3 - > "$out/torch-matmul.json" <<'PY' || true
import json, time, torch
torch.backends.cuda.matmul.allow_tf32 = False
rows = []
for n in (1024, 4096):
    a, b = torch.randn(n, n, device="cuda"), torch.randn(n, n, device="cuda")
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    times = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(10):
            a @ b
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t) / 10)
    times.sort()
    rows.append({"n": n, "gflops": 2 * n ** 3 / times[2] / 1e9})
print(json.dumps({"device": torch.cuda.get_device_name(), "matmul": rows}))
PY
bash tools/compare-pytorch.sh --batch 64 --steps 20 | tee "$out/compare.txt" || status=$?

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
def load(name):
    try:
        return json.load(open(f"{out}/{name}"))
    except Exception:
        return {}
check, bench, train, tm = (load(n) for n in ("check.json", "bench.json", "train.json", "torch-matmul.json"))
print()
print(f"== {bench.get('adapter', '?')} ({bench.get('backend', '?')}, {bench.get('driver', '')})")
print(f"check --full: {check.get('passed', '?')} passed, {check.get('failed', '?')} failed" if check else "check --full: no result")
tune = load("tune.json")
print(f"bench tune chose matmul {tune.get('matmul', '?')}, conv {tune.get('conv', '?')}, adam {tune.get('adam', '?')}")
print(f"host time per dispatch: {bench.get('host_us_per_dispatch', float('nan')):.2f} us (kernel loop), "
      f"{train.get('host_us_per_dispatch', float('nan')):.2f} us (stage-1 step)")
print(f"{'kernel':50} {'shape':26} {'GFLOP/s':>9} {'GB/s':>8} {'% peak':>7}")
for r in bench.get("results", []):
    g = r.get("gflops")
    p = r.get("fraction_of_peak_gflops") if g is not None else r.get("fraction_of_peak_gbps")
    print(f"{r['kernel'][:50]:50} {r['shape'][:26]:26} {g if g is not None else float('nan'):9.1f} "
          f"{r['gbps']:8.1f} {100 * p if p is not None else float('nan'):7.1f}")
for row in tm.get("matmul", []):
    print(f"{'PyTorch f32 matmul (TF32 off)':50} {str(row['n']) + '^3':26} {row['gflops']:9.1f}")
for name, d in (("stage-1 step", train), ("stage-2 step", train.get("stage2", {}))):
    if d:
        print(f"{name}: {d['images_per_second']:.1f} images/s, {d['ms_per_step']:.2f} ms/step, "
              f"{d['dispatches_per_step']:.0f} dispatches, {d['submits_per_step']:.0f} submit, "
              f"peak {d['peak_device_bytes'] / 2**20:.0f} MiB")
print("the PyTorch step comparison is the table above (compare.txt)")
PY
exit "$status"
