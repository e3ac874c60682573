#!/usr/bin/env bash
# Benchmark helper (./scripts/bench files with GANTRY_BENCH_VIRTIOFSD): given to Gantry as
# GANTRY_QEMU, it adds a virtio-fs share of $VFS_DIR (tag "vfs") to the VM Gantry starts:
# virtiofsd ($VFS_VIRTIOFSD, on $VFS_SOCK) and QEMU's device with guest RAM as a shared memfd.
# Every other QEMU run (version probes, the test guest) passes through unchanged. Not a product
# path: Gantry shares folders with virtio-9p (docs/benchmarks.md, "Bind mounts").
set -uo pipefail
qemu=${VFS_QEMU:-qemu-system-x86_64}
case " $* " in
*" -virtfs "*) ;;
*) exec "$qemu" "$@" ;;
esac
mem='' prev=''
for a in "$@"; do
  [ "$prev" = -m ] && mem=${a%M}
  prev=$a
done
[ -n "$mem" ] || {
  echo "qemu-virtiofs.sh: no -m in QEMU's arguments" >&2
  exit 2
}
rm -f "$VFS_SOCK"
"$VFS_VIRTIOFSD" --socket-path="$VFS_SOCK" --shared-dir="$VFS_DIR" --cache=auto --sandbox=none \
  >"$VFS_SOCK.log" 2>&1 </dev/null &
for _ in $(seq 200); do
  [ -S "$VFS_SOCK" ] && break
  sleep 0.05
done
[ -S "$VFS_SOCK" ] || {
  echo "qemu-virtiofs.sh: virtiofsd did not listen on $VFS_SOCK (log: $VFS_SOCK.log)" >&2
  exit 2
}
exec "$qemu" "$@" -object "memory-backend-memfd,id=vfsmem,size=${mem}M,share=on" -machine memory-backend=vfsmem \
  -chardev "socket,id=vfs,path=$VFS_SOCK" -device vhost-user-fs-pci,chardev=vfs,tag=vfs
