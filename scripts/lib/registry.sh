# shellcheck shell=bash
# A private Docker registry (Debian `docker-registry`, distribution 2.x) on 127.0.0.1:PORT with its
# storage under DIR, for push/pull round-trip tests. The engine treats 127.0.0.0/8 as insecure by
# default, so no TLS is needed.
#
#   gantry_registry_start DIR  -> exports GANTRY_TEST_REGISTRY=127.0.0.1:PORT, returns non-zero if
#                                 the registry is not installed or does not answer
#   gantry_registry_start DIR USER PASSWORD
#                              -> the same registry with htpasswd (bcrypt, from apache2-utils)
#                                 login; exports GANTRY_TEST_AUTH_REGISTRY=127.0.0.1:PORT,
#                                 GANTRY_TEST_AUTH_USER and GANTRY_TEST_AUTH_PASSWORD. Distribution
#                                 accepts basic auth over plain HTTP (it only warns).

gantry_free_port() {
  python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

gantry_registry_start() {
  local dir=$1 user=${2:-} password=${3:-} port auth=""
  command -v docker-registry >/dev/null || {
    echo "registry: docker-registry is not installed (Debian: apt install docker-registry; scripts/lib/deps.sh installs it)" >&2
    return 1
  }
  mkdir -p "$dir/storage"
  port=$(gantry_free_port)
  if [ -n "$user" ]; then
    command -v htpasswd >/dev/null || {
      echo "registry: htpasswd (apache2-utils) is missing" >&2
      return 1
    }
    htpasswd -nbB "$user" "$password" >"$dir/htpasswd" || return 1
    auth="auth:
  htpasswd:
    realm: gantry-test
    path: $dir/htpasswd"
  fi
  cat >"$dir/config.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
$auth
YML
  docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 </dev/null &
  echo $! >"$dir/registry.pid"
  for _ in $(seq 1 50); do
    if [ -n "$user" ] && curl -fsS -u "$user:$password" "http://127.0.0.1:$port/v2/" >/dev/null 2>&1; then
      export GANTRY_TEST_AUTH_REGISTRY="127.0.0.1:$port" GANTRY_TEST_AUTH_USER=$user GANTRY_TEST_AUTH_PASSWORD=$password
      echo "registry: ready at $GANTRY_TEST_AUTH_REGISTRY (login $user)"
      return 0
    fi
    if [ -z "$user" ] && curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1; then
      export GANTRY_TEST_REGISTRY="127.0.0.1:$port"
      echo "registry: ready at $GANTRY_TEST_REGISTRY"
      return 0
    fi
    kill -0 "$(cat "$dir/registry.pid")" 2>/dev/null || break
    sleep 0.2
  done
  echo "registry: did not start; log tail:" >&2
  tail -n 20 "$dir/registry.log" >&2
  gantry_registry_stop "$dir"
  return 1
}

gantry_registry_stop() {
  local dir=$1 pid
  pid=$(cat "$dir/registry.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
