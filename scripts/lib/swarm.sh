# shellcheck shell=bash
# A Swarm of two engines on this machine for the services/nodes/stacks tests (docs/remote.md):
# each dockerd in its own network namespace (so each has its own Swarm ports 2377/7946/4789 and
# iptables), the two namespaces joined by a veth pair on 10.N.0.0/24 (N free, as dockerd.sh picks
# it), each daemon with its own host name (a UTS namespace): gantry-swarm-manager and
# gantry-swarm-worker. Their sockets are ordinary unix sockets under DIR, reachable from here.
#
#   gantry_swarm_start DIR -> both engines with the fixture image, the manager's `swarm init`
#       and the worker's join done by the docker CLI (the tests then use Gantry's API only).
#       Exports GANTRY_TEST_SWARM_MANAGER, GANTRY_TEST_SWARM_WORKER (unix:// endpoints) and
#       GANTRY_TEST_SWARM_IMAGE_V2 (a second image, on both, to roll the service to).
#   gantry_swarm_stop DIR -> leaves the swarm, stops both engines and their leftovers, removes the
#       namespaces and DIR.
#
# Needs dockerd.sh and fixtures.sh sourced, root, iproute2 and util-linux (nsenter, unshare).

GANTRY_SWARM_IMAGE_V2=gantry-test/busybox:v2

# _gantry_swarm_engine DIR ROLE NETNS: starts one dockerd of the swarm.
_gantry_swarm_engine() {
  local dir=$1/$2 role=$2 ns=$3
  mkdir -p "$dir/data" "$dir/exec"
  local args=(
    dockerd
    -H "unix://$dir/docker.sock"
    --data-root "$dir/data"
    --exec-root "$dir/exec"
    --pidfile "$dir/docker.pid"
    --storage-driver "${GANTRY_DOCKERD_STORAGE_DRIVER:-overlay2}"
  )
  # only the network and host name are its own; `ip netns exec` would also hide the cgroup mounts
  # shellcheck disable=SC2016 # $1 and $@ are the inner shell's
  unshare --uts -- sh -c 'hostname "$1" && shift && exec nsenter --net="$@"' \
    gantry-swarm "gantry-swarm-$role" "/run/netns/$ns" "${args[@]}" \
    >"$dir/dockerd.log" 2>&1 </dev/null &
  echo $! >"$dir/dockerd.launch.pid"
}

# _gantry_swarm_wait HOST: waits up to 30 s for an engine to answer.
_gantry_swarm_wait() {
  for _ in $(seq 1 60); do
    DOCKER_HOST=$1 docker version >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  return 1
}

gantry_swarm_start() {
  local dir=$1 n ns_m ns_w manager worker saved_host=${DOCKER_HOST:-}
  mkdir -p "$dir" && chmod 700 "$dir"
  for cmd in ip nsenter unshare dockerd docker; do
    command -v "$cmd" >/dev/null || {
      echo "swarm: $cmd is missing (iproute2, util-linux, docker.io)" >&2
      return 1
    }
  done
  n=$(_gantry_pick_octet) || {
    echo "swarm: no free 10.N.0.0/16 range" >&2
    return 1
  }
  echo "$dir" >"/tmp/gantry-dockerd-net-$n"
  echo "$n" >"$dir/net-octet"
  ns_m="gty-swm-$n" ns_w="gty-sww-$n"
  echo "$ns_m $ns_w" >"$dir/netns"
  ip netns add "$ns_m" && ip netns add "$ns_w" || return 1
  ip link add "gtyswm$n" type veth peer name "gtysww$n" || return 1
  ip link set "gtyswm$n" netns "$ns_m" && ip link set "gtysww$n" netns "$ns_w" || return 1
  ip -n "$ns_m" addr add "10.$n.0.1/24" dev "gtyswm$n" && ip -n "$ns_w" addr add "10.$n.0.2/24" dev "gtysww$n" ||
    return 1
  local ns
  for ns in "$ns_m" "$ns_w"; do
    ip -n "$ns" link set lo up && ip -n "$ns" link set "$([ "$ns" = "$ns_m" ] && echo "gtyswm$n" || echo "gtysww$n")" up ||
      return 1
  done
  _gantry_swarm_engine "$dir" manager "$ns_m"
  _gantry_swarm_engine "$dir" worker "$ns_w"
  manager="unix://$dir/manager/docker.sock" worker="unix://$dir/worker/docker.sock"
  for host in "$manager" "$worker"; do
    _gantry_swarm_wait "$host" || {
      echo "swarm: the engine at $host does not answer; its log:" >&2
      tail -n 20 "${host#unix://}/../dockerd.log" >&2
      return 1
    }
  done

  # the fixture image and a second one (another layer on top) on both nodes: no registry here
  if [ -z "$saved_host" ]; then
    echo "swarm: needs the first private engine (DOCKER_HOST) for the fixture image" >&2
    return 1
  fi
  if ! DOCKER_HOST=$saved_host docker image inspect "$GANTRY_SWARM_IMAGE_V2" >/dev/null 2>&1; then
    printf 'FROM %s\nRUN echo v2 >/version\n' "$GANTRY_FIXTURE_IMAGE" |
      DOCKER_HOST=$saved_host DOCKER_BUILDKIT=0 docker build -q -t "$GANTRY_SWARM_IMAGE_V2" - >"$dir/build.log" 2>&1 || {
      cat "$dir/build.log" >&2
      return 1
    }
  fi
  for host in "$manager" "$worker"; do
    DOCKER_HOST=$saved_host docker save "$GANTRY_FIXTURE_IMAGE" "$GANTRY_SWARM_IMAGE_V2" |
      DOCKER_HOST=$host docker load -q >/dev/null || return 1
  done

  DOCKER_HOST=$manager docker swarm init --advertise-addr "10.$n.0.1" --listen-addr "10.$n.0.1:2377" \
    >/dev/null || return 1
  DOCKER_HOST=$worker docker swarm join --advertise-addr "10.$n.0.2" --listen-addr "10.$n.0.2:2377" \
    --token "$(DOCKER_HOST=$manager docker swarm join-token -q worker)" "10.$n.0.1:2377" >/dev/null || return 1
  export GANTRY_TEST_SWARM_MANAGER=$manager GANTRY_TEST_SWARM_WORKER=$worker
  export GANTRY_TEST_SWARM_IMAGE_V2=$GANTRY_SWARM_IMAGE_V2
  echo "swarm: manager gantry-swarm-manager (10.$n.0.1) and worker gantry-swarm-worker (10.$n.0.2)"
}

gantry_swarm_stop() {
  local dir=$1 role host pid n p m ns
  [ -d "$dir" ] || return 0
  for role in worker manager; do
    host="unix://$dir/$role/docker.sock"
    pid=$(cat "$dir/$role/dockerd.launch.pid" 2>/dev/null || true)
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
      continue
    fi
    DOCKER_HOST=$host timeout 20 docker swarm leave --force >/dev/null 2>&1
    kill -TERM "$pid" 2>/dev/null
    _gantry_dockerd_wait_gone "$pid"
  done
  # leftovers (containerd, shims) by their command line naming DIR, as dockerd.sh does
  for p in /proc/[0-9]*; do
    if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF -- "$dir/"; then
      kill -KILL "${p#/proc/}" 2>/dev/null
    fi
  done
  for _ in 1 2 3; do
    mapfile -t m < <(awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts | sort -r)
    [ "${#m[@]}" -eq 0 ] && break
    umount "${m[@]}" 2>/dev/null || umount -l "${m[@]}" 2>/dev/null || true
  done
  # deleting the namespaces deletes the veth pair and the bridges the daemons made in them
  local namespaces=()
  read -ra namespaces <"$dir/netns" 2>/dev/null
  for ns in "${namespaces[@]}"; do
    ip netns del "$ns" 2>/dev/null
  done
  n=$(cat "$dir/net-octet" 2>/dev/null || true)
  [ -n "$n" ] && rm -f "/tmp/gantry-dockerd-net-$n"
  rm -rf "$dir" 2>/dev/null || {
    sleep 1
    rm -rf "$dir"
  }
}
