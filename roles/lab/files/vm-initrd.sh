#!/bin/sh
# usage: vm-initrd.sh ROOTFS KVER OUT
# A ~2 MB initrd: static busybox and the virtio/ext4 modules from ROOTFS (Debian builds them as
# modules); it mounts root= (LABEL= resolved with findfs) and switch_roots to /sbin/init. virtio_net is
# loaded here too, so eth0 is there when systemd starts: under TCG udev's coldplug only loaded it ~25 s into
# the boot, and SSH waits for the network (vm-net.service).
set -eu
R="$1"; K="$2"; OUT="$3"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/bin" "$T/proc" "$T/sys" "$T/dev" "$T/newroot" "$T/mods"
BB="$R/bin/busybox"; [ -x "$BB" ] || BB=/bin/busybox
cp "$BB" "$T/bin/busybox"
for a in sh mount umount insmod mkdir sleep switch_root cat echo ls findfs; do ln -s busybox "$T/bin/$a"; done
: > "$T/mods/order"
for m in virtio_pci virtio_blk virtio_net ext4; do
  chroot "$R" modprobe -S "$K" --show-depends "$m" | awk '$1 == "insmod" {print $2}' | while read -r p; do
    b=$(basename "$p"); [ -e "$T/mods/$b" ] || { cp "$R$p" "$T/mods/$b"; echo "$b" >> "$T/mods/order"; }
  done
done
cat > "$T/init" <<'I'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
for m in $(cat /mods/order); do insmod /mods/$m 2>/dev/null; done
root=/dev/vda; fstype=ext4; flags=rw
for a in $(cat /proc/cmdline); do case "$a" in root=*) root=${a#root=};; rootfstype=*) fstype=${a#rootfstype=};; ro) flags=ro;; esac; done
i=0; dev=$root
while [ $i -lt 100 ]; do
  case "$root" in LABEL=*|UUID=*) dev=$(findfs "$root" 2>/dev/null || true);; esac
  [ -b "$dev" ] && break; sleep 0.1; i=$((i+1))
done
mount -t "$fstype" -o "$flags" "$dev" /newroot || { echo "initrd: cannot mount $root"; exec sh; }
umount /proc /sys; mount --move /dev /newroot/dev 2>/dev/null || umount /dev
exec switch_root /newroot /sbin/init
I
chmod 755 "$T/init"
(cd "$T" && find . | "$BB" cpio -o -H newc 2>/dev/null | gzip -1 > "$OUT")
