#!/bin/bash
# What WSL 2 gives Gantry's two distributions, made on Linux for the wsl_guest test
# (crates/gantry-machine/tests/wsl_guest.rs; wsl.exe itself cannot run here). Runs as root in new
# mount, process and network namespaces (unshare --mount --pid --net --fork), as WSL 2 runs each
# distribution in its own mount and process namespace on one shared network:
#   harness.sh ENGINE_ROOT DATA_ROOT DATA_MOUNT WORK_DIR
# Each root gets /proc, /sys and /dev; the engine also the host's cgroup hierarchy (WSL mounts
# one); both share one tmpfs at /mnt/wsl (WSL's cross-distribution mount point). The data
# distribution's keep-alive (wsl-data DATA_MOUNT) gets an input that stays open until the engine's
# ends; the engine's (wsl-init DATA_MOUNT, under tini as WSL's init reaps orphans) gets this
# script's input: the start payload, then open until the test closes it.
set -euo pipefail
exec 2>&1
engine=$1 data=$2 data_mount=$3 work=$4
for root in "$engine" "$data"; do
  # a distribution's root is a mount of its own (runc's pivot_root needs that)
  mount --bind "$root" "$root"
  mount -t proc proc "$root/proc"
  mount -t sysfs sysfs "$root/sys"
  mount --rbind /dev "$root/dev"
done
mount --rbind /sys/fs/cgroup "$engine/sys/fs/cgroup"
# (WSL's network is up; the guest's own busybox, so the host needs no iproute2)
chroot "$engine" /bin/busybox ip link set lo up
mount -t tmpfs -o mode=0755 wsl-shared "$engine/mnt/wsl"
mount --make-shared "$engine/mnt/wsl"
mount --bind "$engine/mnt/wsl" "$data/mnt/wsl"
echo "harness: namespaces ready"

# binfmt_misc is the kernel's, not the namespaces': the engine registers its emulators in a
# stand-in directory (a plain register file) instead of this computer's
mkdir -p "$engine/run/test-binfmt"
: >"$engine/run/test-binfmt/register"
clean_env=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin)
rm -f "$work/data-input"
mkfifo "$work/data-input"
"${clean_env[@]}" chroot "$data" /usr/lib/gantry/wsl-data "$data_mount" <"$work/data-input" &
data_pid=$!
exec 3>"$work/data-input"

set +e
"${clean_env[@]}" GANTRY_BINFMT_DIR=/run/test-binfmt chroot "$engine" /usr/bin/tini -s -- /usr/lib/gantry/wsl-init "$data_mount" 3>&-
rc=$?
exec 3>&-
wait "$data_pid"
data_rc=$?
echo "harness: wsl-init exited $rc, wsl-data exited $data_rc"
[ "$rc" = 0 ] && [ "$data_rc" = 0 ]
