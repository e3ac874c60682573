#!/bin/busybox sh
# Gantry guest init, stage 1: PID 1 in the initramfs (busybox-static only).
# Loads the few modules needed to find the root, mounts the squashfs root image read-only with a
# tmpfs overlay on top, and switch_roots into it; /sbin/gantry-init (stage 2) does the rest.
# Contract: vm-images/README.md.
# shellcheck shell=sh

/bin/busybox --install -s /bin
PATH=/bin
export PATH

mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev

if [ -c /dev/ttyS0 ] && [ ! -t 1 ]; then
  exec </dev/console >/dev/console 2>&1
fi

uptime_s() {
  read -r up _ </proc/uptime
  echo "$up"
}

log() {
  echo "gantry-init: $* [$(uptime_s)s]"
}

DEBUG=0
read -r cmdline </proc/cmdline
for arg in $cmdline; do
  case "$arg" in
  gantry.debug=1) DEBUG=1 ;;
  esac
done
export GANTRY_DEBUG="$DEBUG"

fail() {
  echo "gantry-init: error: $*"
  if [ "$DEBUG" = 1 ]; then
    echo "gantry-init: debug shell (exit to power off)"
    setsid cttyhack sh
  fi
  sync
  poweroff -f
}

log "stage1: $(uname -r)"

# Modules, in dependency order (written by build.sh); built-ins are skipped.
kver=$(uname -r)
while read -r ko; do
  [ -n "$ko" ] || continue
  name=${ko##*/}
  name=${name%.ko}
  [ -d "/sys/module/$(echo "$name" | tr - _)" ] && continue
  insmod "/lib/modules/$kver/$ko" || echo "gantry-init: error: insmod $name failed"
done </lib/modules/load.order
log "modules: loaded"

# The root image: the virtio disk whose first bytes are the squashfs magic "hsqs".
rootdev=
i=0
while [ "$i" -lt 100 ]; do
  for b in /sys/block/vd*; do
    [ -e "$b" ] || continue
    dev=/dev/${b##*/}
    [ -b "$dev" ] || continue
    if [ "$(head -c 4 "$dev" 2>/dev/null)" = hsqs ]; then
      rootdev=$dev
      break 2
    fi
  done
  sleep 0.1
  i=$((i + 1))
done
[ -n "$rootdev" ] || fail "root: no virtio disk holds a squashfs root image (attach rootfs.squashfs read-only)"
log "root: $rootdev"

mkdir -p /mnt/ro /mnt/rw /newroot
mount -t squashfs -o ro "$rootdev" /mnt/ro || fail "root: cannot mount squashfs from $rootdev"
mount -t tmpfs -o mode=0755 tmpfs /mnt/rw || fail "root: cannot mount tmpfs"
mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay -o lowerdir=/mnt/ro,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work overlay /newroot ||
  fail "root: cannot mount overlay"
[ -x /newroot/sbin/gantry-init ] || fail "root: /sbin/gantry-init missing in the root image"

mkdir -p /newroot/run/gantry/ro /newroot/run/gantry/rw
mount --move /mnt/ro /newroot/run/gantry/ro
mount --move /mnt/rw /newroot/run/gantry/rw
for m in dev proc sys; do
  mount --move "/$m" "/newroot/$m"
done

export GANTRY_ROOTDEV="$rootdev"
echo "gantry-init: stage1: switch_root [$(cut -d' ' -f1 /newroot/proc/uptime)s]"
exec switch_root /newroot /sbin/gantry-init
