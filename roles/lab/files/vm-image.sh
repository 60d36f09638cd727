#!/usr/bin/env bash
# usage: vm-image.sh OUT SUITE MIRROR SECURITY_MIRROR SIZE PACKAGES [APT_OPTIONS] [COMPONENTS] [HOOK]
# Builds the VM lab image into OUT (renamed into place only when complete):
#   disk.img (raw ext4, label "root"), vmlinuz, vmlinux (the same kernel uncompressed, which qemu boots directly when
#   vm-vmlinux.py could unpack it), initrd.img (busybox), id_ed25519{,.pub} (root's key).
# One mmdebstrap --variant=minbase into a directory, hooks from vm-hooks.sh, a busybox initrd
# (vm-initrd.sh) and mkfs.ext4 -d: no loop device, no mount, no bootloader. Needs root.
# PACKAGES is comma-separated (mmdebstrap --include). An empty SECURITY_MIRROR: the suite has no -updates
# and -security suites (Debian unstable). APT_OPTIONS, one a line, go to mmdebstrap --aptopt. COMPONENTS: the
# archive components (default "main"; "main contrib" for zfs). HOOK: one more customize hook, a shell command given
# the root directory as its last argument (zfs-modules.sh install ...). Prints "built" or "cached".
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$1 SUITE=$2 MIRROR=$3 SECMIRROR=$4 SIZE=$5 PKGS=$6 COMPONENTS=${8:-main} HOOK=${9:-}
aptopts=(); while IFS= read -r o; do [ -n "$o" ] && aptopts+=("--aptopt=$o"); done <<< "${7:-}"
EXTRA=(); [ -z "$HOOK" ] || EXTRA=(--customize-hook="$HOOK \"\$1\"")
if [ -s "$OUT/disk.img" ] && [ -s "$OUT/initrd.img" ]; then echo cached; exit 0; fi
T="$OUT.build.$$"
# --one-file-system: a build whose mmdebstrap died without unmounting its chroot's /proc, /sys or /dev is removed
# without descending into the controller's own
trap 'rm -rf --one-file-system "$T"' EXIT
rm -rf --one-file-system "$T"; mkdir -p "$T"
ssh-keygen -q -t ed25519 -N '' -C cow-lab-vm -f "$T/id_ed25519"
mmdebstrap --variant=minbase --include="$PKGS" \
  --aptopt='Acquire::Languages "none"' "${aptopts[@]}" \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --hook-dir="$HERE/mmdebstrap-unsafe-io" \
  --setup-hook="\"$HERE/vm-hooks.sh\" setup \"\$1\"" \
  --essential-hook="\"$HERE/vm-hooks.sh\" essential \"\$1\"" \
  --customize-hook="\"$HERE/vm-hooks.sh\" customize \"\$1\" \"$T/id_ed25519.pub\"" \
  "${EXTRA[@]}" \
  "$SUITE" "$T/rootfs" \
  "deb $MIRROR $SUITE $COMPONENTS" ${SECMIRROR:+"deb $MIRROR $SUITE-updates $COMPONENTS" "deb $SECMIRROR $SUITE-security $COMPONENTS"}
kernels=("$T"/rootfs/usr/lib/modules/*)   # the kernel the image ships: its newest modules directory
K=$(printf '%s\n' "${kernels[@]##*/}" | sort -V | tail -1)
cp "$T/rootfs/boot/vmlinuz-$K" "$T/vmlinuz"
python3 "$HERE/vm-vmlinux.py" "$T/vmlinuz" "$T/vmlinux" || true   # PVH: vm-up.sh boots it when there is one
"$HERE/vm-initrd.sh" "$T/rootfs" "$K" "$T/initrd.img"
rm -f "$T/rootfs/boot/initrd.img"*   # none is built (vm-hooks.sh essential); a stale link is never booted
truncate -s "$SIZE" "$T/disk.img"
mkfs.ext4 -q -F -L root -d "$T/rootfs" "$T/disk.img"
rm -rf --one-file-system "$T/rootfs"
rm -rf --one-file-system "$OUT"; mv "$T" "$OUT"
trap - EXIT
echo built
