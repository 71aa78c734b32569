#!/usr/bin/env bash
# Installs software WebGPU adapters on a Debian bookworm machine with no GPU:
#   - lavapipe (Mesa >= 24 from bookworm-backports; bookworm's Mesa 22 is refused by Dawn)
#   - SwiftShader, shipped inside Debian's chromium package, which also runs the browser test
# Idempotent; needs root. Skips apt entirely when everything is already present.
set -euo pipefail

need=()
[ -e /usr/lib/x86_64-linux-gnu/libvulkan.so.1 ] || need+=(libvulkan1)
[ -e /usr/share/vulkan/icd.d/lvp_icd.x86_64.json ] || need+=(mesa-vulkan-drivers)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -eq 0 ]; then
  echo "setup-adapter: libvulkan1, lavapipe and chromium already installed"
  exit 0
fi

sources=/etc/apt/sources.list.d/debian.sources
if [ -f "$sources" ] && ! grep -q 'bookworm-backports' "$sources"; then
  sed -i '0,/^Suites: bookworm bookworm-updates$/s//Suites: bookworm bookworm-updates bookworm-backports/' "$sources"
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends libvulkan1 chromium
apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers
echo "setup-adapter: installed ${need[*]}"
