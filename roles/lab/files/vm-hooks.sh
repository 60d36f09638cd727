#!/bin/sh
# mmdebstrap hooks for the VM lab image (see vm-image.sh).
#   vm-hooks.sh setup ROOT             before packages: keep initramfs-tools' own initrd small (a kernel update in the VM)
#   vm-hooks.sh essential ROOT         after the Essential packages: no initramfs-tools initrd during the build
#   vm-hooks.sh customize ROOT PUBKEY  after packages: root's key, static network, lean boot
set -eu
R="$2"
case "$1" in
setup)
  mkdir -p "$R/etc/initramfs-tools/conf.d"
  printf 'MODULES=list\nCOMPRESS=zstd\n' > "$R/etc/initramfs-tools/conf.d/vm.conf"
  ;;
essential)
  # The VM boots vm-initrd.sh's busybox initrd, never initramfs-tools' own: the kernel's postinst and the initramfs
  # trigger would build that one twice (~12 s of a ~90 s build). A stub stands in for update-initramfs until the
  # customize hook puts the real one back (dpkg-divert --rename: the package's file waits under the diverted name).
  chroot "$R" dpkg-divert --quiet --local --rename --divert /usr/sbin/update-initramfs.cow-lab --add /usr/sbin/update-initramfs
  printf '#!/bin/sh\n# cow-lab: no initramfs-tools initrd while the image is built\nexit 0\n' > "$R/usr/sbin/update-initramfs"
  chmod 755 "$R/usr/sbin/update-initramfs"
  ;;
customize)
  rm -f "$R/usr/sbin/update-initramfs"
  chroot "$R" dpkg-divert --quiet --local --rename --remove /usr/sbin/update-initramfs
  echo localhost > "$R/etc/hostname"   # each VM gets its name from systemd.hostname= on the kernel command line
  printf '127.0.0.1 localhost\n' > "$R/etc/hosts"
  printf 'LABEL=root / ext4 rw,errors=remount-ro 0 1\n' > "$R/etc/fstab"
  mkdir -p "$R/root/.ssh" && chmod 700 "$R/root/.ssh"
  install -m 600 "$3" "$R/root/.ssh/authorized_keys"
  rm -f "$R/etc/resolv.conf"; echo 'nameserver 10.0.2.3' > "$R/etc/resolv.conf"
  chroot "$R" passwd -d root >/dev/null   # root on the serial console, for debugging only
  # sshd: no DNS lookups, no PAM session (~1 s per connection under TCG); key auth still works
  sed -i 's/^#\?UseDNS.*/UseDNS no/; s/^UsePAM yes/UsePAM no/' "$R/etc/ssh/sshd_config"
  grep -q '^UseDNS' "$R/etc/ssh/sshd_config" || echo 'UseDNS no' >> "$R/etc/ssh/sshd_config"
  # dockerd without its bridge and iptables rules, like the lab's own engine: every container the lab and its tests
  # run has --network none, and under TCG the network setup took 13-26 s of each engine start (19 s -> 8 s a restart)
  printf '# cow-lab: no default bridge, no iptables rules (roles/lab/files/vm-hooks.sh)\nDOCKER_OPTS="--iptables=false --bridge=none"\n' \
    > "$R/etc/default/docker"
  # device-mapper targets the lab exists for, loaded at boot (Debian builds them as modules)
  mkdir -p "$R/etc/modules-load.d"
  printf 'dm_thin_pool\ndm_snapshot\n' > "$R/etc/modules-load.d/cow-lab.conf"
  # static slirp addressing: networkd/DHCP costs ~15 s of boot under TCG. No dependency on the eth0 device unit: its
  # job times out after 90 s, which a TCG guest on a busy host exceeds (then the unit fails, the VM has no network and
  # never answers SSH: seen twice in make test); the service waits for the NIC itself, as long as it takes.
  cat > "$R/etc/systemd/system/vm-net.service" <<'U'
[Unit]
Description=Static network for qemu user-mode networking
DefaultDependencies=no
Before=network.target
Wants=network.target
[Service]
Type=oneshot
RemainAfterExit=yes
TimeoutStartSec=infinity
ExecStart=/bin/sh -c 'until [ -e /sys/class/net/eth0 ]; do sleep 0.2; done'
ExecStart=/sbin/ip link set lo up
ExecStart=/sbin/ip addr add 10.0.2.15/24 dev eth0
ExecStart=/sbin/ip link set eth0 up
ExecStart=/sbin/ip route add default via 10.0.2.2
[Install]
WantedBy=multi-user.target
U
  mkdir -p "$R/etc/systemd/system/multi-user.target.wants"
  ln -sf /etc/systemd/system/vm-net.service "$R/etc/systemd/system/multi-user.target.wants/vm-net.service"
  chroot "$R" systemctl set-default multi-user.target >/dev/null 2>&1
  # nothing a throwaway VM needs at boot; docker and containerd start when a backend configures them
  for u in systemd-networkd.service systemd-networkd.socket systemd-networkd-wait-online.service \
           apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer \
           dpkg-db-backup.timer systemd-timesyncd.service docker.service docker.socket containerd.service; do
    chroot "$R" systemctl disable "$u" >/dev/null 2>&1 || true
  done
  for u in sys-kernel-debug.mount sys-kernel-tracing.mount dev-hugepages.mount systemd-binfmt.service \
           proc-sys-fs-binfmt_misc.automount modprobe@drm.service modprobe@efi_pstore.service \
           systemd-pstore.service getty@tty1.service systemd-networkd-wait-online.service; do
    ln -sf /dev/null "$R/etc/systemd/system/$u"
  done
  ;;
*) echo "usage: $0 setup|essential|customize ROOT [PUBKEY]" >&2; exit 2 ;;
esac
