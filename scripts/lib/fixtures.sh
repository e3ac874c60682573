# shellcheck shell=bash
# Fixture images for tests, made locally (no registry): `gantry-test/busybox:latest` is a root
# filesystem of Debian's busybox-static (/bin/busybox plus its applet symlinks) imported with
# `docker import`. Needs DOCKER_HOST set.

GANTRY_FIXTURE_IMAGE=gantry-test/busybox:latest

gantry_fixture_images() {
  if docker image inspect "$GANTRY_FIXTURE_IMAGE" >/dev/null 2>&1; then
    echo "fixtures: $GANTRY_FIXTURE_IMAGE present"
    return 0
  fi
  local bb rootfs
  # Debian's busybox-static installs a static /bin/busybox (the dynamic `busybox` package would
  # not run in an empty root filesystem).
  bb=/bin/busybox
  [ -x "$bb" ] || {
    echo "fixtures: /bin/busybox missing (install busybox-static)" >&2
    return 1
  }
  rootfs=$(mktemp -d /tmp/gantry-busybox.XXXXXX) || return 1
  mkdir -p "$rootfs"/{bin,etc,tmp,root,proc,sys,dev,var/www}
  cp "$bb" "$rootfs/bin/busybox"
  "$rootfs/bin/busybox" --install -s "$rootfs/bin"
  # --install -s links to the absolute path of the host copy; rewrite as /bin/busybox.
  local l
  for l in "$rootfs"/bin/*; do
    [ -L "$l" ] && ln -sf /bin/busybox "$l"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  chmod 1777 "$rootfs/tmp"
  tar -C "$rootfs" -c . | docker import \
    --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' \
    --message 'gantry test fixture: busybox-static' - "$GANTRY_FIXTURE_IMAGE" >/dev/null
  local rc=$?
  rm -rf "$rootfs"
  [ $rc -eq 0 ] && echo "fixtures: imported $GANTRY_FIXTURE_IMAGE"
  return $rc
}

# gantry_fixture_arm64_busybox: Debian's arm64 busybox-static (a static aarch64 /bin/busybox) for
# the multi-architecture tests, fetched once into GANTRY_FIXTURE_CACHE (default
# ~/.cache/gantry/fixtures). Exports GANTRY_TEST_ARM64_BUSYBOX, its path. Needs scripts/lib/deps.sh.
gantry_fixture_arm64_busybox() {
  local dir=${GANTRY_FIXTURE_CACHE:-$HOME/.cache/gantry/fixtures}/arm64 deb
  if [ ! -s "$dir/bin/busybox" ]; then
    deb=$(gantry_fetch_debs bookworm/arm64 "$dir/debs" busybox-static | tail -n 1)
    [ -n "$deb" ] || {
      echo "fixtures: could not fetch Debian's arm64 busybox-static" >&2
      return 1
    }
    rm -rf "$dir/x" && dpkg-deb -x "$deb" "$dir/x" || return 1
    mkdir -p "$dir/bin" && mv "$dir/x/bin/busybox" "$dir/bin/busybox" && rm -rf "$dir/x" "$dir/debs"
  fi
  # an ELF for the AArch64 machine (e_machine 183 = 0xb7 at offset 18)
  if [ "$(od -An -tx1 -j18 -N2 "$dir/bin/busybox" | tr -d ' ')" != b700 ]; then
    echo "fixtures: $dir/bin/busybox is not an AArch64 program" >&2
    return 1
  fi
  export GANTRY_TEST_ARM64_BUSYBOX=$dir/bin/busybox
  echo "fixtures: arm64 busybox at $GANTRY_TEST_ARM64_BUSYBOX"
}
