# shellcheck shell=bash
# Stand-in images for `gantry lab test` (no registry is reachable here): the images the starter labs
# declare, built locally from the gantry-test/busybox fixture (fixtures.sh) with the Dockerfiles in
# crates/gantry-labs/stand-ins/ (its README says what each stands for). Needs DOCKER_HOST set.
#
#   gantry_lab_images   -> builds busybox:1.36, nginx:1.27-alpine, debian:bookworm-slim and, when
#                          Debian's docker-registry is installed, registry:2; exports
#                          GANTRY_LAB_STAND_INS (the names built)

gantry_lab_images() {
  local root=crates/gantry-labs/stand-ins dir tag ctx built=()
  gantry_fixture_images || return 1
  docker tag "$GANTRY_FIXTURE_IMAGE" busybox:1.36 || return 1
  built+=(busybox:1.36)
  for dir in "$root"/nginx "$root"/debian; do
    tag=$(tr -d '[:space:]' <"$dir/TAG")
    docker build -q -t "$tag" "$dir" >/dev/null || {
      echo "lab images: building $tag failed" >&2
      return 1
    }
    built+=("$tag")
  done
  if command -v docker-registry >/dev/null; then
    tag=$(tr -d '[:space:]' <"$root/registry/TAG")
    ctx=$(mktemp -d /tmp/gantry-registry-ctx.XXXXXX) || return 1
    cp "$root"/registry/{Dockerfile,config.yml} "$ctx/"
    mkdir -p "$ctx/rootfs/bin"
    cp "$(command -v docker-registry)" "$ctx/rootfs/bin/registry"
    # The binary links the C library only (ldd lists it and the loader with absolute paths).
    local lib
    for lib in $(ldd "$(command -v docker-registry)" | grep -oE '/[^ ]+'); do
      mkdir -p "$ctx/rootfs$(dirname "$lib")"
      cp -L "$lib" "$ctx/rootfs$lib"
    done
    docker build -q -t "$tag" "$ctx" >/dev/null
    local rc=$?
    rm -rf "$ctx"
    [ $rc -eq 0 ] || {
      echo "lab images: building $tag failed" >&2
      return 1
    }
    built+=("$tag")
  else
    echo "lab images: docker-registry is not installed; no registry:2 stand-in (the registries lab cannot be tested)" >&2
  fi
  export GANTRY_LAB_STAND_INS="${built[*]}"
  echo "lab images: ${built[*]}"
}
