#!/bin/sh
# Copy the current build (run `npm run build` first) into DIR for bench/ab.ts.
set -eu
dir="$1"
root="$(cd "$(dirname "$0")/.." && pwd)"
rm -rf "$dir" && mkdir -p "$dir/bin"
cp -r "$root/dist" "$dir/dist"
cp "$root/bin/run.js" "$dir/bin/run.js"
cp "$root/package.json" "$root/oclif.manifest.json" "$dir/"
ln -s "$root/node_modules" "$dir/node_modules"
