#!/bin/bash
# Boot smoke test of the guest image built by vm-images/build.sh.
#
#   vm-images/boot-smoke.sh [--quick] [IMAGE_DIR]
#
# Boots the image under QEMU (TCG unless SMOKE_ACCEL says otherwise; the emulator and machine of
# the image's architecture, VERSION's arch=: amd64 on q35, arm64 on virt) with a fresh qcow2 data
# disk, TLS material made with openssl for this run only, and a 9p shared folder; waits for
# "gantry-init: engine ready", then over mutual TLS: docker version, docker info, docker import of
# a busybox rootfs, docker run reading a file from the shared folder. Powers off with QMP
# system_powerdown and checks QEMU exits by itself after the clean-shutdown lines. Without --quick
# it boots a second time on the same disk and checks the imported image persisted. The busybox
# imported is the guest's CPU's: /bin/busybox for amd64, SMOKE_BUSYBOX (default Debian's arm64
# build that scripts/lib/fixtures.sh fetches) for arm64.
set -euo pipefail

QUICK=0
if [ "${1:-}" = --quick ]; then
  QUICK=1
  shift
fi
CACHE=${GANTRY_IMAGE_CACHE:-$HOME/.cache/gantry/images}
IMG=${1:-$CACHE/current}
BOOT_TIMEOUT=${SMOKE_BOOT_TIMEOUT:-300}
POWER_TIMEOUT=${SMOKE_POWER_TIMEOUT:-90}
ACCEL=${SMOKE_ACCEL:-tcg,thread=single,tb-size=64}
ARCH=$(sed -n 's/^arch=//p' "$IMG/VERSION" 2>/dev/null || true)
case ${ARCH:=amd64} in
amd64)
  QEMU=${QEMU:-qemu-system-x86_64}
  MACHINE=(-machine q35 -cpu 'max,la57=off')
  BUSYBOX=${SMOKE_BUSYBOX:-$(command -v busybox || echo /bin/busybox)}
  ;;
arm64)
  QEMU=${QEMU:-qemu-system-aarch64}
  MACHINE=(-machine 'virt,gic-version=max' -cpu 'max,pauth-impdef=on')
  BUSYBOX=${SMOKE_BUSYBOX:-${GANTRY_FIXTURE_CACHE:-$HOME/.cache/gantry/fixtures}/arm64/bin/busybox}
  ;;
*)
  echo "boot-smoke.sh: no QEMU machine for an image of architecture '$ARCH'" >&2
  exit 1
  ;;
esac

T0=$(date +%s.%N)
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc | xargs printf '%.1f'; }
say() { printf '[%6.1fs] %s\n' "$(since "$T0")" "$*"; }
die() {
  say "FAIL: $*"
  exit 1
}

for f in vmlinuz initrd.img rootfs.squashfs; do
  [ -f "$IMG/$f" ] || die "missing $IMG/$f (run vm-images/build.sh)"
done
for tool in "$QEMU" qemu-img openssl docker python3 bc busybox; do
  command -v "$tool" >/dev/null || die "missing $tool"
done
[ -f "$BUSYBOX" ] || die "missing $BUSYBOX, a static busybox for $ARCH (set SMOKE_BUSYBOX)"
CMDLINE=$(cat "$IMG/cmdline" 2>/dev/null || echo "console=ttyS0 panic=-1 quiet")

TMP=$(mktemp -d /tmp/gantry-smoke.XXXXXX)
QPID=
cleanup() {
  if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
    kill "$QPID" 2>/dev/null || true
    wait "$QPID" 2>/dev/null || true
  fi
  if [ "${SMOKE_KEEP:-0}" = 1 ]; then
    echo "kept $TMP"
  else
    rm -rf "$TMP"
  fi
}
trap cleanup EXIT

# --- TLS material for this run only (EC P-256: fast) --------------------------------------------
say "tls: CA, server and client certificates in $TMP/tls"
mkdir -p "$TMP/tls" "$TMP/client" "$TMP/share" "$TMP/docker-config"
(
  cd "$TMP/tls"
  openssl ecparam -name prime256v1 -genkey -noout -out ca-key.pem
  openssl req -x509 -new -key ca-key.pem -sha256 -days 2 -subj "/CN=gantry-smoke-ca" -out ca.pem
  openssl ecparam -name prime256v1 -genkey -noout -out server-key.pem
  openssl req -new -key server-key.pem -subj "/CN=gantry-engine" -out server.csr
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 -sha256 \
    -extfile server.ext -out server-cert.pem
  openssl ecparam -name prime256v1 -genkey -noout -out client-key.pem
  openssl req -new -key client-key.pem -subj "/CN=gantry-client" -out client.csr
  printf 'extendedKeyUsage=clientAuth\n' >client.ext
  openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 -sha256 \
    -extfile client.ext -out client-cert.pem
) 2>"$TMP/openssl.log" || die "openssl (see $TMP/openssl.log)"
cp "$TMP/tls/ca.pem" "$TMP/client/ca.pem"
cp "$TMP/tls/client-cert.pem" "$TMP/client/cert.pem"
cp "$TMP/tls/client-key.pem" "$TMP/client/key.pem"
printf '# gantry guest config (smoke test)\nSHARES=%s\nDOCKERD_PORT=2376\n' "$TMP/share" >"$TMP/config"
echo "hello from the host $$" >"$TMP/share/hello.txt"
qemu-img create -q -f qcow2 "$TMP/disk.qcow2" 20G

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export DOCKER_HOST=tcp://127.0.0.1:$PORT DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=$TMP/client
export DOCKER_CONFIG=$TMP/docker-config
unset DOCKER_CONTEXT

qmp() { # one QMP command, prints the reply
  python3 - "$TMP/qmp.sock" "$1" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])
f = s.makefile("rw")
def cmd(c):
    f.write(json.dumps({"execute": c}) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            return r
json.loads(f.readline())  # greeting
cmd("qmp_capabilities")
print(json.dumps(cmd(sys.argv[2])))
EOF
}

boot() { # $1: boot number
  local log=$TMP/console-$1.log
  : >"$log"
  say "boot $1: starting $QEMU ($ARCH, accel $ACCEL), engine port 127.0.0.1:$PORT"
  "$QEMU" -name gantry-smoke "${MACHINE[@]}" -nodefaults -no-user-config -nographic -monitor none \
    -accel "$ACCEL" -m 2048 -smp 2 \
    -kernel "$IMG/vmlinuz" -initrd "$IMG/initrd.img" -append "$CMDLINE" \
    -drive "if=virtio,format=raw,readonly=on,file=$IMG/rootfs.squashfs" \
    -drive "if=virtio,format=qcow2,discard=unmap,cache=writeback,file=$TMP/disk.qcow2" \
    -netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$PORT-:2376" -device virtio-net-pci,netdev=net0 \
    -virtfs "local,path=$TMP/share,mount_tag=share0,security_model=none,id=share0" \
    -fw_cfg "name=opt/gantry/ca.pem,file=$TMP/tls/ca.pem" \
    -fw_cfg "name=opt/gantry/server-cert.pem,file=$TMP/tls/server-cert.pem" \
    -fw_cfg "name=opt/gantry/server-key.pem,file=$TMP/tls/server-key.pem" \
    -fw_cfg "name=opt/gantry/config,file=$TMP/config" \
    -serial "file:$log" -qmp "unix:$TMP/qmp.sock,server=on,wait=off" \
    -device virtio-rng-pci -no-reboot \
    </dev/null >"$TMP/qemu-$1.log" 2>&1 &
  QPID=$!
  local t
  t=$(now)
  while ! grep -q '^gantry-init: engine ready' "$log"; do
    if ! kill -0 "$QPID" 2>/dev/null; then
      tail -n 30 "$log"
      cat "$TMP/qemu-$1.log"
      die "boot $1: QEMU exited before engine ready"
    fi
    if [ "$(echo "$(since "$t") > $BOOT_TIMEOUT" | bc)" = 1 ]; then
      tail -n 30 "$log"
      die "boot $1: no 'gantry-init: engine ready' within ${BOOT_TIMEOUT}s"
    fi
    sleep 0.2
  done
  BOOT_SECS=$(since "$t")
  say "boot $1: engine ready ${BOOT_SECS}s after QEMU start"
  sed -n 's/^.*\(gantry-init: .*\)/    \1/p' "$log" | tr -d '\r'
  if grep -q '^gantry-init: error' "$log"; then
    die "boot $1: the init reported errors"
  fi
}

powerdown() { # $1: boot number
  local log=$TMP/console-$1.log t
  t=$(now)
  say "boot $1: QMP system_powerdown"
  qmp system_powerdown >/dev/null || die "QMP system_powerdown"
  local rc=0
  while kill -0 "$QPID" 2>/dev/null; do
    if [ "$(echo "$(since "$t") > $POWER_TIMEOUT" | bc)" = 1 ]; then
      tail -n 20 "$log"
      die "boot $1: QEMU still running ${POWER_TIMEOUT}s after system_powerdown"
    fi
    sleep 0.1
  done
  wait "$QPID" || rc=$?
  QPID=
  POWER_SECS=$(since "$t")
  sed -n '/^gantry-init: power button/,$p' "$log" | tr -d '\r' | grep '^gantry-init:' | sed 's/^/    /'
  [ "$rc" = 0 ] || die "boot $1: QEMU exited with status $rc"
  grep -q '^gantry-init: shutdown complete' "$log" || die "boot $1: no 'shutdown complete' line"
  grep -q '^gantry-init: power off' "$log" || die "boot $1: no 'power off' line"
  if grep -q '^gantry-init: error' "$log"; then
    die "boot $1: errors during shutdown"
  fi
  say "boot $1: QEMU exited cleanly ${POWER_SECS}s after system_powerdown"
}

# --- boot 1 -------------------------------------------------------------------------------------
boot 1
B1=$BOOT_SECS
t=$(now)
docker version || die "docker version over mutual TLS"
say "docker version over mutual TLS: ok ($(since "$t")s)"
docker info --format 'info: {{.ServerVersion}} driver={{.Driver}} cgroup={{.CgroupVersion}}/{{.CgroupDriver}} root={{.DockerRootDir}} kernel={{.KernelVersion}} os={{.OperatingSystem}}' ||
  die "docker info"
docker info >"$TMP/docker-info.txt" 2>&1 || die "docker info"
# a client certificate the CA did not sign must be refused
mkdir -p "$TMP/rogue"
(
  cd "$TMP/rogue"
  openssl ecparam -name prime256v1 -genkey -noout -out key.pem
  openssl req -x509 -new -key key.pem -days 1 -subj "/CN=rogue" -out cert.pem
  cp "$TMP/client/ca.pem" ca.pem
) 2>/dev/null
if DOCKER_CERT_PATH=$TMP/rogue docker version >/dev/null 2>&1; then
  die "dockerd accepted a client certificate from another CA"
fi
say "client certificate from another CA: refused (ok)"

mkdir -p "$TMP/bb/bin"
cp "$BUSYBOX" "$TMP/bb/bin/busybox"
# the applets, named by this machine's busybox (the guest's may be of another CPU)
busybox --list | while read -r applet; do
  [ "$applet" = busybox ] || ln -s busybox "$TMP/bb/bin/$applet"
done
tar -C "$TMP/bb" -cf "$TMP/busybox.tar" .
t=$(now)
docker import "$TMP/busybox.tar" gantry-smoke/busybox:1 >/dev/null || die "docker import"
say "docker import busybox rootfs: ok ($(since "$t")s)"
t=$(now)
machine=$(docker run --rm gantry-smoke/busybox:1 uname -m) || die "docker run uname -m"
want=$([ "$ARCH" = arm64 ] && echo aarch64 || echo x86_64)
[ "$machine" = "$want" ] || die "uname -m in a container: '$machine', expected $want"
say "docker run: uname -m says $machine: ok ($(since "$t")s)"
t=$(now)
got=$(docker run --rm -v "$TMP/share:/data" gantry-smoke/busybox:1 cat /data/hello.txt) || die "docker run"
[ "$got" = "hello from the host $$" ] || die "shared folder: read '$got'"
say "docker run reads the 9p shared folder: ok ($(since "$t")s)"
docker run --rm -v "$TMP/share:/data" gantry-smoke/busybox:1 sh -c 'echo from-guest >/data/from-guest.txt' ||
  die "docker run (write)"
[ "$(cat "$TMP/share/from-guest.txt")" = from-guest ] || die "shared folder: write not visible on the host"
say "container write to the shared folder visible on the host: ok"
if [ "${SMOKE_GUEST_LOGS:-0}" = 1 ]; then
  for f in /var/log/containerd.log /var/log/dockerd.log; do
    echo "--- guest $f"
    docker run --rm --privileged --pid=host gantry-smoke/busybox:1 nsenter -t 1 -m -- cat "$f" || true
  done
fi
docker run --rm -v smokevol:/v gantry-smoke/busybox:1 sh -c 'echo persisted >/v/f' || die "docker run (volume)"
powerdown 1
P1=$POWER_SECS

if [ "$QUICK" = 0 ]; then
  boot 2
  B2=$BOOT_SECS
  docker image inspect gantry-smoke/busybox:1 >/dev/null || die "image did not persist across reboot"
  got=$(docker run --rm -v smokevol:/v gantry-smoke/busybox:1 cat /v/f) || die "docker run (volume, boot 2)"
  [ "$got" = persisted ] || die "volume content did not persist: '$got'"
  say "boot 2: image and volume persisted on the data disk: ok"
  powerdown 2
  P2=$POWER_SECS
fi

say "PASS"
echo "  boot 1: QEMU start -> engine ready ${B1}s; powerdown -> exit ${P1}s"
[ "$QUICK" = 1 ] || echo "  boot 2: QEMU start -> engine ready ${B2}s; powerdown -> exit ${P2}s"
echo "  data disk: $(du -h "$TMP/disk.qcow2" | cut -f1) used of 20G"
