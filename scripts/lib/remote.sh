# shellcheck shell=bash
# Remote engines for the tests of contexts, SSH and TLS (docs/remote.md), on this machine only:
#
#   gantry_remote_start DIR -> a second private dockerd (scripts/lib/dockerd.sh) that listens on
#       its unix socket and with --tlsverify on 127.0.0.1:PORT (certificates made here with openssl:
#       a CA, the engine's certificate for 127.0.0.1/localhost, a client certificate, and a second
#       CA that signed nothing this engine uses); an sshd on 127.0.0.1:PORT (own host key, config
#       and authorized key; sessions get DOCKER_HOST of that engine, so `docker system dial-stdio`
#       reaches it); a throw-away client key held only by an ssh-agent; known_hosts with the host
#       key; and an `ssh` on PATH that reads DIR's ssh_config (ssh reads ~/.ssh from the account's
#       home, not $HOME, so a test cannot point it elsewhere). The fixture image is copied in.
#       Exports GANTRY_TEST_REMOTE_DIR, GANTRY_TEST_SSH_HOST (a Host alias of that ssh_config),
#       GANTRY_TEST_TLS_ADDRESS, SSH_AUTH_SOCK and PATH.
#   gantry_remote_stop DIR -> stops all of it and deletes DIR.
#
# Needs dockerd.sh and fixtures.sh sourced, root, openssh-server and openssl.

GANTRY_TEST_SSH_ALIAS=gantry-remote-test

# _gantry_free_port: a TCP port nothing on 127.0.0.1 listens on.
_gantry_free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 20000))
    [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ] && {
      echo "$p"
      return 0
    }
  done
  return 1
}

# _gantry_remote_certs DIR: CA, server (127.0.0.1, localhost) and client certificates, and a
# second CA, in DIR/tls.
_gantry_remote_certs() {
  local t=$1/tls
  mkdir -p "$t" && chmod 700 "$t"
  (
    cd "$t" || exit 1
    set -e
    for ca in ca other-ca; do
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/CN=gantry test $ca" -keyout "$ca-key.pem" -out "$ca.pem" 2>/dev/null
    done
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 \
      -keyout server-key.pem -out server.csr 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 \
      -extfile server.ext -out server-cert.pem 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=gantry-client \
      -keyout key.pem -out client.csr 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 \
      -extfile client.ext -out cert.pem 2>/dev/null
    chmod 600 ./*.pem
  )
}

gantry_remote_start() {
  local dir=$1 tls_port ssh_port engine_dir=$1/engine saved_host=${DOCKER_HOST:-}
  mkdir -p "$dir" && chmod 700 "$dir"
  for cmd in openssl /usr/sbin/sshd ssh-keygen ssh-agent ssh-add ss; do
    command -v "$cmd" >/dev/null || {
      echo "remote: $cmd is missing (openssh-server, openssh-client, openssl, iproute2)" >&2
      return 1
    }
  done
  _gantry_remote_certs "$dir" || {
    echo "remote: making the TLS certificates failed" >&2
    return 1
  }
  tls_port=$(_gantry_free_port) && ssh_port=$(_gantry_free_port) || return 1
  gantry_dockerd_start "$engine_dir" -H "tcp://127.0.0.1:$tls_port" --tlsverify \
    --tlscacert "$dir/tls/ca.pem" --tlscert "$dir/tls/server-cert.pem" --tlskey "$dir/tls/server-key.pem" ||
    return 1
  # the fixture image, copied from the first private engine
  if [ -n "$saved_host" ]; then
    DOCKER_HOST=$saved_host docker save "$GANTRY_FIXTURE_IMAGE" | docker load >/dev/null || return 1
  else
    gantry_fixture_images || return 1
  fi
  if [ -n "$saved_host" ]; then export DOCKER_HOST=$saved_host; else unset DOCKER_HOST; fi

  # sshd: its own host key, config and authorized key; sessions reach the engine above.
  ssh-keygen -q -t ed25519 -N '' -C gantry-test-host -f "$dir/host_key" || return 1
  ssh-keygen -q -t ed25519 -N '' -C gantry-test-client -f "$dir/client_key" || return 1
  cp "$dir/client_key.pub" "$dir/authorized_keys"
  mkdir -p /run/sshd
  cat >"$dir/sshd_config" <<EOF
ListenAddress 127.0.0.1:$ssh_port
HostKey $dir/host_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers $(id -un)
SetEnv DOCKER_HOST=unix://$engine_dir/docker.sock
EOF
  /usr/sbin/sshd -t -f "$dir/sshd_config" || return 1
  /usr/sbin/sshd -D -f "$dir/sshd_config" -E "$dir/sshd.log" </dev/null >"$dir/sshd.out" 2>&1 &
  echo $! >"$dir/sshd.launch.pid"

  # the client side: the key only in an agent, the host key in known_hosts, a Host alias
  eval "$(ssh-agent -s -a "$dir/agent.sock" 2>/dev/null)" >/dev/null || return 1
  echo "$SSH_AGENT_PID" >"$dir/agent.pid"
  ssh-add -q "$dir/client_key" || return 1
  rm -f "$dir/client_key"
  echo "[127.0.0.1]:$ssh_port $(cut -d' ' -f1,2 "$dir/host_key.pub")" >"$dir/known_hosts"
  cat >"$dir/ssh_config" <<EOF
Host $GANTRY_TEST_SSH_ALIAS
  HostName 127.0.0.1
  Port $ssh_port
  User $(id -un)
  UserKnownHostsFile $dir/known_hosts
  StrictHostKeyChecking yes
EOF
  mkdir -p "$dir/bin"
  printf '#!/bin/sh\nexec /usr/bin/ssh -F %s "$@"\n' "$dir/ssh_config" >"$dir/bin/ssh"
  chmod 755 "$dir/bin/ssh"
  export PATH="$dir/bin:$PATH" SSH_AUTH_SOCK="$dir/agent.sock"
  export GANTRY_TEST_REMOTE_DIR=$dir GANTRY_TEST_SSH_HOST=$GANTRY_TEST_SSH_ALIAS
  export GANTRY_TEST_TLS_ADDRESS=127.0.0.1:$tls_port

  for _ in $(seq 1 40); do
    if ssh "$GANTRY_TEST_SSH_ALIAS" docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
      echo "remote: engine over ssh://$GANTRY_TEST_SSH_ALIAS (sshd on 127.0.0.1:$ssh_port) and TLS on $GANTRY_TEST_TLS_ADDRESS"
      return 0
    fi
    sleep 0.25
  done
  echo "remote: the engine does not answer through ssh; sshd log:" >&2
  tail -n 20 "$dir/sshd.log" >&2
  ssh "$GANTRY_TEST_SSH_ALIAS" docker version >&2
  return 1
}

# _gantry_kill_children PID: ends the processes whose parent is PID (read from /proc: no procps).
_gantry_kill_children() {
  local stat line fields
  for stat in /proc/[0-9]*/stat; do
    line=$(cat "$stat" 2>/dev/null) || continue
    # pid (comm) state ppid ...; comm may hold spaces and parentheses
    read -r -a fields <<<"${line##*) }"
    [ "${fields[1]:-}" = "$1" ] && kill -TERM "${line%% *}" 2>/dev/null
  done
  return 0
}

gantry_remote_stop() {
  local dir=$1 pid
  [ -d "$dir" ] || return 0
  # the sessions sshd started (each a process of its own): a shared connection's master on the
  # client side (docs/remote.md) would otherwise hold one open for another minute
  pid=$(cat "$dir/sshd.pid" 2>/dev/null) && _gantry_kill_children "$pid"
  for f in sshd.launch.pid agent.pid; do
    pid=$(cat "$dir/$f" 2>/dev/null) && kill -TERM "$pid" 2>/dev/null
  done
  gantry_dockerd_stop "$dir/engine"
  rm -rf "$dir"
}
