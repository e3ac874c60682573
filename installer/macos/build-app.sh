#!/usr/bin/env bash
# Builds Gantry.app and Gantry-<version>-arm64.dmg ON A MAC (Apple silicon, Xcode command line
# tools, Rust with the aarch64-apple-darwin target, Node.js >= 20.19): installer/macos/build-app.sh
# [OUTPUT_DIR]. Nothing here runs on Linux CI (no codesign, no hdiutil): CI type-checks the code
# for aarch64-apple-darwin instead (scripts/test), see docs/macos.md for what is verified where.
#
# Gantry.app/Contents/
#   MacOS/gantry-desktop, MacOS/gantry     the app and the CLI (release builds)
#   MacOS/gantry-vz                        the Apple Virtualization helper, signed ad hoc with
#                                          gantry-vz.entitlements (com.apple.security.virtualization):
#                                          the only binary holding that entitlement
#   Resources/guest/                       the arm64 guest image (GUEST_DIR: Image, initrd.img,
#                                          rootfs.squashfs, cmdline, VERSION, SHA256SUMS), checked
#                                          against its SHA256SUMS before it is bundled
#
# Environment:
#   GUEST_DIR       the arm64 guest image to bundle (vm-images/build.sh with ARCH=arm64, built on
#                   Linux: copy its directory over); required
#   SIGN_IDENTITY   codesign identity (default "-": ad hoc, for this Mac only; a Developer ID and
#                   notarization are needed to give the app to others)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$(pwd)
OUT=${1:-$ROOT/target-installer}
TARGET=aarch64-apple-darwin
SIGN_IDENTITY=${SIGN_IDENTITY:--}
: "${GUEST_DIR:?set GUEST_DIR to the arm64 guest image directory (vm-images/build.sh ARCH=arm64)}"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

[ "$(uname -s)" = Darwin ] || {
  echo "build-app.sh: runs on macOS only (codesign, hdiutil)" >&2
  exit 1
}
for cmd in cargo npm codesign hdiutil shasum; do
  command -v "$cmd" >/dev/null || {
    echo "build-app.sh: $cmd is missing" >&2
    exit 1
  }
done
(cd "$GUEST_DIR" && shasum -a 256 -c SHA256SUMS) || {
  echo "build-app.sh: $GUEST_DIR does not match its SHA256SUMS" >&2
  exit 1
}

(cd ui && npm ci --no-audit --no-fund && npm run build)
cargo build --release --locked --target "$TARGET" -p gantry-cli -p gantry-desktop -p gantry-vz

VERSION=$(sed -nE 's/^version = "([^"]+)"/\1/p' Cargo.toml | head -n1)
APP=$OUT/Gantry.app
rm -rf "$APP"
mkdir -p "$APP/Contents/MacOS" "$APP/Contents/Resources/guest"
for bin in gantry-desktop gantry gantry-vz; do
  cp "$CARGO_TARGET_DIR/$TARGET/release/$bin" "$APP/Contents/MacOS/"
done
cp "$GUEST_DIR"/{Image,initrd.img,rootfs.squashfs,cmdline,VERSION,SHA256SUMS} "$APP/Contents/Resources/guest/"
cat >"$APP/Contents/Info.plist" <<PLIST
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>CFBundleName</key><string>Gantry</string>
  <key>CFBundleIdentifier</key><string>dev.gantry.desktop</string>
  <key>CFBundleExecutable</key><string>gantry-desktop</string>
  <key>CFBundleShortVersionString</key><string>$VERSION</string>
  <key>CFBundlePackageType</key><string>APPL</string>
  <key>LSMinimumSystemVersion</key><string>13.0</string>
</dict>
</plist>
PLIST

# the helper first, with its entitlement; then the app around it (without the entitlement)
codesign --force --options runtime --sign "$SIGN_IDENTITY" \
  --entitlements installer/macos/gantry-vz.entitlements "$APP/Contents/MacOS/gantry-vz"
codesign --force --options runtime --sign "$SIGN_IDENTITY" "$APP/Contents/MacOS/gantry"
codesign --force --options runtime --sign "$SIGN_IDENTITY" "$APP"
codesign --display --entitlements - "$APP/Contents/MacOS/gantry-vz" | grep -q com.apple.security.virtualization || {
  echo "build-app.sh: gantry-vz lost its entitlement" >&2
  exit 1
}

DMG=$OUT/Gantry-$VERSION-arm64.dmg
rm -f "$DMG"
hdiutil create -volname Gantry -srcfolder "$APP" -ov -format UDZO "$DMG"
echo "built $APP and $DMG"
