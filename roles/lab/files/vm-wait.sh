#!/usr/bin/env bash
# usage: vm-wait.sh VMDIR KEY TIMEOUT
# Waits until root@127.0.0.1:$(cat VMDIR/port) answers SSH with KEY; fails early, with the end of
# the serial console, if qemu dies. Prints the seconds since vm-up.sh started qemu.
set -uo pipefail
D=$1 KEY=$2 TIMEOUT=$3
PORT=$(cat "$D/port"); PID=$(cat "$D/qemu.pid")
S=$(date +%s)
until ssh -q -i "$KEY" -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
          -o ConnectTimeout=15 -p "$PORT" root@127.0.0.1 true </dev/null 2>/dev/null; do
  if ! kill -0 "$PID" 2>/dev/null; then
    echo "qemu for $D died; end of $D/console.log:" >&2; tail -n 20 "$D/console.log" >&2; exit 1
  fi
  if [ $(( $(date +%s) - S )) -ge "$TIMEOUT" ]; then
    echo "no SSH on port $PORT after $TIMEOUT s; end of $D/console.log:" >&2; tail -n 20 "$D/console.log" >&2; exit 1
  fi
  sleep 1
done
echo "ssh answered after $(( $(date +%s) - S )) s of waiting, $(( $(date +%s) - $(cat "$D/started" 2>/dev/null || echo "$S") )) s after qemu started (port $PORT, accel $(cat "$D/accel" 2>/dev/null))"
