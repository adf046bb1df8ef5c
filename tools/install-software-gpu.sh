#!/usr/bin/env bash
# Installs Mesa's software GPUs when missing (Debian/Ubuntu): lavapipe (Vulkan) from
# mesa-vulkan-drivers, and llvmpipe GL through EGL. A machine with a real GPU driver
# needs none of this; the packages do no harm beside it. Sourced by run.sh and test.sh.
need=()
ls /usr/share/vulkan/icd.d/lvp_icd.*.json >/dev/null 2>&1 || need+=(mesa-vulkan-drivers)
# grep reads to the end (no -q): with the callers' pipefail, grep -q quitting at the first
# match made ldconfig die of SIGPIPE, and the package was reinstalled on every run.
ldconfig -p | grep 'libvulkan.so.1' >/dev/null || need+=(libvulkan1)
ldconfig -p | grep 'libEGL_mesa' >/dev/null || need+=(libegl-mesa0 libgl1-mesa-dri)
if [ ${#need[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null; then
        SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
        echo "installing ${need[*]}" >&2
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
    else
        echo "no apt-get: install Mesa's Vulkan (lavapipe) or a GPU driver by hand" >&2
    fi
fi
# Mesa's EGL probes for a Wayland runtime dir; give it one so its logs stay quiet.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
