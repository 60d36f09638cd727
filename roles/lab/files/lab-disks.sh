#!/usr/bin/env bash
# lab-disks.sh attach DIR HOST:DISK:SIZE[:FS]... : for each disk, make DIR/HOST-DISK.img (sparse, SIZE), format
#                     it with FS (xfs|btrfs|ext4, only when it is new) and attach it to a loop device; prints
#                     "disk HOST DISK LOOPDEV" per disk and "attached IMG" for each loop attached now (one call
#                     for all of a lab's disks). Idempotent.
# lab-disks.sh detach DIR              : detach the loop devices backing DIR/*.img and delete them.
# Only loops that back the lab's own files are touched (never `losetup -D`).
set -euo pipefail
cmd=$1 dir=$2
attach() { # HOST DISK SIZE FS
  local name=$1-$2 size=$3 fs=$4 img=$dir/$1-$2.img loop
  if [ ! -e "$img" ]; then
    truncate -s "$size" "$img.new"
    case "$fs" in
      "") ;;
      xfs) mkfs.xfs -q -f -n ftype=1 "$img.new" ;;
      btrfs) mkfs.btrfs -q -f "$img.new" ;;
      ext4) mkfs.ext4 -q -F "$img.new" ;;
      *) echo "lab-disks: unknown fs '$fs' for disk $name (xfs, btrfs, ext4 or none)" >&2; rm -f "$img.new"; exit 2 ;;
    esac
    mv "$img.new" "$img"
  fi
  loop=$(losetup -j "$img" -O NAME -n | head -n1)
  if [ -z "$loop" ]; then loop=$(losetup -f --show "$img"); echo "attached $img"; fi
  echo "disk $1 $2 $loop"
}
case "$cmd" in
  attach)
    mkdir -p "$dir"
    shift 2
    for spec in "$@"; do
      IFS=: read -r host disk size fs <<< "$spec"
      if [ -z "$host" ] || [ -z "$disk" ] || [ -z "$size" ]; then
        echo "lab-disks: bad disk '$spec' (HOST:DISK:SIZE[:FS])" >&2; exit 2
      fi
      attach "$host" "$disk" "$size" "${fs:-}"
    done
    ;;
  detach)
    [ -d "$dir" ] || exit 0
    for img in "$dir"/*.img; do
      [ -e "$img" ] || continue
      for loop in $(losetup -j "$img" -O NAME -n); do losetup -d "$loop"; done
      rm -f "$img"
    done
    rmdir "$dir" 2>/dev/null || true
    ;;
  *) echo "usage: $0 attach DIR HOST:DISK:SIZE[:FS]... | detach DIR" >&2; exit 2 ;;
esac
