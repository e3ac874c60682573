# shellcheck shell=bash
# The desktop app's idle cost (issue 13, item 4), for ./scripts/bench desktop-idle:
#
#   gantry_desktop_idle BIN SECONDS [VAR=VALUE...] -> runs the desktop binary BIN (with these
#       variables in its environment) on its own Xvfb display with an
#       empty GANTRY_HOME (the engine: DOCKER_HOST), lets it settle, then samples the CPU time of
#       the app and its WebKit processes over SECONDS with the window shown, and again with the
#       window unmapped (hidden: the page gets visibilitychange); prints one line per state:
#       "shown|hidden CPU% RSS_MiB" (CPU as % of one core, RSS summed over the processes).
# Needs Xvfb and xdotool. Only the processes it started are stopped.

# utime + stime (ticks) of a pid and all its descendants, and their summed VmRSS (KiB)
_gantry_tree_usage() {
  local pids=("$1") i=0 ticks=0 rss=0 p kids f r
  while [ $i -lt ${#pids[@]} ]; do
    kids=$(pgrep -P "${pids[$i]}" || true)
    for p in $kids; do pids+=("$p"); done
    i=$((i + 1))
  done
  for p in "${pids[@]}"; do
    [ -r "/proc/$p/stat" ] || continue
    # fields after the command name's closing parenthesis: utime is the 12th, stime the 13th
    f=$(sed 's/.*) //' "/proc/$p/stat")
    read -r -a r <<<"$f"
    ticks=$((ticks + r[11] + r[12]))
    rss=$((rss + $(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)))
  done
  echo "$ticks $rss"
}

gantry_desktop_idle() {
  local bin=$1 seconds=$2 dir disp=:120 xvfb app win t0 t1 r1 hz state
  shift 2
  dir=$(mktemp -d /tmp/gantry-desktop-idle.XXXXXX)
  while [ -e "/tmp/.X11-unix/X${disp#:}" ] || [ -e "/tmp/.X${disp#:}-lock" ]; do
    disp=":$((${disp#:} + 1))"
  done
  Xvfb "$disp" -screen 0 1280x800x24 -nolisten tcp >"$dir/xvfb.log" 2>&1 </dev/null &
  xvfb=$!
  sleep 2
  mkdir -p "$dir/home"
  env "$@" DISPLAY="$disp" GANTRY_HOME="$dir/home" "$bin" >"$dir/app.log" 2>&1 </dev/null &
  app=$!
  # the window, once it is mapped
  for _ in $(seq 1 120); do
    win=$(DISPLAY=$disp xdotool search --onlyvisible --pid "$app" 2>/dev/null | head -n 1 || true)
    [ -n "$win" ] && break
    sleep 1
  done
  if [ -z "$win" ]; then
    echo "the desktop app showed no window within 120 s" >&2
    tail -n 20 "$dir/app.log" >&2
    kill "$app" "$xvfb" 2>/dev/null
    rm -rf "$dir"
    return 1
  fi
  sleep 30 # start-up work (first lists, the engine's event replay) settles
  hz=$(getconf CLK_TCK)
  for state in shown hidden; do
    if [ "$state" = hidden ]; then
      DISPLAY=$disp xdotool windowunmap --sync "$win"
      sleep 5
    fi
    read -r t0 _ <<<"$(_gantry_tree_usage "$app")"
    sleep "$seconds"
    read -r t1 r1 <<<"$(_gantry_tree_usage "$app")"
    echo "$state $(printf '%.2f' "$(echo "($t1 - $t0) * 100 / $hz / $seconds" | bc -l)") $((r1 / 1024))"
  done
  kill "$app" 2>/dev/null
  wait "$app" 2>/dev/null
  kill "$xvfb" 2>/dev/null
  wait "$xvfb" 2>/dev/null
  rm -rf "$dir"
}
