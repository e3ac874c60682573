# shellcheck shell=bash
# Shared prerequisite installer for scripts/test and scripts/setup-and-run.
# Source this file, then call `gantry_install_deps [extra packages...]`.

# Debian packages Gantry's build and tests need. Each entry is "package:probe", where probe is a
# command or file whose presence means the package is installed (dpkg -s is the fallback check).
GANTRY_DEBIAN_PACKAGES=(
  docker.io
  busybox-static
  qemu-system-x86
  qemu-utils
  mmdebstrap
  squashfs-tools
  zstd
  cpio
  xvfb
  webkit2gtk-driver
  libwebkit2gtk-4.1-dev
  libgtk-3-dev
  librsvg2-dev
  libayatana-appindicator3-dev
  curl
  apache2-utils
  iproute2
  iptables
  pkg-config
  libssl-dev
  build-essential
)

# gantry_missing_packages PKG... -> prints the packages that are not installed.
gantry_missing_packages() {
  local pkg status
  for pkg in "$@"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = installed ] || printf '%s\n' "$pkg"
  done
}

# gantry_install_deps [EXTRA_PKG...]: installs what is missing; runs `apt-get update` only when
# something is missing. Needs root (or sudo) when it has something to install.
gantry_install_deps() {
  local missing
  mapfile -t missing < <(gantry_missing_packages "${GANTRY_DEBIAN_PACKAGES[@]}" "$@")
  if [ "${#missing[@]}" -eq 0 ]; then
    echo "deps: all Debian packages present"
  else
    echo "deps: installing ${missing[*]}"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
      command -v sudo >/dev/null || { echo "deps: need root or sudo to install ${missing[*]}" >&2; return 1; }
      sudo=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -q || return 1
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null || return 1
    # An install can remove another package (e.g. qemu-system-x86 7.2 removes qemu-utils 10.0 from
    # bookworm-backports): check again, install what went missing, and stop if it is still missing.
    mapfile -t missing < <(gantry_missing_packages "${GANTRY_DEBIAN_PACKAGES[@]}" "$@")
    if [ "${#missing[@]}" -gt 0 ]; then
      echo "deps: ${missing[*]} went missing during the install (a version conflict); installing again"
      "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null || return 1
      mapfile -t missing < <(gantry_missing_packages "${GANTRY_DEBIAN_PACKAGES[@]}" "$@")
      if [ "${#missing[@]}" -gt 0 ]; then
        echo "deps: still missing after installing: ${missing[*]}; check 'apt-cache policy ${missing[*]}' for held or conflicting versions" >&2
        return 1
      fi
    fi
  fi
  if ! command -v cargo >/dev/null; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
      export PATH="$HOME/.cargo/bin:$PATH"
    else
      echo "deps: installing the Rust toolchain with rustup"
      curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt || return 1
      export PATH="$HOME/.cargo/bin:$PATH"
    fi
  fi
}

# gantry_optional_package PKG: installs PKG if the archive has it; returns non-zero if unavailable.
gantry_optional_package() {
  local pkg=$1
  [ -z "$(gantry_missing_packages "$pkg")" ] && return 0
  if ! apt-cache policy "$pkg" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 || true
  fi
  apt-cache policy "$pkg" 2>/dev/null | grep -q 'Candidate: [0-9]' || return 1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$pkg" </dev/null >/dev/null
}
