#!/usr/bin/env bash
# scripts/install.sh into a DESTDIR: skiffd, skiff and skiff-dns land in PREFIX/bin and run, the
# unit in SKIFF_SYSTEMD_UNIT_DIR names the installed binary (and is packaging/skiffd.service itself
# for the default prefix), the README where the unit's Documentation= points, nothing else, and
# systemd is left alone. Then `systemd-analyze verify` must accept the unit without a warning.
#
#   install_test.sh SOURCE_DIR BUILD_DIR     (CTest: install_test, label packaging)
#
# Exit 77 (CTest's skip) when systemd-analyze is missing, except under CI, where that fails.
set -euo pipefail

src=$1
build=$2
stage=$(mktemp -d /tmp/skiff-install.XXXXXX)
trap 'rm -rf "$stage"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }

prefix=$(cache CMAKE_INSTALL_PREFIX)
unit_dir=$(cache SKIFF_SYSTEMD_UNIT_DIR)
[[ -n $prefix && -n $unit_dir ]] || fail "no CMAKE_INSTALL_PREFIX/SKIFF_SYSTEMD_UNIT_DIR in $build"

# Without a build there is nothing to install, and the script says so.
if out=$("$src/scripts/install.sh" "$stage/no-build" 2>&1); then
  fail "install.sh without a build succeeded: $out"
fi
[[ $out == *"build first"* ]] || fail "unclear message without a build: $out"

out=$(DESTDIR=$stage/root "$src/scripts/install.sh" "$build" 2>&1) || fail "install.sh: $out"
[[ $out == *"systemd left alone"* ]] || fail "a staged install must not touch systemd: $out"
root=$stage/root

for bin in skiffd skiff skiff-dns; do
  [[ -x $root$prefix/bin/$bin ]] || fail "$prefix/bin/$bin not installed"
  version=$("$root$prefix/bin/$bin" --version) || fail "installed $bin --version failed"
  [[ $version =~ [0-9]+\.[0-9]+\.[0-9]+ ]] || fail "installed $bin --version printed: $version"
done
unit=$root$unit_dir/skiffd.service
[[ -f $unit ]] || fail "$unit_dir/skiffd.service not installed"
grep -qx "ExecStart=$prefix/bin/skiffd" "$unit" || fail "the unit does not run $prefix/bin/skiffd"
if [[ $prefix == /usr/local ]]; then
  cmp "$unit" "$src/packaging/skiffd.service" || fail "installed unit differs from packaging/"
fi
cmp "$root$prefix/share/doc/skiff/README.md" "$src/README.md" || fail "README not installed"
files=$(cd "$root" && find . -type f | sort | tr '\n' ' ')
expected=$(printf '%s\n' ".$prefix/bin/skiff" ".$prefix/bin/skiffd" ".$prefix/bin/skiff-dns" \
  ".$prefix/share/doc/skiff/README.md" ".$unit_dir/skiffd.service" | sort | tr '\n' ' ')
[[ $files == "$expected" ]] || fail "installed [$files], expected [$expected]"

if ! command -v systemd-analyze >/dev/null; then
  if [[ -n ${CI:-} && ${CI} != false && ${CI} != 0 ]]; then
    fail "no systemd-analyze (scripts/install-deps.sh installs systemd); CI is set"
  fi
  echo "SKIP: no systemd-analyze to verify the unit"
  exit 77
fi
# verify fails when ExecStart= does not exist, so this copy runs the staged binary; the rest is
# the unit as installed. It only warns (exit 0) on unknown keys, so any output is a failure.
verify() {
  local name=$1 dir
  dir=$(mktemp -d "$stage/verify.XXXXXX")
  sed "s|^ExecStart=$prefix/bin/skiffd|ExecStart=$root$prefix/bin/skiffd|" > "$dir/$name"
  systemd-analyze verify "$dir/$name" 2>&1
}
out=$(verify skiffd.service < "$unit") || fail "systemd-analyze verify: $out"
[[ -z $out ]] || fail "systemd-analyze verify warns: $out"
# The check can fail: a unit with a misspelt key does not pass it.
out=$(sed 's/^KillMode=/KilMode=/' "$unit" | verify broken.service) || true
[[ -n $out ]] || fail "systemd-analyze verify accepted a misspelt key; the check proves nothing"
echo "install_test: ok ($files)"
