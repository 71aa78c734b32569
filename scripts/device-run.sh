#!/usr/bin/env bash
# The benchmarks on a GPU machine without Node.js, from what scripts/device-pack.sh packed
# (it copies this file to .devicepack/run.sh). Run from the repository root:
#   bash .devicepack/run.sh [--quick]
# It unpacks Node.js and Dawn to a scratch folder, brings the Vulkan loader when the machine has
# none, points Vulkan at NVIDIA's driver when that is installed, then runs
#   devices --json            → $OUT/devices.json   (the adapter the figures come from)
#   train --verify --json     → $OUT/verify.json    (one short epoch; the GPU's first batches
#                                                    against the JS reference: worst |Δw| in "verify")
#   tune --json               → $OUT/tune.json      (its cache kept in the scratch folder)
#   bench train --json        → $OUT/bench-train.json
#   bench infer --model --json → $OUT/bench-infer.json and bench-infer.svg
# and the whole log in $OUT/run.log. $OUT defaults to ./devicepack-out. --quick passes --quick
# to tune and both benchmarks (a check of the pack, not figures to keep).
set -uo pipefail

pack=$(cd "$(dirname "$0")" && pwd)
quick=()
case "${1:-}" in
  --quick) quick=(--quick) ;;
  '') ;;
  *) echo "run.sh: unknown argument $1 (only --quick)" >&2; exit 2 ;;
esac
out=${OUT:-$PWD/devicepack-out}
mkdir -p "$out"
exec > >(tee "$out/run.log") 2>&1

if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  echo "run.sh: no Vulkan loader here: unpacking $(basename "$pack"/libvulkan1_*.deb)"
  for f in "$pack"/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && [ -f "$nvidia_icd" ]; then export VK_DRIVER_FILES=$nvidia_icd; fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}

scratch=$(mktemp -d /tmp/webgpu-prune-pack.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
# tune's cache goes with this run, not into the machine's home.
export XDG_CACHE_HOME=$scratch/cache
xz -dc "$pack/node.xz" > "$scratch/node" && chmod +x "$scratch/node"
cp -r "$pack/node_modules" "$pack/cli.mjs" "$scratch/"
xz -d "$scratch/node_modules/webgpu/dist/linux-x64/dawn.node.xz"
node=$scratch/node
cli=$scratch/cli.mjs

echo "run.sh: node $("$node" --version), $(date -u +%Y-%m-%dT%H:%M:%SZ), ${quick[*]:-full run}"
if ! "$node" "$cli" devices --json > "$out/devices.json"; then
  echo "run.sh: no WebGPU adapter. Vulkan loaders and drivers seen:"
  ldconfig -p | grep -i vulkan
  ls -l "$(dirname "$nvidia_icd")" /usr/share/vulkan/icd.d 2>&1
  exit 1
fi
cat "$out/devices.json"
echo

status=0
# Its messages go to stderr: a step's stdout may be redirected into its JSON file.
step() {
  local name=$1; shift
  echo "run.sh: $name" >&2
  local started=$SECONDS
  if ! "$@"; then
    echo "run.sh: $name failed" >&2
    status=1
  fi
  echo "run.sh: $name took $((SECONDS - started)) s" >&2
}
step "train --verify" "$node" "$cli" train --backend gpu --verify --epochs 1 --limit 8000 --schedule none --no-checkpoint --json --out "$scratch/verify.safetensors" > "$out/verify.json"
step tune "$node" "$cli" tune "${quick[@]}" --json > "$out/tune.json"
step "bench train" "$node" "$cli" bench train "${quick[@]}" --json --out-dir "$out" > /dev/null
step "bench infer --model" "$node" "$cli" bench infer "${quick[@]}" --model "$pack/model.safetensors" --json --out-dir "$out" > /dev/null
echo "run.sh: results in $out: $(cd "$out" && ls | tr '\n' ' ')"
exit $status
