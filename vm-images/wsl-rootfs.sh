#!/bin/bash
# Writes the WSL 2 root filesystems Gantry's WSL 2 driver imports, from a guest image that
# vm-images/build.sh built (the same root: the same Debian packages, Docker engine and containerd):
#
#   vm-images/wsl-rootfs.sh [--force] [--arch amd64|arm64]
#
# Output, next to the image in the cache (${GANTRY_IMAGE_CACHE:-$HOME/.cache/gantry/images}/
# <image-hash>/wsl/, reached through current-<arch>/wsl):
#   wsl-rootfs.tar.gz  the engine distribution: the image's root without the kernel modules (WSL
#                      runs Microsoft's kernel), plus /usr/lib/gantry/{wsl-init,engine.sh,payload.sh}
#                      and /etc/wsl.conf (no Windows interop, no systemd)
#   wsl-data.tar.gz    the data distribution (images, containers, volumes; kept across upgrades):
#                      the image's static busybox, /usr/lib/gantry/wsl-data and its marker
#   VERSION            wsl_version=<hash of the image and this script's inputs> (the driver
#                      replaces the engine distribution when it changes), image=<image hash>, arch
#   SHA256SUMS         over the two tarballs and VERSION (the Windows installer checks them)
# Skipped when that directory's VERSION and SHA256SUMS match. A separate step (not in build.sh)
# so that the QEMU image's input hash does not change with the WSL init. Runs as root (the root
# filesystem's owners and device nodes). See docs/windows.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${GANTRY_IMAGE_CACHE:-$HOME/.cache/gantry/images}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1704067200}
FORCE=0
ARCH=${GANTRY_GUEST_ARCH:-$(dpkg --print-architecture 2>/dev/null || echo amd64)}
usage() {
  echo "usage: $0 [--force] [--arch amd64|arm64]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
  --force) FORCE=1 ;;
  --arch)
    if [ $# -lt 2 ] || [ -z "$2" ]; then usage; fi
    ARCH=$2
    shift
    ;;
  --arch=*) ARCH=${1#--arch=} ;;
  *) usage ;;
  esac
  shift
done
die() {
  echo "wsl-rootfs.sh: error: $*" >&2
  exit 1
}
START=$(date +%s)
step() {
  echo "[$(($(date +%s) - START))s] $*"
}

[ "$(id -u)" = 0 ] || die "run as root (the root filesystem's owners and device nodes)"
for tool in unsquashfs tar gzip sha256sum flock; do
  command -v "$tool" >/dev/null || die "missing $tool (apt-get install squashfs-tools tar gzip)"
done
IMAGE=$CACHE/current-$ARCH
[ -f "$IMAGE/rootfs.squashfs" ] || die "no $ARCH guest image in $CACHE: run vm-images/build.sh --arch $ARCH first"
IMAGE=$(cd "$IMAGE" && pwd -P)

# The files that end up in the tarballs, besides the image.
INPUTS=(wsl-rootfs.sh init/wsl-init init/wsl-data init/engine.sh init/payload.sh)
WSL_CONF='# Gantry: the engine distribution runs no Windows programs and no systemd; wsl-init starts
# the engine (vm-images/init/wsl-init).
[boot]
systemd=false
[interop]
enabled=false
appendWindowsPath=false
[user]
default=root
'
DATA_WSL_CONF='# Gantry: the data distribution (images, containers, volumes) only lends its disk to the engine.
[boot]
systemd=false
[automount]
enabled=false
[interop]
enabled=false
appendWindowsPath=false
[user]
default=root
'

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
# the image, verified (build.sh's SHA256SUMS) and named by its input hash
(cd "$IMAGE" && sha256sum --quiet --strict -c SHA256SUMS) || die "$IMAGE does not verify against its SHA256SUMS: rebuild it (vm-images/build.sh --force)"
IMAGE_HASH=$(sed -n 's/^input_hash=//p' "$IMAGE/VERSION")
[ -n "$IMAGE_HASH" ] || die "$IMAGE/VERSION names no input_hash"
WSL_VERSION=$(
  cd "$HERE"
  printf 'image=%s\n' "$IMAGE_HASH"
  for f in "${INPUTS[@]}"; do printf '%s %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$f"; done
  printf '%s' "$WSL_CONF$DATA_WSL_CONF" | sha256sum
  printf 'SOURCE_DATE_EPOCH=%s\n' "$SOURCE_DATE_EPOCH"
) || die "cannot read inputs"
WSL_VERSION=$(printf '%s\n' "$WSL_VERSION" | sha256sum | cut -c1-16)
OUT=$IMAGE/wsl

if [ "$FORCE" = 0 ] && [ -f "$OUT/SHA256SUMS" ] && grep -qx "wsl_version=$WSL_VERSION" "$OUT/VERSION" 2>/dev/null &&
  (cd "$OUT" && sha256sum --quiet --strict -c SHA256SUMS); then
  step "up to date: $OUT (wsl_version $WSL_VERSION; SHA256SUMS verified; use --force to rebuild)"
  exit 0
fi

WORK=$CACHE/.wsl-work-$WSL_VERSION
STAGE=$IMAGE/.wsl-out
trap 'rm -rf "$WORK" "$STAGE"' EXIT
rm -rf "$WORK" "$STAGE"
mkdir -p "$WORK" "$STAGE"

# A reproducible tarball of DIR's content (./...; fixed times, numeric owners).
pack() {
  tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --numeric-owner --format=gnu -C "$1" -cf - . | gzip -6 -n >"$2"
}

# --- the engine distribution ----------------------------------------------------------------
ROOT=$WORK/engine
step "engine root from $IMAGE/rootfs.squashfs"
unsquashfs -q -n -d "$ROOT" "$IMAGE/rootfs.squashfs" >/dev/null
# WSL runs its own kernel: Debian's modules would be dead weight; WSL writes resolv.conf and
# hosts itself (the build computer's resolver must not travel)
rm -rf "$ROOT/usr/lib/modules" "$ROOT/lib/modules"
rm -f "$ROOT/etc/resolv.conf" "$ROOT/etc/hosts"
install -D -m 0755 "$HERE/init/wsl-init" "$ROOT/usr/lib/gantry/wsl-init"
install -m 0644 "$HERE/init/engine.sh" "$HERE/init/payload.sh" "$ROOT/usr/lib/gantry/"
printf '%s' "$WSL_CONF" >"$ROOT/etc/wsl.conf"
mkdir -p "$ROOT/mnt/wsl"
step "wsl-rootfs.tar.gz"
pack "$ROOT" "$STAGE/wsl-rootfs.tar.gz"

# --- the data distribution: busybox, its keep-alive and the marker wsl-init checks -----------
DATA=$WORK/data
BUSYBOX=$ROOT/usr/bin/busybox
[ -f "$BUSYBOX" ] || BUSYBOX=$ROOT/bin/busybox
[ -f "$BUSYBOX" ] || die "no busybox in the image's root"
mkdir -p "$DATA"/{bin,etc,dev,proc,sys,run,tmp,root,mnt/wsl,usr/lib/gantry,var/lib/docker,var/lib/containerd}
chmod 1777 "$DATA/tmp"
chmod 0700 "$DATA/root"
install -m 0755 "$BUSYBOX" "$DATA/bin/busybox"
ln -s busybox "$DATA/bin/sh"
install -m 0755 "$HERE/init/wsl-data" "$DATA/usr/lib/gantry/wsl-data"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$DATA/etc/passwd"
printf 'root:x:0:\n' >"$DATA/etc/group"
printf '%s' "$DATA_WSL_CONF" >"$DATA/etc/wsl.conf"
# wsl-init puts the engine's data only on a root that carries this marker
printf 'gantry-data 1\n' >"$DATA/etc/gantry-data"
step "wsl-data.tar.gz"
pack "$DATA" "$STAGE/wsl-data.tar.gz"

cat >"$STAGE/VERSION" <<EOF
wsl_version=$WSL_VERSION
image=$IMAGE_HASH
arch=$ARCH
source_date_epoch=$SOURCE_DATE_EPOCH
EOF
(cd "$STAGE" && sha256sum wsl-rootfs.tar.gz wsl-data.tar.gz VERSION >SHA256SUMS)
rm -rf "$OUT"
mv "$STAGE" "$OUT"
step "done: $OUT"
(cd "$OUT" && du -b wsl-rootfs.tar.gz wsl-data.tar.gz | while read -r size f; do
  printf '  %-18s %6.1f MB\n' "$f" "$(echo "$size / 1048576" | bc -l)"
done)
