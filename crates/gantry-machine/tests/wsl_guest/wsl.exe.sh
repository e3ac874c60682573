#!/bin/bash
# A stand-in for wsl.exe (which cannot run here) for the wsl_guest driver test: the WSL 2 driver
# runs it as its `wsl.exe` (SystemWsl::program) through a link DIR/wsl.exe; DIR holds the state.
# --import extracts the real tarball into DIR/distros/NAME; the engine's keep-alive runs
# harness.sh (own mount, process and network namespaces; the data distribution's wsl-data runs
# in them too, as one process cannot join two WSL distributions here); the data distribution's
# keep-alive only waits for its input to close. Output is UTF-8 (the driver sets WSL_UTF8=1).
set -uo pipefail
state=$(cd "$(dirname "$0")" && pwd)
distros=$state/distros
running=$state/running
mkdir -p "$distros" "$running"
here=$(dirname "$(readlink -f "$0")")
harness=$here/harness.sh

is_running() {
  [ -f "$running/$1" ] && kill -0 "$(cat "$running/$1")" 2>/dev/null
}

case "$*" in
"--list --verbose")
  [ -n "$(ls -A "$distros")" ] || {
    echo "Windows Subsystem for Linux has no installed distributions."
    exit 1
  }
  printf '  NAME            STATE           VERSION\n'
  for d in "$distros"/*; do
    n=${d##*/}
    s=Stopped
    is_running "$n" && s=Running
    printf '  %-15s %-15s 2\n' "$n" "$s"
  done
  ;;
"--list --running --quiet")
  any=0
  for d in "$distros"/*; do
    n=${d##*/}
    if [ -e "$d" ] && is_running "$n"; then
      echo "$n"
      any=1
    fi
  done
  [ "$any" = 1 ] || {
    echo "There are no running distributions."
    exit 1
  }
  ;;
"--import "*)
  [ $# = 6 ] && [ "$5" = --version ] && [ "$6" = 2 ] || exit 2
  [ ! -e "$distros/$2" ] || {
    echo "Error code: Wsl/Service/RegisterDistro/ERROR_ALREADY_EXISTS"
    exit 1
  }
  mkdir -p "$distros/$2" && tar -xzf "$4" -C "$distros/$2"
  ;;
"--terminate "*)
  [ -e "$distros/$2" ] || {
    echo "Error code: Wsl/Service/WSL_E_DISTRO_NOT_FOUND"
    exit 1
  }
  if is_running "$2"; then kill "$(cat "$running/$2")"; fi
  rm -f "$running/$2"
  ;;
"--unregister "*)
  [ -e "$distros/$2" ] || {
    echo "Error code: Wsl/Service/WSL_E_DISTRO_NOT_FOUND"
    exit 1
  }
  rm -rf "${distros:?}/$2" "${running:?}/$2"
  ;;
"--distribution "*" --user root --exec /usr/lib/gantry/wsl-init "*)
  name=$2 data_mount=$7
  echo $$ >"$running/$name"
  exec unshare --mount --pid --net --fork --kill-child --propagation private \
    bash "$harness" "$distros/$name" "$distros/$name-data" "$data_mount" "$state"
  ;;
"--distribution "*" --user root --exec /usr/lib/gantry/wsl-data "*)
  echo $$ >"$running/$2"
  exec cat >/dev/null
  ;;
*)
  echo "wsl.exe stand-in: unexpected command: $*" >&2
  exit 2
  ;;
esac
