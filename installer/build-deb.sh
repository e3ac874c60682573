#!/usr/bin/env bash
# Builds the Debian/Ubuntu package: installer/build-deb.sh [OUTPUT_DIR]
#
# Release builds of `gantry` and `gantry-desktop` (the UI first: the app embeds ui/dist), the
# guest image (vm-images/build.sh, cached), the labs (labs/, in /usr/share/gantry/labs), the docker CLI's compose v2 and buildx plugins (Debian
# 13's static binaries, in /usr/lib/gantry/cli-plugins: `gantry start` adds that directory to the
# user's docker config as cliPluginsExtraDirs), all staged and packed with `dpkg-deb --build` into
# OUTPUT_DIR/gantry_<version>_amd64.deb (default OUTPUT_DIR: target-installer/). See docs/install.md.
#
# Environment:
#   CARGO_TARGET_DIR    build cache (default $HOME/.cache/gantry/target, shared with scripts/test)
#   GANTRY_IMAGE_DIR    package this guest image instead of building one with vm-images/build.sh
#   GANTRY_SKIP_BUILD=1 package the binaries already in $CARGO_TARGET_DIR/release (no npm, no cargo)
#   GANTRY_DEB_COMPRESSION  xz (default: smallest, every dpkg reads it; ~4 min on 2 busy cores),
#                       zstd (seconds, ~3% larger; dpkg >= 1.21.18, Debian 12, Ubuntu 21.10), gzip
#
# Needs: cargo, npm, dpkg-deb, strip (binutils); dpkg-shlibdeps (dpkg-dev) when present computes
# the library dependencies, else the list below is used. Building the guest image needs root.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
# shellcheck source=scripts/lib/deps.sh
source scripts/lib/deps.sh
OUT=${1:-$ROOT/target-installer}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/gantry/target}
export PATH="$HOME/.cargo/bin:$PATH"
ARCH=amd64
# Run-time needs the binaries' ELF headers do not show: QEMU is run as a program, the tray
# library is loaded with dlopen. The library list is the fallback without dpkg-shlibdeps.
RUNTIME_DEPENDS="qemu-system-x86, qemu-utils, libayatana-appindicator3-1"
FALLBACK_LIB_DEPENDS="libc6, libgcc-s1, libgtk-3-0, libwebkit2gtk-4.1-0, libjavascriptcoregtk-4.1-0, libsoup-3.0-0, libglib2.0-0, libcairo2, libgdk-pixbuf-2.0-0, libdbus-1-3"
# The docker CLI talks to Gantry's engine; any of these provides it (docker-cli from trixie on).
RECOMMENDS="docker-cli | docker.io | docker-ce-cli"

START=$(date +%s)
STEPS=6
step() { printf '[%4ss] %s/%s %s\n' "$(($(date +%s) - START))" "$1" "$STEPS" "$2"; }
die() {
  echo "build-deb.sh: error: $*" >&2
  exit 1
}

[ "$(dpkg --print-architecture 2>/dev/null)" = "$ARCH" ] || die "builds the $ARCH package on an $ARCH Debian/Ubuntu host"
for tool in dpkg-deb strip sha256sum; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt install dpkg binutils coreutils)"
done
COMPRESSION=${GANTRY_DEB_COMPRESSION:-xz}
case "$COMPRESSION" in
xz | zstd | gzip) ;;
*) die "GANTRY_DEB_COMPRESSION must be xz, zstd or gzip" ;;
esac
VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\([^"]*\)"/\1/p' Cargo.toml)
[ -n "$VERSION" ] || die "no version in [workspace.package] of Cargo.toml"
DEB=$OUT/gantry_${VERSION}_${ARCH}.deb
RELEASE=$CARGO_TARGET_DIR/release
echo "gantry $VERSION → $DEB (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"

# --- 1. UI (embedded into gantry-desktop at compile time)
if [ "${GANTRY_SKIP_BUILD:-0}" = 1 ]; then
  step 1 "ui: skipped (GANTRY_SKIP_BUILD=1)"
else
  step 1 "ui: npm ci (when package-lock.json changed) and npm run build"
  # npm ci deletes node_modules first: only when the installed tree does not match the lock file
  if [ ! -f ui/node_modules/.package-lock.json ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
    (cd ui && npm ci --no-audit --no-fund)
  fi
  (cd ui && npm run build)
fi

# --- 2. release binaries
if [ "${GANTRY_SKIP_BUILD:-0}" = 1 ]; then
  step 2 "cargo: skipped (GANTRY_SKIP_BUILD=1), using $RELEASE"
else
  step 2 "cargo build --release --locked -p gantry-cli -p gantry-desktop (slow on few cores)"
  cargo build --release --locked -p gantry-cli -p gantry-desktop
fi
for bin in gantry gantry-desktop; do
  [ -x "$RELEASE/$bin" ] || die "$RELEASE/$bin is missing"
done

# --- 3. guest image
if [ -n "${GANTRY_IMAGE_DIR:-}" ]; then
  IMAGE=$GANTRY_IMAGE_DIR
  step 3 "guest image: $IMAGE (GANTRY_IMAGE_DIR)"
else
  IMAGE=${GANTRY_IMAGE_CACHE:-$HOME/.cache/gantry/images}/current
  if [ "$(id -u)" = 0 ]; then
    step 3 "guest image: vm-images/build.sh (cached when its inputs are unchanged)"
    ./vm-images/build.sh
  else
    step 3 "guest image: not root, so not building; using $IMAGE"
  fi
fi
[ -f "$IMAGE/SHA256SUMS" ] || die "no guest image in $IMAGE: run vm-images/build.sh as root (or set GANTRY_IMAGE_DIR)"
(cd "$IMAGE" && sha256sum --quiet --strict -c SHA256SUMS) || die "$IMAGE does not match its SHA256SUMS"
IMAGE_FILES=(SHA256SUMS)
while read -r _ name; do IMAGE_FILES+=("$name"); done <"$IMAGE/SHA256SUMS"

# --- 4. stage the file tree (dpkg-shlibdeps expects it at debian/<package>/)
step 4 "stage: binaries (stripped), guest image, labs, docker CLI plugins, desktop entry, icons, copyright"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gantry-deb.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
PKG=$WORK/debian/gantry
umask 022
install -d "$PKG/DEBIAN" "$PKG/usr/bin" "$PKG/usr/share/gantry/image" "$PKG/usr/share/applications" \
  "$PKG/usr/share/doc/gantry"
for bin in gantry gantry-desktop; do
  install -m 0755 "$RELEASE/$bin" "$PKG/usr/bin/$bin"
  strip --strip-unneeded "$PKG/usr/bin/$bin"
done
for f in "${IMAGE_FILES[@]}"; do
  install -m 0644 "$IMAGE/$f" "$PKG/usr/share/gantry/image/$f"
done
(cd "$PKG/usr/share/gantry/image" && sha256sum --quiet --strict -c SHA256SUMS) || die "staged image differs"
# the labs (labs/: lab.toml and steps/*.md per lab, catalogue.toml), found by both programs in
# <dir of the executable>/../share/gantry/labs (crates/gantry-labs/src/library.rs, default_roots);
# text only, so every file is 0644
(cd labs && find . -type d -print0) | while IFS= read -r -d '' dir; do
  install -d -m 0755 "$PKG/usr/share/gantry/labs/$dir"
done
(cd labs && find . -type f -print0) | while IFS= read -r -d '' file; do
  install -m 0644 "labs/$file" "$PKG/usr/share/gantry/labs/$file"
done
"$RELEASE/gantry" lab lint "$PKG/usr/share/gantry/labs" >/dev/null ||
  die "the staged labs do not pass gantry lab lint (run: gantry lab lint labs/)"
# docker compose v2 and buildx: the plugin binaries of Debian 13's packages (static, run on 12)
install -d "$PKG/usr/lib/gantry/cli-plugins"
PLUGIN_VERSIONS=()
for entry in "${GANTRY_DOCKER_PLUGINS[@]}"; do
  IFS=: read -r plugin_pkg plugin_name _ <<<"$entry"
  plugin_deb=$(gantry_fetch_debs "$GANTRY_DOCKER_PLUGINS_SUITE" "$WORK/plugins" "$plugin_pkg" | tail -n 1)
  [ -n "$plugin_deb" ] || die "could not fetch $plugin_pkg from Debian $GANTRY_DOCKER_PLUGINS_SUITE"
  dpkg-deb -x "$plugin_deb" "$WORK/plugins/$plugin_pkg"
  install -m 0755 "$WORK/plugins/$plugin_pkg/usr/libexec/docker/cli-plugins/docker-$plugin_name" \
    "$PKG/usr/lib/gantry/cli-plugins/docker-$plugin_name"
  PLUGIN_VERSIONS+=("$plugin_pkg $(dpkg-deb -f "$plugin_deb" Version)")
done
for icon in 32x32:32x32.png 128x128:128x128.png 256x256:128x128@2x.png 512x512:icon.png; do
  install -D -m 0644 "src-tauri/icons/${icon#*:}" "$PKG/usr/share/icons/hicolor/${icon%%:*}/apps/gantry.png"
done
cat >"$PKG/usr/share/applications/gantry.desktop" <<'EOF'
[Desktop Entry]
Type=Application
Name=Gantry
GenericName=Container Manager
Comment=Containers on your desktop: a Docker engine in a small VM
Exec=gantry-desktop %F
Icon=gantry
Terminal=false
Categories=Development;
Keywords=docker;containers;images;volumes;
StartupWMClass=gantry-desktop
MimeType=application/x-gantry-workshop;
EOF
# "Open with Gantry" for workshop bundles (shared-mime-info's trigger updates the database)
install -d "$PKG/usr/share/mime/packages"
cat >"$PKG/usr/share/mime/packages/gantry.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<mime-info xmlns="http://www.freedesktop.org/standards/shared-mime-info">
  <mime-type type="application/x-gantry-workshop">
    <comment>Gantry workshop bundle</comment>
    <sub-class-of type="application/x-tar"/>
    <glob pattern="*.gantry-workshop"/>
  </mime-type>
</mime-info>
EOF
PLUGIN_LIST=$(printf '%s, ' "${PLUGIN_VERSIONS[@]}")
cat >"$PKG/usr/share/doc/gantry/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: gantry
Comment:
 /usr/bin/gantry and /usr/bin/gantry-desktop are built from the Gantry sources and the Rust
 crates and npm packages they depend on (licences: Apache-2.0, MIT and compatible), statically
 linked. /usr/share/gantry/labs/ holds Gantry's labs (texts and declarative checks, from the Gantry
 sources). /usr/share/gantry/image/ is the guest VM image, built from Debian 13 (trixie) binary
 packages (Linux kernel, busybox, docker.io, containerd and their dependencies); their
 licences and sources are those of the Debian packages named in image/VERSION.
 /usr/lib/gantry/cli-plugins/ holds the docker-compose and docker-buildx programs of Debian 13's
 packages (Apache-2.0): ${PLUGIN_LIST%, }.

Files: *
Copyright: The Gantry contributors
License: Apache-2.0

License: Apache-2.0
 On Debian systems, the full text of the Apache License, Version 2.0 can be found in
 /usr/share/common-licenses/Apache-2.0.
EOF

# --- 5. DEBIAN/control
step 5 "control: Depends (dpkg-shlibdeps when available), Installed-Size"
if command -v dpkg-shlibdeps >/dev/null; then
  printf 'Source: gantry\n\nPackage: gantry\nArchitecture: %s\n' "$ARCH" >"$WORK/debian/control"
  LIB_DEPENDS=$(cd "$WORK" && dpkg-shlibdeps -O "$PKG/usr/bin/gantry" "$PKG/usr/bin/gantry-desktop" |
    sed -n 's/^shlibs:Depends=//p')
  [ -n "$LIB_DEPENDS" ] || die "dpkg-shlibdeps found no library dependencies"
  rm "$WORK/debian/control"
else
  echo "dpkg-shlibdeps not installed (apt install dpkg-dev): using the bookworm library list"
  LIB_DEPENDS=$FALLBACK_LIB_DEPENDS
fi
INSTALLED_KIB=$(du -sk --exclude=DEBIAN "$PKG" | cut -f1)
cat >"$PKG/DEBIAN/control" <<EOF
Package: gantry
Version: $VERSION
Architecture: $ARCH
Maintainer: The Gantry contributors <gantry@example.invalid>
Installed-Size: $INSTALLED_KIB
Depends: $LIB_DEPENDS, $RUNTIME_DEPENDS
Recommends: $RECOMMENDS
Section: admin
Priority: optional
Description: rootless desktop container manager (Docker engine in a small VM)
 Gantry boots a small Linux VM with QEMU (KVM when available) that hosts a real Docker
 engine, forwards the engine socket and published ports to your machine, and shows
 containers, images, volumes and networks in a desktop app. The plain docker CLI works
 against it through a Docker context Gantry creates.
 .
 Contents: the gantry command, the gantry-desktop app, the guest VM image, the labs
 (hands-on lessons checked live against the engine, English and Russian) and the docker
 compose (v2) and buildx CLI plugins. Nothing runs as root: each user's VM and settings
 live under their home directory.
EOF

# --- 6. pack
step 6 "dpkg-deb --build --root-owner-group -Z$COMPRESSION"
mkdir -p "$OUT"
dpkg-deb --build --root-owner-group "-Z$COMPRESSION" "$PKG" "$DEB"
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
echo "built $DEB: $(mb "$(stat -c %s "$DEB")"), installed $(mb $((INSTALLED_KIB * 1024))) (guest image $(mb "$(du -sb "$PKG/usr/share/gantry/image" | cut -f1)"))"
printf '[%4ss] done\n' "$(($(date +%s) - START))"
