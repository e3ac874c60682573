#!/bin/bash
# Compares two guest images in one run: vm-images/compare.sh [BEFORE_REV] [BOOTS]
#
# Builds the guest image of git revision BEFORE_REV (default 2a3ed5f, the last Debian 12 guest)
# and of the working tree, each into its own cache under a temporary directory (the shared
# image cache is not touched), then boots each BOOTS times (default 2, alternating) with
# boot-smoke.sh --quick, and prints a Markdown table: sizes, the time from QEMU start to
# "engine ready", the clean power-off, with after/before ratios. Needs root (image builds).
# The numbers go into docs/benchmarks.md ("Guest image: Debian 12 → 13").
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BEFORE_REV=${1:-2a3ed5f}
BOOTS=${2:-2}
WORK=$(mktemp -d /var/tmp/gantry-compare.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
say() { printf '[%s] %s\n' "$(date +%T)" "$*"; }

say "before: vm-images/ of $BEFORE_REV"
mkdir -p "$WORK/before-src"
git -C "$HERE/.." archive "$BEFORE_REV" vm-images | tar -x -C "$WORK/before-src"
declare -A BUILD_SECS DIR
for side in before after; do
  src=$HERE
  [ "$side" = before ] && src=$WORK/before-src/vm-images
  # the apt archive cache is shared between the two builds' caches (downloads once per package)
  mkdir -p "$WORK/$side-cache" "$WORK/apt-archives"
  ln -s "$WORK/apt-archives" "$WORK/$side-cache/apt-archives"
  t=$(date +%s)
  say "build $side"
  GANTRY_IMAGE_CACHE=$WORK/$side-cache "$src/build.sh" >"$WORK/$side-build.log" 2>&1 || {
    tail -n 30 "$WORK/$side-build.log"
    exit 1
  }
  BUILD_SECS[$side]=$(($(date +%s) - t))
  DIR[$side]=$(readlink -f "$WORK/$side-cache/current")
done

declare -A READY POWER
for side in before after; do
  READY[$side]=""
  POWER[$side]=""
done
for i in $(seq 1 "$BOOTS"); do
  for side in before after; do
    say "boot $i: $side"
    "$HERE/boot-smoke.sh" --quick "${DIR[$side]}" >"$WORK/$side-boot-$i.log" 2>&1 || {
      tail -n 30 "$WORK/$side-boot-$i.log"
      exit 1
    }
    READY[$side]+="$(sed -n 's/.*boot 1: engine ready \([0-9.]*\)s after QEMU start.*/\1/p' "$WORK/$side-boot-$i.log") "
    POWER[$side]+="$(sed -n 's/.*boot 1: QEMU exited cleanly \([0-9.]*\)s after system_powerdown.*/\1/p' "$WORK/$side-boot-$i.log") "
  done
done

mean() { tr ' ' '\n' <<<"$1" | awk 'NF { s += $1; n++ } END { printf "%.1f", s / n }'; }
mb() { awk -v b="$(du -cb "$@" | tail -n 1 | cut -f1)" 'BEGIN { printf "%.1f", b / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f×", a / b }'; }
row() { # NAME BEFORE AFTER UNIT
  printf '| %s | %s %s | %s %s | %s |\n' "$1" "$2" "$4" "$3" "$4" "$(ratio "$3" "$2")"
}
b=${DIR[before]} a=${DIR[after]}
echo
echo "| | before ($(sed -n 's/^suite=//p' "$b/VERSION"): docker $(sed -n 's/^docker=//p' "$b/VERSION" | cut -d+ -f1), kernel $(sed -n 's/^kernel=//p' "$b/VERSION")) | after ($(sed -n 's/^suite=//p' "$a/VERSION"): docker $(sed -n 's/^docker=//p' "$a/VERSION" | cut -d+ -f1), kernel $(sed -n 's/^kernel=//p' "$a/VERSION")) | after / before |"
echo "|---|---|---|---|"
row "image (kernel + initramfs + root)" "$(mb "$b/vmlinuz" "$b/initrd.img" "$b/rootfs.squashfs")" "$(mb "$a/vmlinuz" "$a/initrd.img" "$a/rootfs.squashfs")" MB
row "  of which rootfs.squashfs" "$(mb "$b/rootfs.squashfs")" "$(mb "$a/rootfs.squashfs")" MB
row "  of which vmlinuz" "$(mb "$b/vmlinuz")" "$(mb "$a/vmlinuz")" MB
row "QEMU start → engine ready (mean of $BOOTS: ${READY[before]% } / ${READY[after]% })" "$(mean "${READY[before]}")" "$(mean "${READY[after]}")" s
row "power-off → QEMU exited (mean of $BOOTS)" "$(mean "${POWER[before]}")" "$(mean "${POWER[after]}")" s
row "cold image build (this run)" "${BUILD_SECS[before]}" "${BUILD_SECS[after]}" s
