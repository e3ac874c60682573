# shellcheck shell=sh
# The shared folders of the QEMU guest (virtio-9p), sourced (POSIX sh) by stage2.sh, which mounts
# them at boot, and by the suspend and resume scripts the host runs through qemu-ga around a save
# of the VM. One implementation of the mounting for all three.
# Contract (config keys, suspend/resume): vm-images/README.md.
#
# The caller sets STATE (/run/gantry) and defines log and err (engine.sh's console helpers, or
# the scripts' own). Files in $STATE:
#   shares.wanted  "TAG PATH" lines: the shares the config asks for (stage2's config parser)
#   hidden         PATH lines: folders inside shares covered by an empty read-only tmpfs
#   shares         "TAG PATH" lines: the shares mounted now (gantry_record_shares)

SHARE_OPTS=trans=virtio,version=9p2000.L,msize=262144,cache=mmap
HIDE_OPTS=ro,mode=000,size=4k,nr_inodes=2
TAB=$(printf '\t')

# proc_mount_path PATH: the folder PATH with its symlinks resolved (by the shell: no process
# started, which costs time under TCG), as /proc/mounts writes it (octal escapes for backslash,
# space and tab). Fails when PATH is no folder.
proc_mount_path() {
  _p=$(cd -P -- "$1" 2>/dev/null && pwd -P) || return 1
  case "$_p" in
  *\\* | *' '* | *"$TAB"*) printf '%s\n' "$_p" | sed -e 's/\\/\\134/g' -e 's/ /\\040/g' -e "s/$TAB/\\\\011/g" ;;
  *) printf '%s\n' "$_p" ;;
  esac
}

# first_line TEXT: TEXT's first line (a command's error message, without its hints)
first_line() {
  printf '%s\n' "$1" | head -n 1
}

# is_mounted FSTYPE SOURCE PATH: a FSTYPE mount of SOURCE is at PATH.
is_mounted() {
  _want=$(proc_mount_path "$3") || return 1
  while read -r _src _mnt _type _; do
    [ "$_type" = "$1" ] && [ "$_src" = "$2" ] && [ "$_mnt" = "$_want" ] && return 0
  done </proc/mounts
  return 1
}

# gantry_record_shares: writes the shares of $STATE/shares.wanted mounted now to $STATE/shares
# (what shutdown unmounts, and suspend).
gantry_record_shares() {
  : >"$STATE/shares.new"
  if [ -f "$STATE/shares.wanted" ]; then
    while IFS=' ' read -r _rtag _rpath; do
      [ -n "$_rtag" ] || continue
      if is_mounted 9p "$_rtag" "$_rpath"; then
        printf '%s %s\n' "$_rtag" "$_rpath" >>"$STATE/shares.new"
      fi
    done <"$STATE/shares.wanted"
  fi
  mv -f "$STATE/shares.new" "$STATE/shares"
}

# gantry_mount_shares LIST: mounts each share of LIST ("TAG PATH" lines) at PATH from the 9p tag
# TAG; one already mounted there is left alone. Then gantry_record_shares. Returns 1 (after an
# error line for each) when one could not be mounted.
gantry_mount_shares() {
  _mrc=0
  if [ -f "$1" ]; then
    while IFS=' ' read -r _mtag _mpath; do
      [ -n "$_mtag" ] || continue
      is_mounted 9p "$_mtag" "$_mpath" && continue
      if _why=$(mkdir -p -- "$_mpath" 2>&1 && mount -t 9p -o "$SHARE_OPTS" "$_mtag" "$_mpath" 2>&1); then
        log "share: $_mtag at $_mpath"
      else
        err "share: cannot mount $_mtag at $_mpath ($(first_line "$_why"))"
        _mrc=1
      fi
    done <"$1"
  fi
  gantry_record_shares
  return $_mrc
}

# gantry_hide LIST: covers each folder of LIST (PATH lines) with an empty read-only tmpfs
# (Gantry's own directory inside a share: VM disk, TLS keys). A folder that does not exist (its
# share is not mounted) is skipped, one already covered left alone. Returns 1 (after an error
# line for each) when one could not be covered.
gantry_hide() {
  _hrc=0
  if [ -f "$1" ]; then
    while IFS= read -r _hpath; do
      if [ -z "$_hpath" ] || [ ! -d "$_hpath" ]; then continue; fi
      is_mounted tmpfs gantry-hidden "$_hpath" && continue
      if _why=$(mount -t tmpfs -o "$HIDE_OPTS" gantry-hidden "$_hpath" 2>&1); then
        log "share: hid $_hpath"
      else
        err "share: cannot hide $_hpath ($(first_line "$_why"))"
        _hrc=1
      fi
    done <"$1"
  fi
  return $_hrc
}

# gantry_hidden_now LIST: the folders of LIST (PATH lines) covered now, one a line.
gantry_hidden_now() {
  [ -f "$1" ] || return 0
  while IFS= read -r _npath; do
    [ -n "$_npath" ] || continue
    if is_mounted tmpfs gantry-hidden "$_npath"; then
      printf '%s\n' "$_npath"
    fi
  done <"$1"
}

# gantry_foreign_9p: the 9p tags mounted in another mount namespace than this one (a container's
# bind mount of a share, or of a folder inside one), one a line. Such a mount keeps the share's
# 9p session open (QEMU then refuses migration) and cannot be unmounted from here. Mount IDs are
# unique across namespaces: a 9p line of some process whose ID is not one of ours is another
# namespace's.
gantry_foreign_9p() {
  _ours=' '
  while IFS= read -r _fl; do
    case "$_fl" in *' - 9p '*) _ours="$_ours${_fl%% *} " ;; esac
  done </proc/self/mountinfo
  grep -h -s -F ' - 9p ' /proc/[0-9]*/mountinfo | while IFS= read -r _fl; do
    case "$_ours" in *" ${_fl%% *} "*) continue ;; esac
    _frest=${_fl#* - 9p }
    printf '%s\n' "${_frest%% *}"
  done
}
