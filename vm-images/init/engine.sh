# shellcheck shell=sh
# The engine part of a Gantry guest init, sourced (POSIX sh) by both inits: the QEMU guest's
# (stage2.sh) and the WSL 2 distribution's (wsl-init). Console helpers, containerd + dockerd with
# mutual TLS, the readiness check, dockerd's supervisor and the clean stop; the settings file
# parser WSL uses (stage2.sh has its own, which also mounts shares).
# Contract (config keys, console lines): vm-images/README.md.
#
# The caller sets: STATE (a private directory), TLS (ca.pem, server-cert.pem, server-key.pem),
# DATA (/var/lib/docker), CONTAINERD_STATE (/var/lib/containerd); optionally ENGINE_EXITS, a
# fifo the caller reads: "dockerd STATUS" is written there when dockerd exits on its own.

DOCKER_SOCK=/var/run/docker.sock
CONTAINERD_SOCK=/run/containerd/containerd.sock
PORT=2376
dockerd_pid=
containerd_pid=

uptime_s() {
  read -r up _ </proc/uptime
  echo "$up"
}

# Console lines are printed verbatim (printf '%s'): echo would take a backslash in a path or a
# setting (\c, \n) as an escape and cut or split the line.
log() {
  printf 'gantry-init: %s [%ss]\n' "$*" "$(uptime_s)"
}

err() {
  printf 'gantry-init: error: %s\n' "$*"
}

# Prints the last lines of a log file, prefixed.
show_tail() {
  [ -f "$1" ] || return 0
  tail -n "${2:-15}" "$1" | while IFS= read -r l; do
    printf 'gantry-init:   | %s\n' "$l"
  done
}

# Is process $1 running (and not a zombie)?
alive() {
  [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
  st=
  read -r _ _ st _ <"/proc/$1/stat" 2>/dev/null || return 1
  [ "$st" != Z ]
}

# Sends SIGTERM to $1 ($2: name) and waits up to $3 seconds, then SIGKILL.
stop_pid() {
  pid=$1 name=$2 bound=$3
  alive "$pid" || return 0
  log "shutdown: stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null
  n=0
  while alive "$pid" && [ "$n" -lt $((bound * 10)) ]; do
    sleep 0.1
    n=$((n + 1))
  done
  if alive "$pid"; then
    err "shutdown: $name did not stop within ${bound}s, killing it"
    kill -KILL "$pid" 2>/dev/null
    sleep 0.2
  fi
  wait "$pid" 2>/dev/null
  log "shutdown: $name stopped"
}

# gantry_parse_config FILE: the settings (KEY=VALUE lines). Sets PORT; share and hide lines are
# written to $STATE/shares.wanted and $STATE/hidden for an init that mounts shares. Returns 1
# (after an error line) on an invalid port.
gantry_parse_config() {
  : >"$STATE/shares.wanted"
  [ -r "$1" ] || return 0
  cr=$(printf '\r')
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%"$cr"}
    case "$line" in '' | '#'*) continue ;; esac
    case "$line" in
    *=*) ;;
    *)
      err "config: ignoring line without '='"
      continue
      ;;
    esac
    key=${line%%=*}
    val=${line#*=}
    case "$key" in
    DOCKERD_PORT | engine_port)
      case "$val" in
      '' | *[!0-9]*)
        err "config: $key is not a port number: $val"
        return 1
        ;;
      esac
      if ! { [ "${#val}" -le 5 ] && [ "$val" -ge 1 ] && [ "$val" -le 65535 ]; }; then
        err "config: $key out of range: $val"
        return 1
      fi
      PORT=$val
      ;;
    share[0-9] | share[0-9][0-9]) printf '%s %s\n' "$key" "$val" >>"$STATE/shares.wanted" ;;
    hide[0-9] | hide[0-9][0-9]) printf '%s\n' "$val" >>"$STATE/hidden" ;;
    SHARES) [ -z "$val" ] || printf 'SHARES %s\n' "$val" >>"$STATE/shares.wanted" ;;
    *) log "config: ignoring unknown key $key" ;;
    esac
  done <"$1"
}

# gantry_check_tls: the three TLS files are there and not empty.
gantry_check_tls() {
  for f in ca.pem server-cert.pem server-key.pem; do
    [ -s "$TLS/$f" ] || {
      err "tls: $f missing or empty"
      return 1
    }
  done
}

# dockerd answers GET /_ping on its unix socket (perl-base is essential; the Go CLI is slow to
# start under emulation).
engine_ping() {
  perl -MIO::Socket::UNIX -e '
		$SIG{ALRM} = sub { exit 1 }; alarm 10;
		my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or exit 1;
		print $s "GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n";
		my $r = join "", <$s>;
		exit($r =~ m{^HTTP/1\.[01] 200} ? 0 : 1);' "$DOCKER_SOCK" 2>/dev/null
}

# wait_for NAME PID LOG TRIES PAUSE LATE CHECK...: runs CHECK every PAUSE seconds until it
# succeeds; returns 1 with LOG's tail and an error line when process PID exits ("NAME: exited")
# or after TRIES tries ("NAME: LATE").
wait_for() {
  _name=$1 _pid=$2 _log=$3 _tries=$4 _pause=$5 _late=$6
  shift 6
  _n=0
  until "$@"; do
    if ! alive "$_pid"; then
      show_tail "$_log"
      err "$_name: exited"
      return 1
    fi
    if [ "$_n" -ge "$_tries" ]; then
      show_tail "$_log"
      err "$_name: $_late"
      return 1
    fi
    sleep "$_pause"
    _n=$((_n + 1))
  done
}

# dockerd_answers: its unix socket exists and answers a ping.
dockerd_answers() {
  [ -S "$DOCKER_SOCK" ] && engine_ping
}

# gantry_start_dockerd ADDRESS: dockerd with mutual TLS on ADDRESS:$PORT and its unix socket, in a
# small supervising subshell that writes "dockerd STATUS" to $ENGINE_EXITS (when set) once dockerd
# exits on its own: the caller hears of it without polling. Sets dockerd_pid.
gantry_start_dockerd() {
  rm -f "$STATE/dockerd.pid"
  (
    dockerd --containerd="$CONTAINERD_SOCK" \
      --tlsverify --tlscacert="$TLS/ca.pem" --tlscert="$TLS/server-cert.pem" --tlskey="$TLS/server-key.pem" \
      -H "tcp://$1:$PORT" -H "unix://$DOCKER_SOCK" \
      --data-root="$DATA" --pidfile=/run/docker.pid >>/var/log/dockerd.log 2>&1 &
    echo "$!" >"$STATE/dockerd.pid"
    wait "$!"
    _status=$?
    if [ -n "${ENGINE_EXITS:-}" ] && [ ! -e "$STATE/stopping" ]; then
      echo "dockerd $_status" >"$ENGINE_EXITS"
    fi
  ) &
  _n=0
  until [ -s "$STATE/dockerd.pid" ]; do
    if [ "$_n" -ge 100 ]; then
      err "dockerd: cannot start"
      return 1
    fi
    sleep 0.1
    _n=$((_n + 1))
  done
  read -r dockerd_pid <"$STATE/dockerd.pid"
}

# gantry_wait_dockerd: returns once dockerd answers (1 after an error line and its log's tail if
# it exits or does not answer within 120 s).
gantry_wait_dockerd() {
  wait_for dockerd "$dockerd_pid" /var/log/dockerd.log 600 0.2 "no answer on $DOCKER_SOCK after 120s" \
    dockerd_answers
}

# gantry_start_engine ADDRESS: containerd and dockerd (gantry_start_dockerd) together; returns
# once dockerd answers (1 after an error line and the logs' tails if not). dockerd does not need
# containerd's socket to start: it waits up to 60 s for it (its client dials with WithBlock), so
# its own start-up (seconds of Go initialisation under an emulated CPU) overlaps containerd's.
gantry_start_engine() {
  mkdir -p /var/log
  containerd >>/var/log/containerd.log 2>&1 &
  containerd_pid=$!
  log "containerd: started (pid $containerd_pid)"
  gantry_start_dockerd "$1" || return 1
  log "dockerd: started (pid $dockerd_pid), tcp $1:$PORT"
  wait_for containerd "$containerd_pid" /var/log/containerd.log 600 0.1 "no socket after 60s" \
    test -S "$CONTAINERD_SOCK" || return 1
  log "containerd: up (pid $containerd_pid)"
  gantry_wait_dockerd || return 1
  log "dockerd: answers on $DOCKER_SOCK"
}

# gantry_register_binfmt [BINFMT_DIR [CONF_DIR]]: QEMU's user-mode emulators for other CPU
# architectures' containers (linux/arm64, linux/arm/v7): each CONF_DIR/qemu-*.conf (default
# /usr/lib/binfmt.d, Debian's qemu-user-binfmt) not yet registered is written to BINFMT_DIR's
# register file (default /proc/sys/fs/binfmt_misc, mounted when it has none; a module in the QEMU
# guest, built into WSL's kernel). Their flag F opens the emulator now, so it works inside every
# container. Logs how many are registered; an error line and 1 when binfmt_misc is not there.
gantry_register_binfmt() {
  _binfmt=${1:-/proc/sys/fs/binfmt_misc}
  _confs=${2:-/usr/lib/binfmt.d}
  if [ ! -e "$_binfmt/register" ]; then
    modprobe -q binfmt_misc 2>/dev/null
    if ! mount -t binfmt_misc binfmt_misc "$_binfmt" 2>/dev/null || [ ! -e "$_binfmt/register" ]; then
      err "binfmt: cannot mount binfmt_misc; other architectures' images will not run"
      return 1
    fi
  fi
  for _conf in "$_confs"/qemu-*.conf; do
    [ -e "$_conf" ] || continue
    _name=${_conf##*/}
    _name=${_name%.conf}
    [ -e "$_binfmt/$_name" ] && continue
    # one line ":name:type:offset:magic:mask:interpreter:flags", written in one write()
    _line=
    read -r _line <"$_conf"
    printf '%s' "$_line" >"$_binfmt/register" 2>/dev/null || err "binfmt: cannot register $_name"
  done
  _n=0
  for _e in "$_binfmt"/qemu-*; do [ -e "$_e" ] && _n=$((_n + 1)); done
  log "binfmt: $_n emulators registered"
}

# How often dockerd is started again after exiting on its own, per boot.
DOCKERD_RESTARTS=3
dockerd_restarts=0

# gantry_dockerd_exited STATUS ADDRESS: after "dockerd STATUS" came from $ENGINE_EXITS: prints
# how it ended and the end of its log, and starts it again (at most DOCKERD_RESTARTS times).
# Returns 1 when it is not running again (given up, or the restart failed).
gantry_dockerd_exited() {
  err "dockerd: exited on its own (status $1); the end of its log:"
  show_tail /var/log/dockerd.log 30
  if [ "$dockerd_restarts" -ge "$DOCKERD_RESTARTS" ]; then
    err "dockerd: exited $((dockerd_restarts + 1)) times; not starting it again (restart Gantry)"
    return 1
  fi
  dockerd_restarts=$((dockerd_restarts + 1))
  gantry_start_dockerd "$2" || return 1
  log "dockerd: started again (pid $dockerd_pid, restart $dockerd_restarts of $DOCKERD_RESTARTS)"
  gantry_wait_dockerd || return 1
  log "dockerd: answers on $DOCKER_SOCK again"
}

# gantry_stop_engine: dockerd (30 s), containerd (10 s), the container shims left, then the
# engine's data unmounted and synced.
gantry_stop_engine() {
  # dockerd's supervising subshell must not report this exit
  : >"$STATE/stopping"
  stop_pid "$dockerd_pid" dockerd 30
  stop_pid "$containerd_pid" containerd 10
  # the containers' shims (only they: this init is not alone in its process namespace)
  for comm in /proc/[0-9]*/comm; do
    read -r c <"$comm" 2>/dev/null || continue
    case "$c" in containerd-shim*)
      p=${comm#/proc/}
      kill -KILL "${p%/comm}" 2>/dev/null
      ;;
    esac
  done
  sync
  for m in "$CONTAINERD_STATE" "$DATA"; do
    mountpoint -q "$m" || continue
    umount -R "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || err "shutdown: cannot unmount $m"
  done
  sync
  log "shutdown: engine data unmounted"
}
