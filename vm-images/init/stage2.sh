#!/bin/sh
# Gantry guest init, stage 2: runs in the real root (squashfs + tmpfs overlay) under tini (PID 1,
# reaps orphans). Mounts, network, fw_cfg settings and TLS material, data disk, shared folders,
# containerd + dockerd, the guest agent (qemu-ga), then waits for the ACPI power button and shuts
# down cleanly.
# Contract (fw_cfg names, config keys, console lines): vm-images/README.md.
set -u
umask 022
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

FWCFG=/sys/firmware/qemu_fw_cfg/by_name/opt/gantry
STATE=/run/gantry
TLS=$STATE/tls
DATA=/var/lib/docker
CONTAINERD_STATE=/var/lib/containerd
DEBUG=${GANTRY_DEBUG:-0}
# dockerd's exits reach the main loop (section 9) through the power button's fifo
ENGINE_EXITS=$STATE/power
# console helpers, containerd + dockerd, dockerd's supervisor (shared with the WSL 2 init)
# shellcheck source=vm-images/init/engine.sh
. /usr/lib/gantry/engine.sh
# the shared folders' mounting (shared with the suspend and resume scripts)
# shellcheck source=vm-images/init/shares.sh
. /usr/lib/gantry/shares.sh

# The serial console the kernel command line names (console=ttyS0 on a PC, ttyAMA0 on arm64's virt).
console_tty() {
  tty=ttyS0
  read -r cmdline </proc/cmdline
  for arg in $cmdline; do
    case "$arg" in console=tty*) tty=${arg#console=} && tty=${tty%%,*} ;; esac
  done
  echo "$tty"
}

debug_shell() {
  tty=$(console_tty)
  echo "gantry-init: debug shell on $tty"
  setsid -c /bin/sh -i <"/dev/$tty" >"/dev/$tty" 2>&1
}

fail() {
  err "$*"
  if [ "$DEBUG" = 1 ]; then
    debug_shell
  fi
  shutdown_engine
  echo "gantry-init: power off"
  busybox poweroff -f
  exit 1
}

# The host's guest agent channel (qemu-ga on the virtio-serial port QEMU names
# org.qemu.guest_agent.0): the time after a restore, the suspend and resume scripts around a save.
# Only these RPCs; see vm-images/README.md.
AGENT_PORT=/dev/virtio-ports/org.qemu.guest_agent.0
AGENT_RPCS=guest-sync-delimited,guest-sync,guest-ping,guest-set-time,guest-exec,guest-exec-status,guest-info
AGENT_STATE=/run/qemu-ga

# udev's /dev/virtio-ports/NAME links to the virtio-serial ports (there is no udev here).
virtio_port_links() {
  for p in /sys/class/virtio-ports/vport*; do
    [ -r "$p/name" ] || continue
    name=
    read -r name <"$p/name" 2>/dev/null
    case "$name" in '' | . | .. | */*) continue ;; esac
    mkdir -p /dev/virtio-ports
    ln -sfn "../${p##*/}" "/dev/virtio-ports/$name"
  done
}

# start_agent: qemu-ga in the background when the host gave the VM its port (a line either way).
# Stopped by shutdown_engine's kill -TERM -1.
start_agent() {
  virtio_port_links
  if [ ! -e "$AGENT_PORT" ]; then
    log "agent: no virtio-serial port org.qemu.guest_agent.0; qemu-ga not started"
    return 0
  fi
  mkdir -p "$AGENT_STATE"
  qemu-ga --method=virtio-serial --path="$AGENT_PORT" --statedir="$AGENT_STATE" \
    --allow-rpcs="$AGENT_RPCS" </dev/null >>/var/log/qemu-ga.log 2>&1 &
  echo "$!" >"$AGENT_STATE/qemu-ga.pid"
  log "agent: qemu-ga on $AGENT_PORT (pid $!)"
}

shutdown_engine() {
  # dockerd's supervising subshell must not report this exit (nothing reads the fifo any more)
  : >"$STATE/stopping"
  stop_pid "$dockerd_pid" dockerd 30
  stop_pid "$containerd_pid" containerd 10
  # whatever is left (container shims, watchers): not PID 1, not us
  kill -TERM -1 2>/dev/null
  sleep 0.3
  kill -KILL -1 2>/dev/null
  sync
  if [ -f "$STATE/shares" ]; then
    while IFS=' ' read -r _ path; do
      umount "$path" 2>/dev/null || umount -l "$path" 2>/dev/null || err "shutdown: cannot unmount $path"
    done <"$STATE/shares"
  fi
  if mountpoint -q "$CONTAINERD_STATE"; then
    umount "$CONTAINERD_STATE" 2>/dev/null || umount -l "$CONTAINERD_STATE"
  fi
  if mountpoint -q "$DATA"; then
    if ! umount -R "$DATA" 2>/dev/null; then
      err "shutdown: cannot unmount $DATA, remounting read-only"
      mount -o remount,ro "$DATA" || err "shutdown: cannot remount $DATA read-only"
    fi
  fi
  sync
  log "shutdown: data disk unmounted"
}

# --- 1. base mounts -------------------------------------------------------------------------
mkdir -p /dev/pts /dev/shm /dev/mqueue /sys/fs/cgroup "$STATE" "$TLS"
mountpoint -q /dev/pts || mount -t devpts -o nosuid,noexec,gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mountpoint -q /dev/shm || mount -t tmpfs -o nosuid,nodev,mode=1777 shm /dev/shm
mountpoint -q /dev/mqueue || mount -t mqueue -o nosuid,nodev,noexec mqueue /dev/mqueue
mountpoint -q /sys/fs/cgroup || mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate cgroup2 /sys/fs/cgroup ||
  fail "mount: cgroup2"
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
[ -e /dev/stdin ] || ln -s /proc/self/fd/0 /dev/stdin
[ -e /dev/stdout ] || ln -s /proc/self/fd/1 /dev/stdout
[ -e /dev/stderr ] || ln -s /proc/self/fd/2 /dev/stderr
[ -e /dev/ptmx ] || ln -s pts/ptmx /dev/ptmx
chmod 1777 /tmp
# delegate every available controller to child cgroups (docker's cgroupfs driver)
ctrls=
read -r available </sys/fs/cgroup/cgroup.controllers
for c in $available; do
  ctrls="$ctrls +$c"
done
[ -z "$ctrls" ] || echo "$ctrls" >/sys/fs/cgroup/cgroup.subtree_control || err "cgroup: cannot enable controllers"
hostname gantry
log "stage2: mounts done (root $GANTRY_ROOTDEV)"

# --- 2. modules (the kernel autoloads most netfilter bits; these it does not, or not early) ------
# iptables is the legacy backend (build.sh): dockerd's rules need no nf_tables modules; a
# container that uses nftables has them autoloaded.
MODULES="virtio_net virtio_rng virtio_balloon virtio_console 9p 9pnet_virtio ext4 button evdev overlay
br_netfilter bridge veth nf_conntrack nf_nat iptable_nat iptable_filter xt_MASQUERADE xt_addrtype xt_conntrack"
# arm64 (QEMU's virt, kernel booted without ACPI): the power button is a GPIO line (gpio-keys)
[ "$(uname -m)" != aarch64 ] || MODULES="$MODULES gpio_keys"
# one modprobe process for all (each start costs ~0.3 s under TCG); report the ones missing
# shellcheck disable=SC2086
if ! modprobe -a -q $MODULES; then
  for m in $MODULES; do
    [ -d "/sys/module/$m" ] || err "modules: cannot load $m"
  done
fi
for s in net/ipv4/ip_forward net/bridge/bridge-nf-call-iptables net/bridge/bridge-nf-call-ip6tables; do
  echo 1 >"/proc/sys/$s" || err "sysctl: cannot set $s"
done
log "modules: loaded"

# --- binfmt_misc: QEMU's user-mode emulators run other CPU architectures' containers ------------
gantry_register_binfmt || true

# --- 3. network: QEMU user networking -------------------------------------------------------
ifc=eth0
if [ ! -e /sys/class/net/eth0 ]; then
  ifc=
  for n in /sys/class/net/*; do
    case "${n##*/}" in lo) ;; *) ifc=${n##*/} && break ;; esac
  done
fi
busybox ip link set lo up
if [ -n "$ifc" ]; then
  if ! { busybox ip link set "$ifc" up &&
    busybox ip addr add 10.0.2.15/24 dev "$ifc" &&
    busybox ip route add default via 10.0.2.2; }; then
    err "network: cannot configure $ifc"
  fi
  log "network: $ifc 10.0.2.15/24 gw 10.0.2.2 dns 10.0.2.3"
else
  err "network: no network interface"
fi
printf 'nameserver 10.0.2.3\n' >/etc/resolv.conf
printf '127.0.0.1\tlocalhost\n127.0.1.1\tgantry\n::1\tlocalhost ip6-localhost ip6-loopback\n' >/etc/hosts

# --- 4. settings from fw_cfg (parsed, never executed) ---------------------------------------
valid_share_path() {
  case "$1" in /*) ;; *) return 1 ;; esac
  case "$1/" in */../* | */./*) return 1 ;; esac
  case "$1" in
  / | /proc | /proc/* | /sys | /sys/* | /dev | /dev/* | /run | /run/* | \
    /var/lib/docker | /var/lib/docker/* | /var/lib/containerd | /var/lib/containerd/*) return 1 ;;
  esac
  return 0
}

add_share() { # tag path
  if valid_share_path "$2"; then
    printf '%s %s\n' "$1" "$2" >>"$STATE/shares.wanted"
  else
    err "config: refusing share path for $1: $2"
  fi
}

: >"$STATE/shares.wanted"
if [ -r "$FWCFG/config/raw" ]; then
  cr=$(printf '\r')
  shares_list=
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%"$cr"}
    case "$line" in '' | '#'*) continue ;; esac
    case "$line" in
    *=*) ;;
    *)
      err "config: ignoring line without '='"
      continue
      ;;
    esac
    key=${line%%=*}
    val=${line#*=}
    case "$key" in
    SHARES) shares_list=$val ;;
    DOCKERD_PORT | engine_port)
      case "$val" in
      '' | *[!0-9]*) fail "config: $key is not a port number: $val" ;;
      esac
      if ! { [ "${#val}" -le 5 ] && [ "$val" -ge 1 ] && [ "$val" -le 65535 ]; }; then
        fail "config: $key out of range: $val"
      fi
      PORT=$val
      ;;
    share[0-9] | share[0-9][0-9])
      add_share "$key" "$val"
      ;;
    hide[0-9] | hide[0-9][0-9])
      # a folder inside a share the guest must not see (Gantry's own directory)
      case "$val" in /*) printf '%s\n' "$val" >>"$STATE/hidden" ;; *) err "config: $key is not absolute" ;; esac
      ;;
    *) log "config: ignoring unknown key $key" ;;
    esac
  done <"$FWCFG/config/raw"
  if [ -n "$shares_list" ]; then
    n=0
    set -f
    old_ifs=$IFS
    IFS=:
    for p in $shares_list; do
      IFS=$old_ifs
      [ -n "$p" ] || continue
      add_share "share$n" "$p"
      n=$((n + 1))
    done
    IFS=$old_ifs
    set +f
  fi
  log "config: dockerd port $PORT, $(wc -l <"$STATE/shares.wanted") share(s)"
else
  log "config: none in fw_cfg, defaults"
fi

for f in ca.pem server-key.pem; do
  [ -r "$FWCFG/$f/raw" ] || fail "tls: fw_cfg opt/gantry/$f missing"
done
cert=$FWCFG/server-cert.pem/raw
[ -r "$cert" ] || cert=$FWCFG/server.pem/raw
[ -r "$cert" ] || fail "tls: fw_cfg opt/gantry/server-cert.pem missing"
(umask 077 && cat "$FWCFG/ca.pem/raw" >"$TLS/ca.pem" && cat "$cert" >"$TLS/server-cert.pem" &&
  cat "$FWCFG/server-key.pem/raw" >"$TLS/server-key.pem") || fail "tls: cannot read fw_cfg files"
for f in ca.pem server-cert.pem server-key.pem; do
  [ -s "$TLS/$f" ] || fail "tls: $f is empty"
done
log "tls: loaded"

# --- 5. data disk -----------------------------------------------------------------------------
datadev=
for b in /sys/block/vd*; do
  [ -e "$b" ] || continue
  [ "/dev/${b##*/}" = "$GANTRY_ROOTDEV" ] && continue
  datadev=/dev/${b##*/}
  break
done
[ -n "$datadev" ] || fail "data: no virtio data disk (attach a qcow2 disk after the root image)"
fstype=$(blkid -p -o value -s TYPE "$datadev" 2>/dev/null || true)
pttype=$(blkid -p -o value -s PTTYPE "$datadev" 2>/dev/null || true)
if [ -z "$fstype" ] && [ -z "$pttype" ]; then
  log "data: $datadev is blank, formatting ext4"
  mkfs.ext4 -q -F -L gantry-data -m 0 -E nodiscard,lazy_itable_init=1,lazy_journal_init=1 "$datadev" ||
    fail "data: mkfs.ext4 $datadev failed"
  fstype=ext4
fi
[ "$fstype" = ext4 ] || fail "data: $datadev holds '${fstype:-$pttype}', not ext4; refusing to touch it"
e2fsck -p "$datadev" >/dev/null 2>&1
rc=$?
[ "$rc" -lt 4 ] || err "data: e2fsck $datadev exited $rc"
mkdir -p "$DATA" "$CONTAINERD_STATE"
# discard: blocks a deleted image or container frees are discarded at once; the host's qcow2
# file punches them out (QEMU's discard=unmap), so deleting gives this computer its space back.
mount -t ext4 -o noatime,discard "$datadev" "$DATA" || fail "data: cannot mount $datadev at $DATA"
# what was freed before (a disk an older image mounted without discard) is given back, once
if [ ! -e "$DATA/.gantry-discard" ]; then
  (
    if trimmed=$(fstrim -v "$DATA" 2>&1); then
      : >"$DATA/.gantry-discard"
      log "data: $trimmed"
    else
      err "data: fstrim: $trimmed"
    fi
  ) &
fi
mkdir -p "$DATA/gantry-containerd"
mount --bind "$DATA/gantry-containerd" "$CONTAINERD_STATE" || fail "data: cannot bind $CONTAINERD_STATE"
log "data: $datadev mounted at $DATA ($(df -h "$DATA" | tail -n 1 | tr -s ' ' | cut -d' ' -f2) total)"

# --- 6. shared folders (virtio-9p), then the folders they must not show (shares.sh) -----------
gantry_mount_shares "$STATE/shares.wanted" || true
gantry_hide "$STATE/hidden" || true

# --- 7. power button watcher --------------------------------------------------------------------
mkfifo "$STATE/power"
watchers=0
for ev in /sys/class/input/event*; do
  [ -e "$ev/device/name" ] || continue
  # ACPI's "Power Button" (PC), gpio-keys (arm64's virt: its only key is the power key)
  case "$(cat "$ev/device/name")" in
  *"Power Button"* | gpio-keys)
    dev=/dev/input/${ev##*/}
    # an evdev read must be at least one struct input_event (24 bytes on 64-bit)
    (dd if="$dev" of=/dev/null bs=24 count=1 2>/dev/null && echo power >"$STATE/power") &
    watchers=$((watchers + 1))
    ;;
  esac
done
[ "$watchers" -gt 0 ] || err "power: no power button input device; QMP system_powerdown will not work"

# --- 8. containerd, dockerd -------------------------------------------------------------------
gantry_start_engine 10.0.2.15 || fail "engine: not started"

# Ports published on the guest's loopback (`-p 127.0.0.1:5432:5432`, as compose files often say:
# on Docker Desktop that address means the user's computer) must answer through the host's
# forward, which reaches the guest at eth0's address. Connections there that dockerd's own rules
# (ports published on every address) did not take go to the loopback, where docker-proxy
# listens; the engine's TLS port is left alone. Appended after dockerd's PREROUTING jump.
if [ -n "$ifc" ]; then
  if echo 1 >"/proc/sys/net/ipv4/conf/$ifc/route_localnet" &&
    iptables -t nat -A PREROUTING -i "$ifc" -d 10.0.2.15/32 -p tcp ! --dport "$PORT" \
      -j DNAT --to-destination 127.0.0.1; then
    log "network: ports published on 127.0.0.1 answer through the forward"
  else
    err "network: cannot route forwarded connections to ports published on 127.0.0.1"
  fi
fi
echo "gantry-init: engine ready"
start_agent

if [ "$DEBUG" = 1 ]; then
  debug_shell &
fi

# --- 9. wait for the power button, then stop cleanly ------------------------------------------
# dockerd exiting on its own (a crash, the kernel's OOM killer) is not the end of the VM: the
# console says how it ended and why (the end of its log), and it is started again, at most
# DOCKERD_RESTARTS times (engine.sh); its containers come back per their restart policies.
while :; do
  req=
  read -r req <"$STATE/power" || true
  case "$req" in
  power) break ;;
  "dockerd "*) gantry_dockerd_exited "${req#dockerd }" 10.0.2.15 || true ;;
  esac
done
echo "gantry-init: power button"
shutdown_engine
echo "gantry-init: shutdown complete"
echo "gantry-init: power off"
busybox poweroff -f
