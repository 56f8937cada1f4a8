#!/usr/bin/env bash
# Builds the busybox image the integration tests run, as an OCI image-layout tarball that
# `ctr images import` accepts, from Debian's busybox-static and without any network.
#
#   scripts/build-test-image.sh [--docker-archive] OUT.tar [REF]
#                                   (REF defaults to skiff.local/busybox:test)
#
# --docker-archive writes the same image the way `docker save` did before Docker 25 instead:
# manifest.json, <config hex>.json and an uncompressed <diff id hex>/layer.tar. The config and
# the layer's content are the same as in the OCI tarball, so both import to the same chain id.
#
# The output is reproducible: the same busybox binary gives the same bytes, so image and layer
# digests are stable across runs and machines with the same package versions. Everything that
# could leak the build environment (mtimes, owners, umask, file order, gzip header) is pinned.
set -euo pipefail

usage() {
  echo "usage: $0 [--docker-archive] OUT.tar [REF]" >&2
  exit 2
}
format=oci
if [[ ${1:-} == --docker-archive ]]; then
  format=docker
  shift
fi
[[ $# -ge 1 && $# -le 2 ]] || usage

out=$1
ref=${2:-skiff.local/busybox:test}
busybox=${SKIFF_BUSYBOX:-/bin/busybox}
# Every timestamp in the image. SOURCE_DATE_EPOCH is the reproducible-builds convention.
epoch=${SOURCE_DATE_EPOCH:-0}

if [[ ! -x $busybox ]]; then
  echo "build-test-image: $busybox missing (apt-get install busybox-static)" >&2
  exit 1
fi
# A dynamically linked busybox would need its libraries in the image; refuse rather than ship a
# rootfs whose /bin/sh cannot start.
if ! "$busybox" true 2>/dev/null; then
  echo "build-test-image: $busybox does not run" >&2
  exit 1
fi

# OCI platform names differ from Debian's for a few architectures.
deb_arch=$(dpkg --print-architecture)
variant=""
case $deb_arch in
  amd64) arch=amd64 ;;
  arm64) arch=arm64; variant=v8 ;;
  armhf) arch=arm; variant=v7 ;;
  armel) arch=arm; variant=v5 ;;
  i386) arch=386 ;;
  ppc64el) arch=ppc64le ;;
  s390x) arch=s390x ;;
  riscv64) arch=riscv64 ;;
  mips64el) arch=mips64le ;;
  *) echo "build-test-image: no OCI name for Debian architecture $deb_arch" >&2; exit 1 ;;
esac

# The tag is what follows the last ':' after the last '/', as in a docker reference.
name_part=${ref##*/}
if [[ $name_part == *:* ]]; then
  tag=${name_part##*:}
else
  tag=latest
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/skiff-image.XXXXXX")
tmp_out=""
trap 'rm -rf "$work"; [[ -z $tmp_out ]] || rm -f "$tmp_out"' EXIT
umask 022
layout=$work/layout
blobs=$layout/blobs/sha256
mkdir -p "$blobs"

# The layer tar is written by Python's tarfile rather than GNU tar so that modes and owners are
# set per entry (app's home belongs to uid 1000) without running as root or trusting the umask.
"$busybox" --list | LC_ALL=C sort >"$work/applets"
python3 - "$busybox" "$work/applets" "$epoch" "$work/layer.tar" <<'PY'
import io, sys, tarfile

busybox, applets_file, epoch, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "app:x:1000:1000:app:/home/app:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
)
GROUP = "root:x:0:\napp:x:1000:\nnogroup:x:65534:\n"

entries = {}  # path -> TarInfo, data


def add(path, kind, mode, data=b"", target="", uid=0, gid=0):
    info = tarfile.TarInfo(path)
    info.type = kind
    info.mode = mode
    info.mtime = epoch
    info.uid, info.gid = uid, gid
    info.uname = info.gname = ""
    if kind == tarfile.REGTYPE:
        info.size = len(data)
    if kind == tarfile.SYMTYPE:
        info.linkname = target
    entries[path] = (info, data)


for d, mode in [("bin", 0o755), ("dev", 0o755), ("etc", 0o755), ("home", 0o755),
                ("proc", 0o555), ("root", 0o700), ("sys", 0o555), ("tmp", 0o1777),
                ("usr", 0o755), ("usr/bin", 0o755), ("usr/sbin", 0o755), ("sbin", 0o755),
                ("var", 0o755)]:
    add(d, tarfile.DIRTYPE, mode)
add("home/app", tarfile.DIRTYPE, 0o755, uid=1000, gid=1000)
with open(busybox, "rb") as f:
    add("bin/busybox", tarfile.REGTYPE, 0o755, f.read())
with open(applets_file) as f:
    for applet in f.read().split():
        if applet != "busybox":
            add("bin/" + applet, tarfile.SYMTYPE, 0o777, target="busybox")
add("etc/passwd", tarfile.REGTYPE, 0o644, PASSWD.encode())
add("etc/group", tarfile.REGTYPE, 0o644, GROUP.encode())
add("etc/hostname", tarfile.REGTYPE, 0o644, b"skiff-test\n")

# GNU format without pax headers: no atime/ctime records to vary between builds.
with open(out, "wb") as raw, tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
    for path in sorted(entries):
        info, data = entries[path]
        tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
PY

# Writes a blob into the layout and prints its digest hex; blobs are named by content.
put_blob() {
  local file=$1 hex
  hex=$(sha256sum "$file" | cut -d' ' -f1)
  mv "$file" "$blobs/$hex"
  echo "$hex"
}

diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
cp "$work/layer.tar" "$work/layer-uncompressed.tar"
gzip -n -9 "$work/layer.tar"
layer_size=$(stat -c %s "$work/layer.tar.gz")
layer_hex=$(put_blob "$work/layer.tar.gz")

busybox_version=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || echo unknown)
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)

python3 - "$work" "$arch" "$variant" "$created" "$diff_id" "$busybox_version" <<'PY'
import json, sys

work, arch, variant, created, diff_id, bb_version = sys.argv[1:]


def dump(obj, path):
    # Sorted keys and fixed separators: the bytes, hence the digests, depend only on content.
    with open(path, "w") as f:
        f.write(json.dumps(obj, sort_keys=True, separators=(",", ":")))


platform = {"architecture": arch, "os": "linux"}
if variant:
    platform["variant"] = variant

config = dict(platform)
config.update({
    "created": created,
    "config": {
        "Cmd": ["sh"],
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "WorkingDir": "/",
    },
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff_id]},
    "history": [{
        "created": created,
        "created_by": "scripts/build-test-image.sh from Debian busybox-static " + bb_version,
    }],
})
dump(config, work + "/config.json")
PY

config_size=$(stat -c %s "$work/config.json")
config_hex=$(put_blob "$work/config.json")

python3 - "$work" "$config_hex" "$config_size" "$layer_hex" "$layer_size" <<'PY'
import json, sys

work, config_hex, config_size, layer_hex, layer_size = sys.argv[1:]
manifest = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {
        "mediaType": "application/vnd.oci.image.config.v1+json",
        "digest": "sha256:" + config_hex,
        "size": int(config_size),
    },
    "layers": [{
        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
        "digest": "sha256:" + layer_hex,
        "size": int(layer_size),
    }],
}
with open(work + "/manifest.json", "w") as f:
    f.write(json.dumps(manifest, sort_keys=True, separators=(",", ":")))
PY

manifest_size=$(stat -c %s "$work/manifest.json")
manifest_hex=$(put_blob "$work/manifest.json")

python3 - "$layout" "$manifest_hex" "$manifest_size" "$arch" "$variant" "$ref" "$tag" <<'PY'
import json, sys

layout, manifest_hex, manifest_size, arch, variant, ref, tag = sys.argv[1:]
platform = {"architecture": arch, "os": "linux"}
if variant:
    platform["variant"] = variant
index = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": "sha256:" + manifest_hex,
        "size": int(manifest_size),
        "platform": platform,
        # ref.name is the OCI way to name the manifest; containerd's importer prefers
        # io.containerd.image.name, which carries the full reference rather than only the tag.
        "annotations": {
            "org.opencontainers.image.ref.name": tag,
            "io.containerd.image.name": ref,
        },
    }],
}
with open(layout + "/index.json", "w") as f:
    f.write(json.dumps(index, sort_keys=True, separators=(",", ":")))
with open(layout + "/oci-layout", "w") as f:
    f.write(json.dumps({"imageLayoutVersion": "1.0.0"}, separators=(",", ":")))
PY

chmod 0644 "$layout/index.json" "$layout/oci-layout" "$blobs"/*
contents=(oci-layout index.json blobs)
if [[ $format == docker ]]; then
  layout=$work/docker
  mkdir -p "$layout/$diff_id"
  cp "$blobs/$config_hex" "$layout/$config_hex.json"
  mv "$work/layer-uncompressed.tar" "$layout/$diff_id/layer.tar"
  python3 - "$layout" "$config_hex" "$diff_id" "$ref" <<'PY'
import json, sys

layout, config_hex, diff_id, ref = sys.argv[1:]
manifest = [{
    "Config": config_hex + ".json",
    "RepoTags": [ref],
    "Layers": [diff_id + "/layer.tar"],
}]
with open(layout + "/manifest.json", "w") as f:
    f.write(json.dumps(manifest, separators=(",", ":")))
PY
  chmod 0644 "$layout/manifest.json" "$layout/$config_hex.json" "$layout/$diff_id/layer.tar"
  contents=(manifest.json "$config_hex.json" "$diff_id")
fi
mkdir -p "$(dirname "$out")"
# Written beside OUT and renamed, so a reader never sees a half-written tarball.
tmp_out=$(mktemp "$(dirname "$out")/.build-test-image.XXXXXX")
tar -C "$layout" --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
  --format=gnu -cf "$tmp_out" "${contents[@]}"
chmod 0644 "$tmp_out"
mv "$tmp_out" "$out"
tmp_out=""
echo "build-test-image: wrote $out ($format, $ref, manifest sha256:$manifest_hex)" >&2
