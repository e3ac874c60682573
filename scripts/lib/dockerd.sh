# shellcheck shell=bash
# A private Docker engine for tests: own socket, data-root, exec-root, pid file and bridge under a
# temporary directory, so it never touches (or collides with) a system daemon or another private one.
#
#   gantry_dockerd_start DIR [DOCKERD_ARG...] -> starts dockerd under DIR (with the extra arguments,
#                                 e.g. a TLS listener), waits for it, exports DOCKER_HOST
#   gantry_dockerd_stop DIR    -> removes its containers/networks, stops it, unmounts, deletes DIR
#   gantry_dockerd_kill DIR / gantry_dockerd_relaunch DIR -> stop only the daemon (SIGTERM, its
#                                 state stays) and start it again with the same arguments (tests
#                                 of a lost engine that comes back)
#
# Networking: each daemon gets its own bridge interface (created here with `ip link add`) and its
# own 10.N.0.0/16 address pool, N chosen so that no existing route overlaps. iptables management is
# enabled only when no other dockerd is running (two daemons fighting over the DOCKER chains break
# each other); without it, published ports still answer on 127.0.0.1 through docker-proxy and
# containers on one network still reach each other, which is all the tests need.

# Picks N and reserves it by creating /tmp/gantry-dockerd-net-N with O_EXCL (noclobber), so two
# engines started at the same moment (tests run in parallel) never pick the same pool.
_gantry_pick_octet() {
  local n routes
  routes=$(
    ip -4 route show table all 2>/dev/null
    ip -4 addr show 2>/dev/null
  )
  for n in $(seq 200 250); do
    if ! grep -qE "(^|[^0-9])10\.$n\." <<<"$routes" && (set -C && echo reserved >"/tmp/gantry-dockerd-net-$n") 2>/dev/null; then
      echo "$n"
      return 0
    fi
  done
  return 1
}

gantry_dockerd_start() {
  local dir=$1 n br ipt=true other
  shift
  mkdir -p "$dir"
  if [ "$(id -u)" -ne 0 ]; then
    echo "dockerd: the private engine needs root (rootful dockerd)" >&2
    return 1
  fi
  # Another dockerd running (system or private)? Then leave iptables to it.
  other=$(pgrep -x dockerd || true)
  [ -n "$other" ] && ipt=false
  # GANTRY_DOCKERD_IPTABLES=false: where other engines may run out of sight (scripts/fresh-root)
  [ "${GANTRY_DOCKERD_IPTABLES:-}" = false ] && ipt=false
  n=$(_gantry_pick_octet) || {
    echo "dockerd: no free 10.N.0.0/16 pool" >&2
    return 1
  }
  echo "$dir" >"/tmp/gantry-dockerd-net-$n"
  echo "$n" >"$dir/net-octet"
  br="gty$n-$$"
  br=${br:0:15}
  echo "$br" >"$dir/bridge"
  ip link add name "$br" type bridge || return 1
  ip addr add "10.$n.255.1/24" dev "$br" || return 1
  ip link set "$br" up || return 1
  mkdir -p "$dir/data" "$dir/exec"
  if [ "$ipt" = false ] && command -v iptables >/dev/null; then
    # The other daemon may have set the FORWARD policy to DROP, and with br_netfilter bridged
    # traffic between two of our containers passes through FORWARD: accept our pool explicitly.
    iptables -I FORWARD -s "10.$n.0.0/16" -d "10.$n.0.0/16" -j ACCEPT 2>/dev/null &&
      echo "-s 10.$n.0.0/16 -d 10.$n.0.0/16 -j ACCEPT" >"$dir/iptables-rule"
  fi
  echo "dockerd: starting under $dir (bridge $br 10.$n.255.1/24, pool 10.$n.0.0/17, iptables=$ipt)"
  local args=(
    dockerd
    -H "unix://$dir/docker.sock"
    --data-root "$dir/data"
    --exec-root "$dir/exec"
    --pidfile "$dir/docker.pid"
    --bridge "$br"
    --default-address-pool "base=10.$n.0.0/17,size=24"
    --iptables="$ipt" --ip-masq="$ipt"
    --storage-driver "${GANTRY_DOCKERD_STORAGE_DRIVER:-overlay2}"
    "$@"
  )
  # kept for gantry_dockerd_relaunch
  printf '%s\0' "${args[@]}" >"$dir/dockerd.args"
  "${args[@]}" >"$dir/dockerd.log" 2>&1 </dev/null &
  echo $! >"$dir/dockerd.launch.pid"
  export DOCKER_HOST="unix://$dir/docker.sock"
  local i
  for i in $(seq 1 120); do
    if docker version >/dev/null 2>&1; then
      echo "dockerd: ready after ~$((i / 2)) s ($(docker version --format '{{.Server.Version}} API {{.Server.APIVersion}}'))"
      return 0
    fi
    if ! kill -0 "$(cat "$dir/dockerd.launch.pid")" 2>/dev/null; then
      echo "dockerd: exited during start-up; log tail:" >&2
      tail -n 40 "$dir/dockerd.log" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "dockerd: no answer after 60 s; log tail:" >&2
  tail -n 40 "$dir/dockerd.log" >&2
  return 1
}

# _gantry_dockerd_wait_gone PID: waits up to 20 s for the daemon to exit, then kills it.
_gantry_dockerd_wait_gone() {
  local pid=$1 i
  for i in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.5
  done
  echo "dockerd: still running after 20 s, killing $pid" >&2
  kill -KILL "$pid" 2>/dev/null
}

gantry_dockerd_kill() {
  local dir=$1 pid
  pid=$(cat "$dir/dockerd.launch.pid" 2>/dev/null) || return 1
  kill -TERM "$pid" 2>/dev/null
  _gantry_dockerd_wait_gone "$pid"
}

gantry_dockerd_relaunch() {
  local dir=$1 args i
  mapfile -d '' -t args <"$dir/dockerd.args" || return 1
  "${args[@]}" >>"$dir/dockerd.log" 2>&1 </dev/null &
  echo $! >"$dir/dockerd.launch.pid"
  for i in $(seq 1 120); do
    DOCKER_HOST="unix://$dir/docker.sock" docker version >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "dockerd: no answer 60 s after the relaunch" >&2
  return 1
}

gantry_dockerd_stop() {
  local dir=$1 pid n br i
  [ -d "$dir" ] || return 0
  pid=$(cat "$dir/dockerd.launch.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    local host="unix://$dir/docker.sock" ids
    ids=$(DOCKER_HOST=$host timeout 20 docker ps -aq 2>/dev/null || true)
    # shellcheck disable=SC2086
    [ -n "$ids" ] && DOCKER_HOST=$host timeout 60 docker rm -f -v $ids >/dev/null 2>&1
    DOCKER_HOST=$host timeout 20 docker network prune -f >/dev/null 2>&1
    kill -TERM "$pid" 2>/dev/null
    _gantry_dockerd_wait_gone "$pid"
    wait "$pid" 2>/dev/null || true
  fi
  # Its managed containerd and the shims normally exit with it; kill leftovers, found by pid: only
  # processes whose command line names this daemon's private directory.
  local p
  for p in /proc/[0-9]*; do
    if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF -- "$dir/"; then
      kill -KILL "${p#/proc/}" 2>/dev/null
    fi
  done
  # Unmount everything below DIR, deepest first, then delete it.
  local m
  for i in 1 2 3; do
    mapfile -t m < <(awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts | sort -r)
    [ "${#m[@]}" -eq 0 ] && break
    umount "${m[@]}" 2>/dev/null || umount -l "${m[@]}" 2>/dev/null || true
  done
  if [ -f "$dir/iptables-rule" ]; then
    # shellcheck disable=SC2046
    iptables -D FORWARD $(cat "$dir/iptables-rule") 2>/dev/null
  fi
  br=$(cat "$dir/bridge" 2>/dev/null || true)
  [ -n "$br" ] && ip link del "$br" 2>/dev/null
  n=$(cat "$dir/net-octet" 2>/dev/null || true)
  if [ -n "$n" ]; then
    # Bridges of user networks the daemon left behind.
    local ifc
    for ifc in $(ip -4 -o addr show 2>/dev/null | awk -v p="10.$n." 'index($4, p) == 1 { print $2 }'); do
      ip link del "$ifc" 2>/dev/null
    done
    rm -f "/tmp/gantry-dockerd-net-$n"
  fi
  rm -rf "$dir" 2>/dev/null || {
    sleep 1
    rm -rf "$dir"
  }
}
