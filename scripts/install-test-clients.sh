#!/usr/bin/env bash
# Installs the third-party API clients the end-to-end tests drive skiffd with: today the AWS SDK
# for JavaScript v3 (tests/e2e/aws_sdk: package.json and its lock) into DIR/node_modules, where
# aws_sdk_e2e_test looks for it (DIR is the build tree's aws_sdk; CMake copies the scenario
# script there). Needs node and npm (Node 20 or later) and the network, to whichever registry
# npm is configured with. Idempotent: `npm ci` is skipped while DIR holds what this lock names.
# Runs as root or not.
#
#   scripts/install-test-clients.sh BUILD_DIR/aws_sdk
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $# -ne 1 ]]; then
  echo "usage: $0 BUILD_DIR/aws_sdk" >&2
  exit 2
fi
dir=$1
src=tests/e2e/aws_sdk

for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "install-test-clients: $tool not found (Node.js 20 or later is needed)" >&2
    exit 1
  fi
done
node_major=$(node -p 'process.versions.node.split(".")[0]')
if ((node_major < 20)); then
  echo "install-test-clients: node $(node --version) is too old; the AWS SDK needs 20 or later" >&2
  exit 1
fi

mkdir -p "$dir"
# npm ci writes node_modules/.package-lock.json last: newer than the copied lock once it is done.
installed=$dir/node_modules/.package-lock.json
if cmp -s "$src/package-lock.json" "$dir/package-lock.json" &&
   [[ -f $installed && $installed -nt $dir/package-lock.json ]]; then
  echo "install-test-clients: $dir is up to date"
  exit 0
fi
# .npmrc: the lock names no registry (omit-lockfile-registry-resolved).
cp "$src/package.json" "$src/package-lock.json" "$src/.npmrc" "$dir/"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=warn)
echo "install-test-clients: installed the AWS SDK for JavaScript into $dir/node_modules"
