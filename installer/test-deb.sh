#!/usr/bin/env bash
# Tests the Debian package end to end: installer/test-deb.sh [PATH.deb]
#
# Builds it with installer/build-deb.sh (or takes PATH.deb), checks its metadata and file list,
# installs it into THIS system with dpkg -i (apt-get -f install for missing dependencies), checks
# the installed binaries (`gantry --version`, `gantry doctor --json` finds the guest image in
# /usr/share/gantry/image with a fresh HOME and no GANTRY_* variables, `gantry lab list` finds the
# labs in /usr/share/gantry/labs, gantry-desktop's libraries resolve), then purges the package and checks nothing is left. Needs root (it installs).
# The package is purged on exit even when a check fails.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
START=$(date +%s)
FAILS=0
INSTALLED_BY_US=0
step() { printf '[%4ss] %s\n' "$(($(date +%s) - START))" "$*"; }
ok() { echo "  ok: $*"; }
fail() {
  echo "  FAIL: $*" >&2
  FAILS=$((FAILS + 1))
}
die() {
  echo "test-deb.sh: error: $*" >&2
  exit 1
}
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }

[ "$(id -u)" = 0 ] || die "run as root: the test installs the package into this system"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/gantry-test-deb.XXXXXX")
cleanup() {
  local rc=$?
  if [ "$INSTALLED_BY_US" = 1 ] && dpkg-query -W gantry >/dev/null 2>&1; then
    echo "cleanup: purging the gantry package"
    dpkg --purge gantry >/dev/null || true
  fi
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT

# --- the package
if [ $# -ge 1 ]; then
  DEB=$(realpath "$1")
  [ -f "$DEB" ] || die "$1 does not exist"
  step "package: $DEB"
else
  step "package: installer/build-deb.sh"
  ./installer/build-deb.sh "$ROOT/target-installer"
  VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\([^"]*\)"/\1/p' Cargo.toml)
  DEB=$ROOT/target-installer/gantry_${VERSION}_amd64.deb
fi

# --- metadata
step "dpkg-deb --info"
dpkg-deb --info "$DEB" >"$TMP/info"
field() { dpkg-deb --field "$DEB" "$1"; }
check_field() { # NAME EXPECTED
  if [ "$(field "$1")" = "$2" ]; then ok "$1: $2"; else fail "$1 is '$(field "$1")', expected '$2'"; fi
}
check_field Package gantry
check_field Architecture amd64
DEPENDS=$(field Depends)
for dep in libc6 libgtk-3-0 libwebkit2gtk-4.1-0 libayatana-appindicator3-1 qemu-system-x86 qemu-utils; do
  # each name as a whole word of the list (followed by a version, a comma or the end)
  if grep -Eq "(^|, )$dep( \(|,|$)" <<<"$DEPENDS"; then ok "Depends: $dep"; else fail "Depends lacks $dep: $DEPENDS"; fi
done
if grep -q 'docker' <<<"$(field Recommends)"; then
  ok "Recommends: $(field Recommends)"
else
  fail "Recommends names no docker CLI"
fi
INSTALLED_KIB=$(field Installed-Size)
[[ "$INSTALLED_KIB" =~ ^[0-9]+$ ]] || die "Installed-Size is '$INSTALLED_KIB'"
ok "Installed-Size: $INSTALLED_KIB KiB"
# no maintainer scripts: installing needs nothing beyond dpkg
if dpkg-deb --ctrl-tarfile "$DEB" | tar -t | grep -Eq '(pre|post)(inst|rm)$'; then
  fail "the package has maintainer scripts"
else
  ok "no maintainer scripts"
fi

# --- contents: expected files and modes, nothing outside /usr, owned by root
step "dpkg-deb --contents"
dpkg-deb --contents "$DEB" >"$TMP/contents"
# "MODE OWNER SIZE DATE TIME ./PATH" → "MODE OWNER PATH"
awk '{ p = $6; sub(/^\.\//, "/", p); print $1, $2, p }' "$TMP/contents" >"$TMP/listing"
expect() { # MODE PATH
  if grep -qxF -e "$1 root/root $2" "$TMP/listing"; then ok "$1 $2"; else fail "missing or wrong mode/owner: $1 root/root $2"; fi
}
expect -rwxr-xr-x /usr/bin/gantry
expect -rwxr-xr-x /usr/bin/gantry-desktop
for f in vmlinuz initrd.img rootfs.squashfs cmdline VERSION SHA256SUMS; do
  expect -rw-r--r-- "/usr/share/gantry/image/$f"
done
# the labs: every lab of the source tree, with its manifest and steps
LAB_IDS=()
for manifest in labs/*/lab.toml; do
  lab_dir=${manifest%/lab.toml}
  LAB_IDS+=("${lab_dir#labs/}")
  expect -rw-r--r-- "/usr/share/gantry/$manifest"
  for step_file in "$lab_dir"/steps/*.md; do expect -rw-r--r-- "/usr/share/gantry/$step_file"; done
done
expect -rw-r--r-- /usr/share/gantry/labs/catalogue.toml
[ "${#LAB_IDS[@]}" -gt 0 ] || fail "no labs in the source tree's labs/"
expect -rw-r--r-- /usr/share/applications/gantry.desktop
expect -rw-r--r-- /usr/share/mime/packages/gantry.xml
for size in 32x32 128x128 256x256 512x512; do
  expect -rw-r--r-- "/usr/share/icons/hicolor/$size/apps/gantry.png"
done
expect -rw-r--r-- /usr/share/doc/gantry/copyright
expect -rwxr-xr-x /usr/lib/gantry/cli-plugins/docker-compose
expect -rwxr-xr-x /usr/lib/gantry/cli-plugins/docker-buildx
if grep -Ev ' /usr/(|bin/.*|share/.*|lib/|lib/gantry/.*)$' "$TMP/listing" | grep -v ' /$'; then
  fail "files outside /usr/bin, /usr/share and /usr/lib/gantry (above)"
else
  ok "every file is under /usr/bin, /usr/share or /usr/lib/gantry (none in /usr/local, /root, /etc, /home)"
fi
if awk '$2 != "root/root"' "$TMP/listing" | grep .; then fail "files not owned by root (above)"; else ok "all owned by root/root"; fi
# 0644 files, 0755 programs and directories: nothing writable by others, no setuid, no links
if awk '$1 !~ /^(-rw-r--r--|-rwxr-xr-x|drwxr-xr-x)$/' "$TMP/listing" | grep .; then
  fail "unexpected modes (above)"
else
  ok "modes: 0644 files, 0755 programs and directories"
fi
if command -v desktop-file-validate >/dev/null; then
  dpkg-deb --fsys-tarfile "$DEB" | tar -xO ./usr/share/applications/gantry.desktop >"$TMP/gantry.desktop"
  if desktop-file-validate "$TMP/gantry.desktop"; then ok "desktop-file-validate"; else fail "desktop-file-validate"; fi
fi

# --- install for real
step "dpkg -i (apt-get -f install for missing dependencies)"
if dpkg-query -W -f '${Status}' gantry 2>/dev/null | grep -q 'install ok installed'; then
  echo "  note: a gantry package is already installed ($(dpkg-query -W -f '${Version}' gantry)); it is replaced"
fi
INSTALLED_BY_US=1
if ! dpkg -i "$DEB"; then
  DEBIAN_FRONTEND=noninteractive apt-get -f install -y --no-install-recommends
fi
[ "$(dpkg-query -W -f '${Status}' gantry)" = "install ok installed" ] || die "the package did not install"
ok "installed: $(dpkg-query -W -f '${Package} ${Version}' gantry)"
FILES_BYTES=0
while read -r f; do
  [ -f "$f" ] && [ ! -L "$f" ] && FILES_BYTES=$((FILES_BYTES + $(stat -c %s "$f")))
done < <(dpkg -L gantry)
IMAGE_BYTES=$(du -sb /usr/share/gantry/image | cut -f1)

step "installed binaries"
if v=$(/usr/bin/gantry --version); then ok "/usr/bin/gantry --version: $v"; else fail "gantry --version"; fi
if ldd /usr/bin/gantry-desktop >"$TMP/ldd" && ! grep -q 'not found' "$TMP/ldd"; then
  ok "gantry-desktop: all $(wc -l <"$TMP/ldd") libraries resolve (ldd)"
else
  grep 'not found' "$TMP/ldd" >&2 || true
  fail "gantry-desktop has unresolved libraries"
fi
# A fresh user: empty HOME, no GANTRY_* image variables, no engine variables. Doctor exits
# non-zero when a check fails (no engine runs here); only its guest image check matters.
mkdir -p "$TMP/home"
(cd "$TMP" && env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$TMP/home" \
  timeout 120 /usr/bin/gantry doctor --json >"$TMP/doctor.json" 2>"$TMP/doctor.err") || true
image_check=$(jq -c '.[] | select(.name == "guest image")' "$TMP/doctor.json" 2>/dev/null || true)
if [ "$(jq -r .level <<<"$image_check" 2>/dev/null)" = ok ] &&
  [ "$(jq -r .detail <<<"$image_check")" = "found in /usr/share/gantry/image" ]; then
  ok "gantry doctor: guest image $(jq -r .detail <<<"$image_check")"
else
  fail "gantry doctor's guest image check: ${image_check:-none}; stderr: $(cat "$TMP/doctor.err")"
fi
jq -r '.[] | "    doctor: \(.level) \(.name): \(.detail)"' "$TMP/doctor.json" 2>/dev/null || true
# The labs: the same fresh user's `gantry lab list` finds every packaged lab (a release binary looks
# only in GANTRY_LABS_DIR and <exe>/../share/gantry/labs, so they come from /usr/share/gantry/labs;
# gantry-desktop uses the same lookup, crates/gantry-core/src/api/labs.rs), and they still lint.
if (cd "$TMP" && env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$TMP/home" \
  /usr/bin/gantry --json lab list >"$TMP/labs.json" 2>"$TMP/labs.err"); then
  found=$(jq -r '.[].id' "$TMP/labs.json" | sort | tr '\n' ' ')
  shipped=$(printf '%s\n' "${LAB_IDS[@]}" | sort | tr '\n' ' ')
  if [ "$found" = "$shipped" ]; then
    ok "gantry lab list: the ${#LAB_IDS[@]} labs from /usr/share/gantry/labs"
  else
    fail "gantry lab list found '$found', expected '$shipped'"
  fi
else
  fail "gantry lab list: $(cat "$TMP/labs.err")"
fi
if (cd "$TMP" && env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$TMP/home" \
  /usr/bin/gantry lab lint /usr/share/gantry/labs >"$TMP/labs-lint" 2>&1); then
  ok "gantry lab lint /usr/share/gantry/labs"
else
  fail "gantry lab lint /usr/share/gantry/labs: $(cat "$TMP/labs-lint")"
fi
# The bundled docker CLI plugins run, and the docker CLI finds them through the docker config entry
# `gantry start` writes (cliPluginsExtraDirs, crates/gantry-core/src/vm/context.rs).
for plugin in compose buildx; do
  if v=$(/usr/lib/gantry/cli-plugins/docker-$plugin version 2>&1 | head -n 1); then
    ok "docker-$plugin runs: $v"
  else
    fail "/usr/lib/gantry/cli-plugins/docker-$plugin does not run: $v"
  fi
done
if command -v docker >/dev/null; then
  mkdir -p "$TMP/docker-config"
  echo '{"cliPluginsExtraDirs": ["/usr/lib/gantry/cli-plugins"]}' >"$TMP/docker-config/config.json"
  for plugin in compose buildx; do
    # cliPluginsExtraDirs come first in the docker CLI's search (before /usr/libexec/docker/cli-plugins)
    if DOCKER_CONFIG=$TMP/docker-config docker info --format '{{range .ClientInfo.Plugins}}{{.Name}} {{.Path}}{{"\n"}}{{end}}' 2>/dev/null |
      grep -qx "$plugin /usr/lib/gantry/cli-plugins/docker-$plugin"; then
      ok "docker CLI finds the $plugin plugin ($(DOCKER_CONFIG=$TMP/docker-config docker $plugin version 2>&1 | head -n 1))"
    else
      fail "docker does not find the $plugin plugin with cliPluginsExtraDirs"
    fi
  done
fi

# --- purge
step "dpkg --purge gantry"
dpkg --purge gantry
INSTALLED_BY_US=0
for p in /usr/share/gantry /usr/lib/gantry /usr/bin/gantry /usr/bin/gantry-desktop /usr/share/doc/gantry \
  /usr/share/applications/gantry.desktop /usr/share/icons/hicolor/128x128/apps/gantry.png; do
  if [ -e "$p" ]; then fail "$p is left after purge"; fi
done
if dpkg-query -W gantry >/dev/null 2>&1; then fail "dpkg still knows the package"; else ok "purged: nothing left"; fi

echo
echo "package:        $DEB"
echo "  .deb size:      $(mb "$(stat -c %s "$DEB")")"
echo "  installed size: $(mb "$FILES_BYTES") (Installed-Size $(mb $((INSTALLED_KIB * 1024))))"
echo "  guest image:    $(mb "$IMAGE_BYTES") of it ($((IMAGE_BYTES * 100 / (FILES_BYTES + 1)))%)"
echo "  time:           $(($(date +%s) - START)) s"
[ "$FAILS" = 0 ] || die "$FAILS check(s) failed"
echo "all checks passed"
