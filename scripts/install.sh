#!/usr/bin/env bash
# Installs a built Skiff: skiffd, skiff and skiff-dns to /usr/local/bin, packaging/skiffd.service
# to /etc/systemd/system and the README to /usr/local/share/doc/skiff. It runs `cmake --install` on
# the build tree, so this script and CMake's install() rules are the same thing (a build
# configured with another CMAKE_INSTALL_PREFIX installs there, with a unit that names it).
#
#   scripts/install.sh [BUILD_DIR]          # default build/; as root
#   DESTDIR=/tmp/stage scripts/install.sh   # stage under a directory instead (packaging, tests)
#
# Then, on a machine that runs systemd: systemctl enable --now skiffd. The script runs
# `systemctl daemon-reload` itself only when systemd is PID 1 and nothing is staged: containers
# and build machines often have systemctl but no systemd to talk to.
set -euo pipefail
cd "$(dirname "$0")/.."

build=${1:-build}
destdir=${DESTDIR:-}
if [[ ! -x $build/bin/skiffd || ! -x $build/bin/skiff || ! -x $build/bin/skiff-dns ]]; then
  echo "install: no $build/bin/skiffd, $build/bin/skiff and $build/bin/skiff-dns; build first:" >&2
  echo "  cmake -S . -B $build -DCMAKE_BUILD_TYPE=Release && cmake --build $build -j2" >&2
  exit 1
fi
if [[ -z $destdir && $(id -u) -ne 0 ]]; then
  echo "install: run as root (or set DESTDIR to stage the files elsewhere)" >&2
  exit 1
fi

# cmake --install prepends $DESTDIR itself.
DESTDIR=$destdir cmake --install "$build"

if [[ -n $destdir ]]; then
  echo "install: staged under $destdir; systemd left alone"
  exit 0
fi
# What sd_booted() checks: /run/systemd/system exists only when systemd is PID 1.
if [[ -d /run/systemd/system ]]; then
  systemctl daemon-reload
  echo "install: done; enable and start skiffd with: systemctl enable --now skiffd"
else
  echo "install: done; systemd is not running here (not PID 1), so no daemon-reload"
fi
