#!/usr/bin/env bash
# usage: vm-down.sh VMDIR
# Stops the VM that vm-up.sh started there (its qemu pidfile, checked against the process's own
# command line so a recycled pid is never killed) and deletes VMDIR: overlay, data disks, port.
# Prints "removed" when there was something to remove.
set -uo pipefail
D=$1
[ -d "$D" ] || exit 0
P=$(cat "$D/qemu.pid" 2>/dev/null || true)
if [ -n "$P" ] && tr '\0' ' ' < "/proc/$P/cmdline" 2>/dev/null | grep -qF -- "$D/root.qcow2"; then
  kill "$P" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$P" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$P" 2>/dev/null
  for _ in $(seq 20); do kill -0 "$P" 2>/dev/null || break; sleep 0.1; done
fi
rm -rf "$D"
echo removed
