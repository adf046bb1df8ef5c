#!/usr/bin/env bash
# The README's test command. Installs the software GPUs it needs (Debian's
# mesa-vulkan-drivers for lavapipe; Mesa's EGL/GL is usually present, installed
# if not), then runs every test, with the GPU tests on two backends:
# software Vulkan (lavapipe) and GL (llvmpipe through EGL). No GPU test skips:
# without an adapter they fail and say how to get one.
set -euo pipefail
cd "$(dirname "$0")/.."

source tools/install-software-gpu.sh
# The report's tests validate its HTML (Debian's tidy), render it in a real browser (Debian's
# chromium), and train on real Fashion-MNIST (Debian's dataset-fashion-mnist, into ./data).
need=()
command -v tidy >/dev/null || need+=(tidy)
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "installing ${need[*]}" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
bash tools/fetch-data.sh fashion-mnist

cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
cargo build --release --quiet

echo "== all tests, GPU tests on software Vulkan (lavapipe)"
WGPU_BACKEND=vulkan cargo test --quiet
echo "== GPU tests on GL (llvmpipe through EGL)"
# The conformance families run on GL from the release binary below (check --full, the same
# cases), so the in-process pass skips them here rather than run them twice.
WGPU_BACKEND=gl cargo test --quiet --test kernels --test cli --test train -- --skip conformance::

# The shipped binary, in release, on both backends (on Vulkan the in-process tests above ran
# the same cases in a test build).
echo "== vae-gpu check --full from the binary, on both"
WGPU_BACKEND=vulkan ./target/release/vae-gpu check --full | tail -n 1
WGPU_BACKEND=gl ./target/release/vae-gpu check --full | tail -n 1
