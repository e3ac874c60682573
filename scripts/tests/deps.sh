#!/usr/bin/env bash
# Tests of scripts/lib/deps.sh's install-then-verify logic: ./scripts/tests/deps.sh
#
# apt-get, apt-mark and dpkg-query are stand-ins here (PATH shims over a state directory) that
# behave like apt did on a fresh Debian 12 machine: installing qemu-system-x86 7.2 removes
# qemu-utils 10.0 from bookworm-backports (and so qemu-img); a held package makes the install
# fail. The real apt reproduces the same trap in the fresh-root stage (scripts/fresh-root, which
# installs qemu-utils from bookworm-backports first); this test checks every branch in seconds.
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/gantry-deps-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
PASSED=0
FAILED=0

# A fake system: $S/installed/<pkg> holds the version, $S/bin the commands packages provide.
make_fakes() {
  local fake=$TMP/fake-tools
  mkdir -p "$fake"
  cat >"$fake/dpkg-query" <<'EOF'
#!/usr/bin/env bash
# dpkg-query -W -f=FORMAT PKG
pkg=${*: -1}
[ -f "$S/installed/$pkg" ] || exit 1
case "$*" in
*Status-Abbrev*) if [ -f "$S/held/$pkg" ]; then printf 'hi '; else printf 'ii '; fi ;;
*Status-Status*) printf installed ;;
*'{Version}'*) cat "$S/installed/$pkg" ;;
esac
EOF
  cat >"$fake/apt-mark" <<'EOF'
#!/usr/bin/env bash
[ "$1" = showhold ] && ls "$S/held" 2>/dev/null
exit 0
EOF
  cat >"$fake/apt-cache" <<'EOF'
#!/usr/bin/env bash
# apt-cache policy PKG, as apt prints it with a backports version installed: the installed
# version stays the candidate (apt does not downgrade); the release's own has priority 500
[ "$1" = policy ] || exit 0
installed=$(cat "$S/installed/$2" 2>/dev/null || echo '(none)')
echo "$2:"
echo "  Installed: $installed"
echo "  Candidate: $installed"
echo "  Version table:"
if [ "$installed" != '(none)' ]; then
  echo " *** $installed 100"
  echo "        100 /var/lib/dpkg/status"
fi
if [ -f "$S/archive/$2" ] && [ "$(cat "$S/archive/$2")" != "$installed" ]; then
  echo "     $(cat "$S/archive/$2") 500"
  echo "        500 http://deb.debian.org/debian bookworm/main amd64 Packages"
fi
EOF
  cat >"$fake/apt-get" <<'EOF'
#!/usr/bin/env bash
# Records each call; "install" installs what apt would, with the conflicts of a bookworm machine.
echo "apt-get $*" >>"$S/calls"
[ "$1" = update ] && exit 0
pkgs=()
for a in "$@"; do case $a in -* | install) ;; *) pkgs+=("$a") ;; esac; done
probe_of() { case $1 in qemu-utils) echo qemu-img ;; qemu-system-x86) echo qemu-system-x86_64 ;; *) echo "$1-cmd" ;; esac; }
for p in "${pkgs[@]}"; do
  p=${p%%=*}
  [ -f "$S/archive/$p" ] || { echo "E: Unable to locate package $p" >&2; exit 100; }
done
# qemu-utils 10.0 installed by hand: apt will not remove it, the transaction breaks, unless the
# matching qemu-utils=7.2 is installed with it (a downgrade)
if [ -f "$S/manual/qemu-utils" ] && [ "$(cat "$S/installed/qemu-utils" 2>/dev/null)" = 10.0 ] &&
  [[ " ${pkgs[*]} " == *" qemu-system-x86 "* ]]; then
  if [[ " ${pkgs[*]} " != *" qemu-utils=7.2 "* ]] || [[ " $* " != *" --allow-downgrades "* ]]; then
    echo "The following packages have unmet dependencies:"
    echo " qemu-utils : Breaks: qemu-system-common (< 1:8.0+dfsg-5~) but 1:7.2+dfsg-7+deb12u18+b3 is to be installed"
    echo "E: Error, pkgProblemResolver::Resolve generated breaks, this may be caused by held packages."
    exit 100
  fi
  rm -f "$S/manual/qemu-utils"
fi
pkgs=("${pkgs[@]%%=*}")
for p in "${pkgs[@]}"; do
  # qemu-system-x86 7.2 and qemu-utils 10.0 cannot be installed together: apt removes qemu-utils
  if [ "$p" = qemu-system-x86 ] && [ "$(cat "$S/installed/qemu-utils" 2>/dev/null)" = 10.0 ]; then
    if [ -f "$S/held/qemu-utils" ]; then
      echo "E: Held packages were changed and -y was used without --allow-change-held-packages." >&2
      exit 100
    fi
    rm -f "$S/installed/qemu-utils" "$S/bin/qemu-img"
    echo "Removing qemu-utils (1:10.0.2+ds-2+deb13u1~bpo12+1) ..."
  fi
  cat "$S/archive/$p" >"$S/installed/$p"
  printf '#!/bin/sh\n' >"$S/bin/$(probe_of "$p")" && chmod +x "$S/bin/$(probe_of "$p")"
done
EOF
  chmod +x "$fake"/*
  # Only the tools the helper uses: the real qemu, apt and dpkg stay out of sight.
  local tool
  for tool in bash sh env cat grep cut sort tr sed rm ls chmod mkdir id head tail mktemp tee awk; do
    ln -s "$(command -v "$tool")" "$fake/$tool"
  done
  FAKE_PATH="$fake"
}

# fresh_system: qemu-utils 10.0 from backports installed; the archive has 7.2 of both.
fresh_system() {
  S=$TMP/system-$RANDOM
  export S
  mkdir -p "$S/installed" "$S/bin" "$S/archive" "$S/held" "$S/manual"
  echo 7.2 >"$S/archive/qemu-system-x86"
  echo 7.2 >"$S/archive/qemu-utils"
  echo 10.0 >"$S/installed/qemu-utils"
  printf '#!/bin/sh\n' >"$S/bin/qemu-img" && chmod +x "$S/bin/qemu-img"
  : >"$S/calls"
}

# run_deps ENTRY... -> runs gantry_install_debian_packages in a subshell with the fakes first on
# PATH; sets OUT (stdout+stderr) and RC.
run_deps() {
  OUT=$(
    PATH="$FAKE_PATH:$S/bin"
    # shellcheck source=scripts/lib/deps.sh
    source "$ROOT/scripts/lib/deps.sh"
    _gantry_need_root() { _gantry_sudo=(); }
    gantry_install_debian_packages "$@" 2>&1
  )
  RC=$?
}

check() { # NAME CONDITION...
  local name=$1
  shift
  if "$@"; then
    PASSED=$((PASSED + 1))
    echo "ok: $name"
  else
    FAILED=$((FAILED + 1))
    echo "FAIL: $name"
    printf '%s\n' "$OUT" | while IFS= read -r line; do echo "    | $line"; done
    sed 's/^/    calls: /' "$S/calls"
  fi
}
contains() { grep -qF -- "$1" <<<"$OUT"; }
succeeded() { [ "$RC" = 0 ]; }
failed() { [ "$RC" != 0 ]; }
no_apt_calls() { [ ! -s "$S/calls" ]; }
installs() { grep -c '^apt-get .*install' "$S/calls"; }

make_fakes
REQS=(qemu-system-x86:qemu-system-x86_64 qemu-utils:qemu-img)

# 1. everything there: nothing is installed, not even apt-get update
fresh_system
echo 7.2 >"$S/installed/qemu-system-x86"
printf '#!/bin/sh\n' >"$S/bin/qemu-system-x86_64" && chmod +x "$S/bin/qemu-system-x86_64"
run_deps "${REQS[@]}"
check "all present: exit 0" succeeded
check "all present: no apt-get call" no_apt_calls

# 2. the trap: installing qemu-system-x86 removes qemu-utils; the helper sees it and installs it again
fresh_system
run_deps "${REQS[@]}"
check "conflict: exit 0" succeeded
check "conflict: qemu-img there afterwards" [ -x "$S/bin/qemu-img" ]
check "conflict: installed twice (qemu-system-x86, then the removed qemu-utils)" [ "$(installs)" = 2 ]
check "conflict: says what went missing" contains "missing after the install (removed by a conflict?): qemu-utils"
check "conflict: ends verified" contains "every Debian package and command verified"

# 2b. the same trap as a fresh Debian 12 root shows it (scripts/fresh-root): qemu-utils 10.0
# installed by hand is not removed, apt refuses the whole transaction; the helper installs the
# matching version with it
fresh_system
touch "$S/manual/qemu-utils"
run_deps "${REQS[@]}"
check "breaks: exit 0" succeeded
check "breaks: qemu-utils is the archive's 7.2 now" grep -qx 7.2 "$S/installed/qemu-utils"
check "breaks: qemu-system-x86 installed" [ -x "$S/bin/qemu-system-x86_64" ]
check "breaks: says what it does" contains "installing the matching qemu-utils=7.2 in the same transaction"

# 3. a held package blocks the install: stop, naming it and the command that unholds it
fresh_system
touch "$S/held/qemu-utils"
run_deps "${REQS[@]}"
check "held: exit non-zero" failed
check "held: names the package and apt-mark unhold" contains "sudo apt-mark unhold qemu-utils"
check "held: names the missing command" contains "qemu-system-x86_64 is missing"

# 4. the package is installed but its command is gone: reinstalled
fresh_system
echo 7.2 >"$S/installed/qemu-utils"
echo 7.2 >"$S/installed/qemu-system-x86"
run_deps "${REQS[@]}"
check "command missing: exit 0" succeeded
check "command missing: the command is back" [ -x "$S/bin/qemu-system-x86_64" ]
check "command missing: --reinstall" grep -q -- '--reinstall.*qemu-system-x86' "$S/calls"

# 5. a package the archive does not have: stop, naming it and what to run
fresh_system
run_deps "${REQS[@]}" no-such-package:no-such-command
check "unavailable: exit non-zero" failed
check "unavailable: names the package" contains "deps: no-such-package: no-such-command is missing"
check "unavailable: says what to run" contains "sudo apt-get install no-such-package"

# 6. a requirement without a probe is judged by dpkg's state
fresh_system
echo 7.2 >"$S/archive/libfoo-dev"
run_deps libfoo-dev
check "dpkg state: exit 0" succeeded
check "dpkg state: installs a library package" [ -f "$S/installed/libfoo-dev" ]

echo
echo "deps helper: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
