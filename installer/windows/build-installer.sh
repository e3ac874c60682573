#!/usr/bin/env bash
# Builds Gantry's Windows installer on Linux with NSIS (Debian's `nsis`) from the windows-gnu
# build: installer/windows/build-installer.sh [OUTPUT_DIR]
#   OUTPUT_DIR/Gantry-<version>-x64-setup.exe (default OUTPUT_DIR: target-installer/)
# What it bundles: gantry-desktop.exe with WebView2Loader.dll (the app imports it; cargo copies
# it from webview2-com-sys), gantry.exe and the guest's WSL root filesystems (wsl-rootfs.tar.gz,
# wsl-data.tar.gz and their VERSION, checked against their SHA256SUMS); see gantry.nsi. The
# WebView2 runtime itself is Windows' (the installer says where to get it when it is missing).
#
# The WSL tarballs come from vm-images/wsl-rootfs.sh (GUEST_DIR=<image dir>/wsl, e.g.
# ~/.cache/gantry/images/current/wsl). A cold release build takes about 30 minutes on 2 cores
# (docs/windows.md). `--check-script` compiles gantry.nsi against placeholder files, to check the
# script itself.
#
# Needs Debian's nsis (makensis) and, for the real build, gcc-mingw-w64-x86-64 (the linker):
# installed with scripts/lib/deps.sh (root or sudo) and verified, unless GANTRY_SKIP_DEPS=1.
#
# Environment:
#   GUEST_DIR         directory with wsl-rootfs.tar.gz, wsl-data.tar.gz, VERSION and SHA256SUMS
#   CARGO_TARGET_DIR  build cache (default $HOME/.cache/gantry/target)
#   GANTRY_SKIP_DEPS=1  do not install the Debian packages (their commands are still checked)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$(pwd)
# shellcheck source=scripts/lib/deps.sh
source scripts/lib/deps.sh
TARGET=x86_64-pc-windows-gnu
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/gantry/target}
VERSION=$(sed -nE 's/^version = "([^"]+)"/\1/p' Cargo.toml | head -n1)
CHECK_ONLY=0
if [ "${1:-}" = --check-script ]; then
  CHECK_ONLY=1
  shift
fi
OUT=${1:-$ROOT/target-installer}
NEEDS=(nsis:makensis)
[ "$CHECK_ONLY" = 1 ] || NEEDS+=(gcc-mingw-w64-x86-64:x86_64-w64-mingw32-gcc)
if [ "${GANTRY_SKIP_DEPS:-0}" != 1 ]; then
  gantry_install_debian_packages "${NEEDS[@]}" || exit 1
else
  problems=$(gantry_unmet_requirements "${NEEDS[@]}")
  [ -z "$problems" ] || {
    echo "build-installer.sh: GANTRY_SKIP_DEPS=1 but missing: $(cut -f1 <<<"$problems" | tr '\n' ' ')(apt-get install them)" >&2
    exit 1
  }
fi
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/guest" "$OUT"

if [ "$CHECK_ONLY" = 1 ]; then
  for f in gantry-desktop.exe WebView2Loader.dll gantry.exe guest/wsl-rootfs.tar.gz guest/wsl-data.tar.gz guest/VERSION guest/SHA256SUMS; do
    echo placeholder >"$STAGE/$f"
  done
  makensis -V2 -DVERSION="$VERSION" -DSTAGE="$STAGE" -DOUTFILE="$STAGE/check-setup.exe" installer/windows/gantry.nsi
  echo "gantry.nsi compiles ($(du -h "$STAGE/check-setup.exe" | cut -f1) with placeholders)"
  exit 0
fi

: "${GUEST_DIR:?set GUEST_DIR to the directory with the WSL root filesystems}"
(cd "$GUEST_DIR" && sha256sum --strict -c SHA256SUMS) || {
  echo "build-installer.sh: $GUEST_DIR does not match its SHA256SUMS" >&2
  exit 1
}
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
(cd ui && npm ci --no-audit --no-fund && npm run build)
cargo build --release --locked --target "$TARGET" -p gantry-cli -p gantry-desktop
RELEASE=$CARGO_TARGET_DIR/$TARGET/release
cp "$RELEASE/gantry-desktop.exe" "$RELEASE/WebView2Loader.dll" "$RELEASE/gantry.exe" "$STAGE/"
cp "$GUEST_DIR"/{wsl-rootfs.tar.gz,wsl-data.tar.gz,VERSION,SHA256SUMS} "$STAGE/guest/"
makensis -V2 -DVERSION="$VERSION" -DSTAGE="$STAGE" -DOUTFILE="$OUT/Gantry-$VERSION-x64-setup.exe" installer/windows/gantry.nsi
echo "built $OUT/Gantry-$VERSION-x64-setup.exe"
