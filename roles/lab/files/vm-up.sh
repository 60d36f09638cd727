#!/usr/bin/env bash
# usage: vm-up.sh VMDIR IMAGEDIR NAME CPUS MEMORY_MB ACCEL [DISK:SIZE ...]
# Starts one lab VM (idempotent): a qcow2 overlay over IMAGEDIR/disk.img, one sparse raw file per
# data disk (serial=DISK, so the guest sees /dev/disk/by-id/virtio-DISK), SSH forwarded from a
# loopback port that is chosen free once and kept in VMDIR/port. ACCEL: auto (KVM if a test boot
# shows it works, else TCG), kvm or tcg. Does not wait for SSH (vm-wait.sh does).
# Prints port=PORT, accel=..., and state=running (already up) or state=started.
set -euo pipefail
D=$1 IMG=$2 NAME=$3 CPUS=$4 MEM=$5 ACCEL=$6; shift 6
# the uncompressed kernel when vm-image.sh could unpack it (vm-vmlinux.py: qemu boots it directly, PVH, ~7 s sooner
# under TCG), else the bzImage
KERNEL=$IMG/vmlinuz; [ -s "$IMG/vmlinux" ] && KERNEL=$IMG/vmlinux
mkdir -p "$D"

running() { # the pid in the pidfile is alive and is this VM's qemu
  local p; p=$(cat "$D/qemu.pid" 2>/dev/null) || return 1
  [ -n "$p" ] && tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$D/root.qcow2"
}
port_free() { python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null; }

if running; then
  echo "port=$(cat "$D/port")"; echo "accel=$(cat "$D/accel" 2>/dev/null || echo '?')"; echo state=running; exit 0
fi

# the overlay belongs to one base image: a new image (another content hash) means a new overlay
if [ ! -f "$D/root.qcow2" ] || [ "$(cat "$D/base" 2>/dev/null)" != "$IMG/disk.img" ]; then
  qemu-img create -q -f qcow2 -b "$IMG/disk.img" -F raw "$D/root.qcow2"
  echo "$IMG/disk.img" > "$D/base"
fi

DRIVES=(); i=1
for spec in "$@"; do
  disk=${spec%%:*} size=${spec#*:}
  [ -f "$D/$disk.img" ] || truncate -s "$size" "$D/$disk.img"
  DRIVES+=(-drive "if=none,id=d$i,file=$D/$disk.img,format=raw,cache=unsafe,discard=unmap"
           -device "virtio-blk-pci,drive=d$i,serial=$disk")
  i=$((i + 1))
done

PORT=$(cat "$D/port" 2>/dev/null || true)
if [ -z "$PORT" ] || ! port_free "$PORT"; then
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  echo "$PORT" > "$D/port"
fi

APPEND="root=LABEL=root rw console=ttyS0 panic=-1 quiet mitigations=off net.ifnames=0 apparmor=0 systemd.hostname=$NAME"
APPEND+=" module_blacklist=kvm,kvm_amd,kvm_intel,iTCO_wdt,iTCO_vendor_support,intel_pmc_bxt,ccp,ahci,libahci,cfg80211,rfkill,psmouse,pcspkr,i2c_i801,i2c_smbus,lpc_ich,serio_raw,evdev,drm,efi_pstore,button,joydev"

if [ "$ACCEL" = auto ] && [ -s "$IMG/accel.auto" ]; then ACCEL=$(cat "$IMG/accel.auto"); fi   # probed once per image
if [ "$ACCEL" = auto ]; then
  # /dev/kvm can exist and still hang (this project's CI machines: nested KVM spins, or stops with "emulation
  # failure"): boot the kernel as the VM would (-cpu host) and look for its first line (earlyprintk). Under TCG an
  # uncompressed kernel (PVH) prints it after ~0.4 s: a KVM that needs more than 3 s is broken, and slower than TCG
  # anyway. A bzImage decompresses first (~8 s under TCG, <1 s under KVM): 10 s for it.
  ACCEL=tcg
  if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    rm -f "$D/kvm-probe.log"
    qemu-system-x86_64 -M q35 -accel kvm -cpu host -m 256 -nodefaults -no-user-config -display none \
      -kernel "$KERNEL" -append "console=ttyS0 earlyprintk=serial,ttyS0 panic=-1" -serial "file:$D/kvm-probe.log" \
      -monitor none -no-reboot >/dev/null 2>&1 &
    probe=$! ticks=50; [ "$KERNEL" = "$IMG/vmlinux" ] && ticks=15
    for _ in $(seq "$ticks"); do grep -q 'Linux version' "$D/kvm-probe.log" 2>/dev/null && { ACCEL=kvm; break; }; sleep 0.2; done
    kill -9 "$probe" 2>/dev/null || true; wait "$probe" 2>/dev/null || true   # our own child: never left behind
    rm -f "$D/kvm-probe.log"
  fi
  echo "$ACCEL" > "$IMG/accel.auto"
fi
echo "$ACCEL" > "$D/accel"
CPU=(); [ "$ACCEL" = kvm ] && CPU=(-cpu host)

rm -f "$D/qemu.pid" "$D/console.log"
qemu-system-x86_64 -name "$NAME" -M q35 -accel "$ACCEL" "${CPU[@]}" -smp "$CPUS" -m "$MEM" \
  -nodefaults -no-user-config -display none \
  -kernel "$KERNEL" -initrd "$IMG/initrd.img" -append "$APPEND" \
  -drive "if=none,id=d0,file=$D/root.qcow2,format=qcow2,cache=unsafe,discard=unmap" -device virtio-blk-pci,drive=d0 \
  "${DRIVES[@]}" \
  -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$PORT-:22" -device virtio-net-pci,netdev=n0 \
  -serial "file:$D/console.log" -monitor none -no-reboot -pidfile "$D/qemu.pid" -daemonize
date +%s > "$D/started"
echo "port=$PORT"; echo "accel=$ACCEL"; echo state=started
