#!/bin/bash
# Builds the Gantry guest image from Debian 13 (trixie) packages: kernel, initramfs, squashfs root
# with Docker 26.1, containerd 1.7 and QEMU's user-mode emulators for other CPUs' images.
#
#   vm-images/build.sh [--force] [--arch amd64|arm64]
#
# --arch (or GANTRY_GUEST_ARCH): the guest's CPU architecture, Debian's name; default this
# computer's (amd64 on a PC). An arm64 guest built on an amd64 computer runs its packages'
# maintainer scripts under QEMU's user-mode emulator (host packages qemu-user-static and
# arch-test; the emulator is registered with binfmt_misc for the build when it is not already).
#
# Output: ${GANTRY_IMAGE_CACHE:-$HOME/.cache/gantry/images}/<input-hash>/ (the hash covers the
# architecture) and the symlinks .../current-<arch> → <input-hash>, and .../current → <input-hash>
# for this computer's own architecture. Skipped when that directory exists and its SHA256SUMS
# verifies. Runs as root (mmdebstrap root mode, device nodes in the initramfs). See vm-images/README.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${GANTRY_IMAGE_CACHE:-$HOME/.cache/gantry/images}
SUITE=trixie
MIRRORS=(
  "deb http://deb.debian.org/debian $SUITE main"
  "deb http://deb.debian.org/debian $SUITE-updates main"
  "deb http://deb.debian.org/debian-security $SUITE-security main"
)
# Fixed build timestamp: file times in the image do not depend on when it was built.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1704067200}

FORCE=0
HOST_ARCH=$(dpkg --print-architecture 2>/dev/null || echo amd64)
ARCH=${GANTRY_GUEST_ARCH:-}
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
  --arch=*)
    ARCH=${1#--arch=}
    [ -n "$ARCH" ] || usage
    ;;
  --fetch-kernel) break ;; # internal: mmdebstrap customize hook, below
  *) usage ;;
  esac
  shift
done
case "${ARCH:=$HOST_ARCH}" in
amd64 | arm64) ;;
*)
  echo "build.sh: error: no guest image for architecture '$ARCH' (--arch amd64 or arm64)" >&2
  exit 2
  ;;
esac
# the kernel hook below runs as another process
export GANTRY_GUEST_ARCH=$ARCH

# Modules the initramfs loads to reach the root image (dependencies are added automatically).
INITRD_MODULES=(virtio_pci virtio_blk squashfs overlay qemu_fw_cfg)
# The kernel: Debian's generic flavour. The smaller cloud flavour has no 9p (CONFIG_NET_9P, 9P_FS),
# which the shared folders use.
KERNEL_PACKAGE=linux-image-$ARCH
# The serial console the kernel writes to: the PC's 16550 UART, virt's PL011 on arm64.
CONSOLE=ttyS0
# QEMU user-mode emulators kept from Debian's qemu-user (static binaries, registered with binfmt_misc
# at boot by stage2): linux/arm64 and linux/arm/v7 containers run on an amd64 host.
EMULATORS=(aarch64 arm)
# Module subtrees kept for this architecture only (below).
KEEP_MODULES_ARCH=()
if [ "$ARCH" = arm64 ]; then
  # QEMU's virt machine: virtio over PCI (built in) or MMIO; power button: virt's PL061 GPIO
  # (built in) pin seen by gpio-keys (no ACPI with a kernel booted directly).
  INITRD_MODULES=(virtio_pci virtio_mmio virtio_blk squashfs overlay qemu_fw_cfg)
  KEEP_MODULES_ARCH=(drivers/input/keyboard/gpio_keys.ko)
  CONSOLE=ttyAMA0
  # linux/amd64 containers; 32-bit arm ones run natively where the CPU can (Debian's qemu-user-binfmt
  # registers no qemu-arm on arm64)
  EMULATORS=(x86_64)
fi
# QEMU's name of the guest's CPU (qemu-<name>-static on the build host)
QEMU_CPU=$([ "$ARCH" = arm64 ] && echo aarch64 || echo x86_64)
# Module subtrees (below kernel/) kept in the root image; the rest of Debian's ~400 MB goes.
KEEP_MODULES=(
  arch crypto lib block
  fs/ext4 fs/jbd2 fs/mbcache.ko fs/overlayfs fs/squashfs fs/9p fs/fuse fs/netfs fs/fscache
  fs/binfmt_misc.ko fs/nls fs/autofs fs/isofs
  net/9p net/bridge net/core net/ipv4 net/ipv6 net/netfilter net/sched net/802 net/llc
  net/8021q net/packet net/unix net/vmw_vsock net/xfrm net/key net/sctp net/ipv6
  net/openvswitch net/nsh net/mpls net/wireguard net/tls
  drivers/virtio drivers/block/virtio_blk.ko drivers/block/loop.ko drivers/block/nbd.ko
  drivers/char/hw_random drivers/input/evdev.ko drivers/acpi/button.ko
  # qemu-ga's virtio-serial port (built into Debian's 6.12 kernels; kept should one make it a module)
  drivers/char/virtio_console.ko
  drivers/firmware/qemu_fw_cfg.ko drivers/md/dm-mod.ko drivers/md/dm-thin-pool.ko
  drivers/md/dm-bufio.ko drivers/md/dm-bio-prison.ko drivers/md/persistent-data
  drivers/net/virtio_net.ko drivers/net/net_failover.ko drivers/net/veth.ko drivers/net/tun.ko
  drivers/net/dummy.ko drivers/net/macvlan.ko drivers/net/ipvlan drivers/net/vxlan
  drivers/net/geneve.ko drivers/net/wireguard drivers/net/bonding drivers/net/vrf.ko
  drivers/net/tap.ko drivers/net/macvtap.ko drivers/net/netdevsim
)

# --- mmdebstrap customize hook: fetch the kernel package (without its initramfs-tools dependency)
if [ "${1:-}" = --fetch-kernel ]; then
  root=$2
  export APT_CONFIG=$MMDEBSTRAP_APT_CONFIG
  pkg=$(apt-cache depends "$KERNEL_PACKAGE" | sed -n "s/^ *Depends: \\(linux-image-[0-9][^ ]*-$ARCH\\)\$/\\1/p" | head -n 1)
  [ -n "$pkg" ] || {
    echo "cannot resolve $KERNEL_PACKAGE" >&2
    exit 1
  }
  ver=$(apt-cache show --no-all-versions "$pkg" | sed -n 's/^Version: //p' | head -n 1)
  archives=$root/var/cache/apt/archives
  deb=$archives/${pkg}_${ver//:/%3a}_$ARCH.deb
  if [ ! -s "$deb" ]; then
    (cd "$archives" && apt-get -q download "$pkg=$ver")
  fi
  printf '%s\n' "${deb##*/}" >"$GANTRY_WORK/kernel-deb"
  exit 0
fi

START=$(date +%s.%N)
step() {
  printf '[%6.1fs] %s\n' "$(echo "$(date +%s.%N) - $START" | bc)" "$*"
}
die() {
  echo "build.sh: error: $*" >&2
  exit 1
}

[ "$(id -u)" = 0 ] || die "run as root (mmdebstrap root mode, device nodes)"
for tool in mmdebstrap mksquashfs cpio sha256sum dpkg-deb bc flock gzip xz zstd; do
  command -v "$tool" >/dev/null || die "missing $tool (apt-get install mmdebstrap squashfs-tools cpio bc xz-utils zstd)"
done

# --- input hash: every file in vm-images/ that affects the output ------------------------------
INPUTS=(build.sh packages.txt daemon.json init/stage1.sh init/stage2.sh init/engine.sh init/gantry-init
  init/shares.sh init/suspend init/resume)
HASH=$(
  cd "$HERE"
  for f in "${INPUTS[@]}"; do
    printf '%s %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$f"
  done
  printf 'SOURCE_DATE_EPOCH=%s\n' "$SOURCE_DATE_EPOCH"
  printf 'arch=%s\n' "$ARCH"
) || die "cannot read inputs"
HASH=$(printf '%s\n' "$HASH" | sha256sum | cut -c1-16)
OUT=$CACHE/$HASH

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9

# current-<arch> names each architecture's image; current the one this computer runs natively
# (what gantry-machine looks for).
link_current() {
  ln -sfn "$HASH" "$CACHE/current-$ARCH"
  [ "$ARCH" != "$HOST_ARCH" ] || ln -sfn "$HASH" "$CACHE/current"
}

if [ "$FORCE" = 0 ] && [ -f "$OUT/SHA256SUMS" ] && (cd "$OUT" && sha256sum --quiet --strict -c SHA256SUMS); then
  link_current
  step "up to date: $OUT ($ARCH; SHA256SUMS verified; use --force to rebuild)"
  exit 0
fi

mapfile -t PACKAGES < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$HERE/packages.txt")
WORK=$CACHE/.work-$HASH
# downloaded packages, one directory per architecture
APTCACHE=$CACHE/apt-archives
[ "$ARCH" = amd64 ] || APTCACHE=$CACHE/apt-archives-$ARCH
BINFMT=/proc/sys/fs/binfmt_misc
BINFMT_ADDED=
BINFMT_MOUNTED=0
cleanup() {
  rm -rf "$WORK"
  # leave binfmt_misc as it was found
  [ -z "$BINFMT_ADDED" ] || echo -1 >"$BINFMT/$BINFMT_ADDED" || echo "build.sh: cannot remove $BINFMT/$BINFMT_ADDED" >&2
  [ "$BINFMT_MOUNTED" = 0 ] || umount "$BINFMT" || true
}
rm -rf "$WORK"
mkdir -p "$WORK" "$APTCACHE"
trap cleanup EXIT
ROOT=$WORK/root

# --- 0. a foreign guest: its programs run here under QEMU's user-mode emulator ----------------
# mmdebstrap runs the packages' maintainer scripts inside the new root, and the steps below run
# depmod, modprobe and dpkg there: an arm64 root on an amd64 computer needs the static emulator
# registered with binfmt_misc with flag F (the kernel opens the emulator when it is registered,
# so it works inside the chroot). Registered for this build when missing, removed after it.
if [ "$ARCH" != "$HOST_ARCH" ]; then
  emu=/usr/bin/qemu-$QEMU_CPU-static
  for tool in arch-test "$emu"; do
    command -v "$tool" >/dev/null ||
      die "missing $tool: building the $ARCH guest on $HOST_ARCH needs it (apt-get install qemu-user-static arch-test)"
  done
  if ! mountpoint -q "$BINFMT"; then
    mount -t binfmt_misc binfmt_misc "$BINFMT" ||
      die "cannot mount binfmt_misc at $BINFMT (needed to run $ARCH programs; in a container: run it privileged)"
    BINFMT_MOUNTED=1
  fi
  entry=$BINFMT/qemu-$QEMU_CPU
  if [ ! -e "$entry" ]; then
    # systemd's binfmt.d format, one line: ":name:type:offset:magic:mask:interpreter:flags"
    conf=/usr/lib/binfmt.d/qemu-$QEMU_CPU.conf
    [ -f "$conf" ] || die "$conf missing (qemu-user-static installed?)"
    line=$(grep -m 1 '^:' "$conf") || die "no registration line in $conf"
    # Debian names a wrapper link to the static emulator (/usr/libexec/qemu-binfmt/*-binfmt-P)
    [ "$(readlink -f "$(cut -d: -f7 <<<"$line")")" = "$emu" ] || die "$conf names another emulator than $emu: $line"
    printf '%s' "$line" >"$BINFMT/register" || die "cannot register $emu with binfmt_misc"
    BINFMT_ADDED=qemu-$QEMU_CPU
    step "binfmt_misc: registered $emu for this build"
  fi
  grep -qx enabled "$entry" || die "$entry is disabled (echo 1 >$entry)"
  grep -q '^flags: .*F' "$entry" ||
    die "$entry lacks flag F (an emulator outside the chroot cannot run in it): use qemu-user-static's registration"
  arch-test "$ARCH" >/dev/null || die "$ARCH programs do not run here although $entry is registered ('arch-test $ARCH')"
fi

# --- 1. root filesystem -----------------------------------------------------------------------
step "mmdebstrap $SUITE ($ARCH): ${PACKAGES[*]}"
export GANTRY_BUILD_SH=$HERE/build.sh GANTRY_WORK=$WORK
# qemu-user ships ~30 emulators (465 MB): dpkg unpacks only those in EMULATORS and their binfmt data
EMULATOR_FILTERS=(--dpkgopt='path-exclude=/usr/bin/qemu-*' --dpkgopt='path-exclude=/usr/libexec/qemu-binfmt/*'
  --dpkgopt='path-exclude=/usr/share/qemu/binfmt.d/*' --dpkgopt='path-exclude=/usr/lib/binfmt.d/qemu-*')
for e in "${EMULATORS[@]}"; do
  EMULATOR_FILTERS+=(--dpkgopt="path-include=/usr/bin/qemu-$e" --dpkgopt="path-include=/usr/libexec/qemu-binfmt/$e-binfmt-P"
    --dpkgopt="path-include=/usr/share/qemu/binfmt.d/qemu-$e.conf" --dpkgopt="path-include=/usr/lib/binfmt.d/qemu-$e.conf")
done
# shellcheck disable=SC2016 # the hooks' $1 and variables are expanded by mmdebstrap's shell
mmdebstrap --quiet --variant=essential --mode=root --architectures="$ARCH" \
  --include="$(
    IFS=,
    echo "${PACKAGES[*]}"
  )" \
  --aptopt='APT::Install-Recommends "false"' \
  --aptopt='Acquire::Retries "3"' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/lintian/*' \
  "${EMULATOR_FILTERS[@]}" \
  --skip=essential/unlink \
  --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
  --setup-hook="sync-in $APTCACHE /var/cache/apt/archives/" \
  --customize-hook='"$GANTRY_BUILD_SH" --fetch-kernel "$1"' \
  --customize-hook="sync-out /var/cache/apt/archives $APTCACHE" \
  "$SUITE" "$ROOT" "${MIRRORS[@]}"
# drop debs the cache no longer needs (superseded versions)
find "$APTCACHE" -name '*.deb' -mtime +30 -delete

# --- 2. kernel + modules --------------------------------------------------------------------
KDEB=$APTCACHE/$(cat "$WORK/kernel-deb")
[ -s "$KDEB" ] || die "kernel package missing: $KDEB"
step "kernel: $(basename "$KDEB")"
dpkg-deb -x "$KDEB" "$WORK/kernel"
# modules are in /usr/lib/modules from trixie on (merged /usr), /lib/modules before
KMODS=$WORK/kernel/usr/lib/modules
[ -d "$KMODS" ] || KMODS=$WORK/kernel/lib/modules
KVER=$(basename "$(ls -d "$KMODS/"*)")
KMOD=$KMODS/$KVER
mkdir -p "$ROOT/lib/modules/$KVER/kernel"
for p in "${KEEP_MODULES[@]}" "${KEEP_MODULES_ARCH[@]}"; do
  for f in "$KMOD/kernel/$p" "$KMOD/kernel/$p.xz" "$KMOD/kernel/$p.zst"; do
    [ -e "$f" ] || continue
    mkdir -p "$ROOT/lib/modules/$KVER/kernel/$(dirname "$p")"
    cp -a "$f" "$ROOT/lib/modules/$KVER/kernel/$(dirname "$p")/"
  done
done
# Debian compresses each module (xz); the squashfs compresses them anyway, and plain modules load
# faster and work with busybox's insmod in the initramfs.
find "$ROOT/lib/modules/$KVER" -name '*.ko.xz' -exec xz -d {} +
find "$ROOT/lib/modules/$KVER" -name '*.ko.zst' -exec zstd -q -d --rm {} +
sed -e 's/\.ko\.\(xz\|zst\)$/.ko/' "$KMOD/modules.order" >"$ROOT/lib/modules/$KVER/modules.order"
cp -a "$KMOD"/modules.builtin* "$ROOT/lib/modules/$KVER/"
chroot "$ROOT" depmod "$KVER"
step "modules: $(find "$ROOT/lib/modules/$KVER" -name '*.ko*' | wc -l) kept of $(find "$KMOD" -name '*.ko*' | wc -l), $(du -sh "$ROOT/lib/modules/$KVER" | cut -f1)"

# --- 3. root filesystem tweaks ----------------------------------------------------------------
install -D -m 0755 "$HERE/init/gantry-init" "$ROOT/sbin/gantry-init"
install -D -m 0755 "$HERE/init/stage2.sh" "$ROOT/usr/lib/gantry/stage2"
install -D -m 0644 "$HERE/init/engine.sh" "$ROOT/usr/lib/gantry/engine.sh"
install -D -m 0644 "$HERE/init/shares.sh" "$ROOT/usr/lib/gantry/shares.sh"
# run by the host through qemu-ga (guest-exec) around a save of the VM
install -D -m 0755 "$HERE/init/suspend" "$ROOT/usr/lib/gantry/suspend"
install -D -m 0755 "$HERE/init/resume" "$ROOT/usr/lib/gantry/resume"
[ -x "$ROOT/usr/sbin/qemu-ga" ] || die "qemu-ga missing in the root"
# qemu-ga's guest-set-time runs /sbin/hwclock -w (util-linux-extra's): busybox's does it; the
# clock (RTC) keeps UTC
[ -e "$ROOT/usr/sbin/hwclock" ] || ln -s /bin/busybox "$ROOT/usr/sbin/hwclock"
printf '0.0 0 0.0\n0\nUTC\n' >"$ROOT/etc/adjtime"
# iptables' legacy backend: dockerd runs iptables about 50 times as it starts, and under an
# emulated CPU each legacy run takes about half the time of an nf_tables one (in the guest, TCG:
# ten `iptables -t nat -C ...` 0.68 s vs 1.57 s). Nothing else in the guest sets firewall rules.
for t in iptables ip6tables; do
  chroot "$ROOT" update-alternatives --quiet --set "$t" "/usr/sbin/$t-legacy"
  [ "$(readlink "$ROOT/etc/alternatives/$t")" = "/usr/sbin/$t-legacy" ] || die "$t: the legacy backend is not selected"
done
[ -x "$ROOT/usr/bin/tini" ] || die "tini missing in the root"
# usrmerge and perl (not perl-base) if anything pulled them in: nothing in the guest runs them
# shellcheck disable=SC2016 # dpkg-query's format
mapfile -t PURGE < <(chroot "$ROOT" dpkg-query -W -f '${db:Status-Status} ${Package}\n' 2>/dev/null |
  awk '$1 == "installed" && $2 ~ /^(usrmerge|perl|libperl5\.[0-9]+|perl-modules-5\.[0-9]+|libgdbm-compat4t?6?4?|lib(file-find-rule|number-compare|text-glob)-perl)$/ { print $2 }')
[ "${#PURGE[@]}" -eq 0 ] || chroot "$ROOT" dpkg --purge "${PURGE[@]}" >/dev/null
# test tools and legacy shims nobody here runs (Go binaries): libnetwork's dnet and ovrouter,
# containerd's ctr, the v1 shims (dockerd uses io.containerd.runc.v2)
rm -f "$ROOT/usr/bin/dnet" "$ROOT/usr/sbin/ovrouter" "$ROOT/usr/bin/ctr" \
  "$ROOT/usr/bin/containerd-shim" "$ROOT/usr/bin/containerd-shim-runc-v1"
for e in "${EMULATORS[@]}"; do
  if [ ! -x "$ROOT/usr/bin/qemu-$e" ] || [ ! -f "$ROOT/usr/lib/binfmt.d/qemu-$e.conf" ]; then
    die "emulator qemu-$e or its binfmt data missing in the root"
  fi
done
# dockerd's settings: the containerd image store (multi-platform images and builds, as Docker
# Desktop); everything else is on the command line in stage2.
install -d "$ROOT/etc/docker"
install -m 0644 "$HERE/daemon.json" "$ROOT/etc/docker/daemon.json"
echo gantry >"$ROOT/etc/hostname"
: >"$ROOT/etc/machine-id"
: >"$ROOT/etc/fstab"
rm -rf "${ROOT:?}/boot" "$ROOT/tmp/"* "$ROOT/var/log/"* "$ROOT/var/cache/ldconfig/aux-cache" \
  "$ROOT/var/lib/apt/lists/"* "$ROOT/var/cache/apt/"*.bin "$ROOT/var/cache/debconf/"*-old
# shellcheck disable=SC2016 # dpkg-query's format, not a shell expansion
DOCKER_VER=$(chroot "$ROOT" dpkg-query -W -f '${Version}' docker.io)
# shellcheck disable=SC2016
QEMU_USER_VER=$(chroot "$ROOT" dpkg-query -W -f '${Version}' qemu-user)
# shellcheck disable=SC2016
CONTAINERD_VER=$(chroot "$ROOT" dpkg-query -W -f '${Version}' containerd)
KPKG_VER=$(dpkg-deb -f "$KDEB" Version)

# --- 4. initramfs ---------------------------------------------------------------------------
step "initramfs: busybox + ${INITRD_MODULES[*]}"
IRD=$WORK/initrd
mkdir -p "$IRD"/{bin,dev,proc,sys,mnt,newroot,lib/modules/"$KVER"}
cp "$ROOT/bin/busybox" "$IRD/bin/busybox"
install -m 0755 "$HERE/init/stage1.sh" "$IRD/init"
mknod -m 600 "$IRD/dev/console" c 5 1
mknod -m 666 "$IRD/dev/null" c 1 3
: >"$IRD/lib/modules/load.order"
for m in "${INITRD_MODULES[@]}"; do
  # "insmod /path/x.ko" lines in dependency order; "builtin x" lines need nothing
  chroot "$ROOT" modprobe -S "$KVER" --show-depends "$m" | sed -n 's/^insmod \([^ ]*\).*/\1/p'
done | awk '!seen[$0]++' | while read -r ko; do
  name=$(basename "$ko")
  cp "$ROOT$ko" "$IRD/lib/modules/$KVER/$name"
  echo "$name" >>"$IRD/lib/modules/load.order"
done
find "$IRD" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(cd "$IRD" && find . -print0 | LC_ALL=C sort -z |
  cpio --null --reproducible --quiet -o -H newc --owner=0:0 | gzip -9 -n) >"$WORK/initrd.img"

# --- 5. squashfs root -------------------------------------------------------------------------
step "squashfs (zstd)"
mksquashfs "$ROOT" "$WORK/rootfs.squashfs" -noappend -quiet -no-progress -comp zstd \
  -Xcompression-level 15 -b 1M \
  -processors "$(nproc)" >/dev/null

# --- 6. outputs -------------------------------------------------------------------------------
cp "$WORK/kernel/boot/vmlinuz-$KVER" "$WORK/vmlinuz"
echo "console=$CONSOLE panic=-1 quiet" >"$WORK/cmdline"
cat >"$WORK/VERSION" <<EOF
input_hash=$HASH
arch=$ARCH
suite=$SUITE
kernel=$KVER
kernel_package=$KPKG_VER
docker=$DOCKER_VER
containerd=$CONTAINERD_VER
qemu_user=$QEMU_USER_VER
emulators=${EMULATORS[*]}
source_date_epoch=$SOURCE_DATE_EPOCH
EOF
STAGE=$CACHE/.out-$HASH
rm -rf "$STAGE"
mkdir -p "$STAGE"
for f in vmlinuz initrd.img rootfs.squashfs cmdline VERSION; do
  mv "$WORK/$f" "$STAGE/$f"
  touch -d "@$SOURCE_DATE_EPOCH" "$STAGE/$f"
done
(cd "$STAGE" && sha256sum vmlinuz initrd.img rootfs.squashfs cmdline VERSION >SHA256SUMS)
rm -rf "$OUT"
mv "$STAGE" "$OUT"
link_current

step "done: $OUT ($ARCH)"
(cd "$OUT" && du -b vmlinuz initrd.img rootfs.squashfs | while read -r size f; do
  printf '  %-16s %6.1f MB\n' "$f" "$(echo "$size / 1048576" | bc -l)"
done)
printf '  %-16s %6.1f MB\n' total "$(echo "$(du -cb "$OUT/vmlinuz" "$OUT/initrd.img" "$OUT/rootfs.squashfs" | tail -n 1 | cut -f1) / 1048576" | bc -l)"
cat "$OUT/VERSION"
