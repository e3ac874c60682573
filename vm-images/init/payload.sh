# shellcheck shell=sh
# The guest's reader of the start payload (WSL 2 keep-alive input, the Apple Virtualization
# settings port): the files the QEMU guest reads from fw_cfg, framed as gantry-machine's
# wsl2::payload writes them ("gantry-wsl 1", then "file NAME LEN" + LEN bytes + newline, then
# "end"). POSIX sh + dd; tested against the Rust encoder (gantry-machine wsl2::payload tests).
# In the WSL 2 root filesystem (vm-images/wsl-rootfs.sh), read by wsl-init; not in the QEMU image.

# gantry_read_payload DIR: reads one payload from standard input into DIR (files mode 0600).
# Only the known names are accepted; lengths are read exactly (dd bs=1: a shell's `read` and
# `head` may read ahead on a pipe). Returns 1 with a `gantry-init: error:` line when malformed.
gantry_read_payload() {
  _dir=$1
  IFS= read -r _line || {
    echo "gantry-init: error: tls: no start payload on input"
    return 1
  }
  [ "$_line" = "gantry-wsl 1" ] || {
    echo "gantry-init: error: tls: the input is not a Gantry start payload"
    return 1
  }
  while IFS= read -r _line; do
    case $_line in
    end) return 0 ;;
    "file "*) ;;
    *)
      echo "gantry-init: error: tls: malformed payload line"
      return 1
      ;;
    esac
    _rest=${_line#file }
    _name=${_rest%% *}
    _len=${_rest#* }
    case $_name in
    ca.pem | server-cert.pem | server-key.pem | config) ;;
    *)
      echo "gantry-init: error: tls: unknown payload file"
      return 1
      ;;
    esac
    case $_len in
    '' | *[!0-9]*)
      echo "gantry-init: error: tls: bad payload length"
      return 1
      ;;
    esac
    (umask 077 && dd bs=1 count="$_len" of="$_dir/$_name" 2>/dev/null) || return 1
    [ "$(wc -c <"$_dir/$_name")" -eq "$_len" ] || {
      echo "gantry-init: error: tls: payload cut short"
      return 1
    }
    IFS= read -r _line # the newline after the content
  done
  echo "gantry-init: error: tls: payload cut short"
  return 1
}
