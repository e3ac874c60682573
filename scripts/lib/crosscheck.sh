# shellcheck shell=bash
# Windows and macOS checks on a Linux machine (scripts/test's cross-platform stage).
#
# - Rust's standard library for the two targets comes from rustup (`rustup target add`); when it
#   cannot be fetched the stage is skipped loudly, never failed for that reason alone.
# - Windows (x86_64-pc-windows-gnu): Debian's mingw-w64 links, Wine runs the test binaries. Rust's
#   std (>= 1.78) imports ProcessPrng from bcryptprimitives.dll, which Wine 8 lacks: a ten-line
#   shim DLL built with mingw goes into the Wine prefix.
# - macOS (aarch64-apple-darwin): type-check and clippy only (no SDK, no linker here); C build
#   scripts (ring) compile with clang against a stub TargetConditionals.h.
# Source this file, then `gantry_cross_targets` (fetch the targets) and `gantry_cross_env DIR`
# (exports the compilers, linker, runner and Wine prefix; DIR keeps the prefix between runs), or
# `gantry_cross_prepare DIR` for both with the Debian packages. Both targets build into the same
# CARGO_TARGET_DIR as the host (target/<triple>/), so CI's warm cache serves them too.

GANTRY_CROSS_WINDOWS=x86_64-pc-windows-gnu
GANTRY_CROSS_MACOS=aarch64-apple-darwin
# Debian packages (package:probe, as in deps.sh) the cross-platform stage needs.
GANTRY_CROSS_PACKAGES=(
  gcc-mingw-w64-x86-64:x86_64-w64-mingw32-gcc
  wine64:/usr/lib/wine/wine64
  clang:clang
  llvm:llvm-ar
)
# Crates not type-checked for Windows (none: the whole workspace is, as for macOS).
GANTRY_CROSS_WINDOWS_EXCLUDE=()
# The Windows tests run under Wine: the crates with Windows-specific code (named pipes: the
# engine forwarder, the agent's control channel and its clients).
GANTRY_CROSS_WINE_TESTS=(-p gantry-machine -p gantry-core --lib)
GANTRY_WINE=/usr/lib/wine/wine64
GANTRY_WINESERVER=/usr/lib/wine/wineserver

# gantry_cross_targets: adds the Windows and macOS standard libraries with rustup. Returns 1 with
# the reason on stderr when they cannot be fetched (offline, no rustup).
gantry_cross_targets() {
  local installed target missing=()
  command -v rustup >/dev/null || {
    echo "cross: rustup not found: cannot add the $GANTRY_CROSS_WINDOWS and $GANTRY_CROSS_MACOS targets" >&2
    return 1
  }
  installed=$(rustup target list --installed 2>/dev/null)
  for target in "$GANTRY_CROSS_WINDOWS" "$GANTRY_CROSS_MACOS"; do
    grep -qx -- "$target" <<<"$installed" || missing+=("$target")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  rustup target add "${missing[@]}" || {
    echo "cross: 'rustup target add ${missing[*]}' failed (no network to static.rust-lang.org?)" >&2
    return 1
  }
}

# gantry_cross_env DIR: exports what cargo needs for both targets; builds the Wine prefix in
# DIR/wineprefix once (with the ProcessPrng shim) and checks that Wine runs.
gantry_cross_env() {
  local dir=$1 cmd
  for cmd in x86_64-w64-mingw32-gcc clang llvm-ar "$GANTRY_WINE"; do
    command -v "$cmd" >/dev/null || {
      echo "cross: $cmd is missing (install: ${GANTRY_CROSS_PACKAGES[*]%%:*})" >&2
      return 1
    }
  done
  mkdir -p "$dir/apple-stub" || return 1
  cat >"$dir/apple-stub/TargetConditionals.h" <<'EOF'
#pragma once
#define TARGET_OS_MAC 1
#define TARGET_OS_OSX 1
#define TARGET_OS_IPHONE 0
#define TARGET_OS_IOS 0
#define TARGET_OS_TV 0
#define TARGET_OS_WATCH 0
#define TARGET_OS_SIMULATOR 0
EOF
  export CC_aarch64_apple_darwin=clang AR_aarch64_apple_darwin=llvm-ar
  export CFLAGS_aarch64_apple_darwin="-nostdlibinc -DRING_CORE_NOSTDLIBINC -isystem $dir/apple-stub"
  export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
  # Wine, run again once when Wine itself failed to start a test executable (scripts/lib/wine-runner)
  export GANTRY_WINE GANTRY_WINESERVER
  CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/wine-runner
  export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER
  export WINEPREFIX=$dir/wineprefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
  gantry_wine_prefix "$dir" || return 1
}

# gantry_wine_prefix DIR: a Wine prefix with bcryptprimitives.dll (ProcessPrng over RtlGenRandom).
gantry_wine_prefix() {
  local dir=$1 dll=$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll
  [ -f "$dll" ] && return 0
  cat >"$dir/bcryptprimitives.c" <<'EOF'
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID, ULONG); /* RtlGenRandom (advapi32) */
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, n)) return FALSE;
        data += n; len -= n;
    }
    return TRUE;
}
EOF
  printf 'LIBRARY bcryptprimitives\nEXPORTS\n  ProcessPrng\n' >"$dir/bcryptprimitives.def"
  x86_64-w64-mingw32-gcc -O2 -shared -o "$dir/bcryptprimitives.dll" \
    "$dir/bcryptprimitives.c" "$dir/bcryptprimitives.def" -ladvapi32 || return 1
  echo "cross: creating the Wine prefix $WINEPREFIX"
  "$GANTRY_WINE" wineboot --init >/dev/null 2>&1 </dev/null
  "$GANTRY_WINESERVER" -w
  [ -d "$WINEPREFIX/drive_c/windows/system32" ] || {
    echo "cross: wineboot did not create $WINEPREFIX" >&2
    return 1
  }
  cp "$dir/bcryptprimitives.dll" "$dll"
}

# gantry_wine_stop: ends the wineserver of this prefix (and the programs it still runs).
gantry_wine_stop() {
  [ -n "${WINEPREFIX:-}" ] && "$GANTRY_WINESERVER" -k 2>/dev/null
  return 0
}

# gantry_cross_prepare DIR: the Debian packages (unless GANTRY_SKIP_DEPS=1), the two targets and
# the environment. Returns 1 with the reason on stderr when something cannot be had: the caller
# skips the cross-platform checks loudly instead of failing.
gantry_cross_prepare() {
  local dir=$1
  if [ "${GANTRY_SKIP_DEPS:-0}" != 1 ]; then
    gantry_install_debian_packages "${GANTRY_CROSS_PACKAGES[@]}" || {
      echo "cross: the Debian packages for the cross checks could not be installed" >&2
      return 1
    }
  fi
  gantry_cross_targets || return 1
  gantry_cross_env "$dir" || return 1
}

# gantry_cross_clippy windows|macos [CARGO ARGS...]: clippy (which type-checks) every target of
# the checked crates for that system, warnings denied as on Linux.
gantry_cross_clippy() {
  local os=$1 target exclude=() crate
  shift
  case $os in
  windows)
    target=$GANTRY_CROSS_WINDOWS
    for crate in "${GANTRY_CROSS_WINDOWS_EXCLUDE[@]}"; do exclude+=(--exclude "$crate"); done
    [ "${#exclude[@]}" -eq 0 ] || echo "cross: not yet checked for Windows: ${GANTRY_CROSS_WINDOWS_EXCLUDE[*]}"
    ;;
  macos) target=$GANTRY_CROSS_MACOS ;;
  *)
    echo "gantry_cross_clippy: windows or macos, not '$os'" >&2
    return 2
    ;;
  esac
  cargo clippy --workspace "${exclude[@]}" --all-targets --locked --target "$target" "$@" -- -D warnings
}

# gantry_cross_wine_tests RUN: runs the Windows tests under Wine as `RUN cargo-test-args...`
# (`cargo test` itself, or a wrapper that counts), then ends Wine's server.
gantry_cross_wine_tests() {
  local rc
  "$1" --locked --target "$GANTRY_CROSS_WINDOWS" "${GANTRY_CROSS_WINE_TESTS[@]}"
  rc=$?
  gantry_wine_stop
  return "$rc"
}
