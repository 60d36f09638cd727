#!/usr/bin/env bash
# lab-disks.sh attach DIR NAME SIZE [FS] : make DIR/NAME.img (sparse, SIZE), format it with FS
#                                          (xfs|btrfs|ext4, only when it is new) and attach it to a
#                                          loop device; prints the loop device. Idempotent.
# lab-disks.sh detach DIR              : detach the loop devices backing DIR/*.img and delete them.
# Only loops that back the lab's own files are touched (never `losetup -D`).
set -euo pipefail
cmd=$1 dir=$2
case "$cmd" in
  attach)
    name=$3 size=$4 fs=${5:-}
    img=$dir/$name.img
    mkdir -p "$dir"
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
    echo "$loop"
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
  *) echo "usage: $0 attach DIR NAME SIZE [FS] | detach DIR" >&2; exit 2 ;;
esac
