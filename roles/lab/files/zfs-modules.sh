#!/usr/bin/env bash
# OpenZFS kernel modules for the lab's VM image (zfs-dkms is in Debian's contrib; the VM kernel has no zfs).
#
#   zfs-modules.sh resolve SUITE MIRROR SECURITY_MIRROR
#       Prints kernel=<ABI> (what linux-image-amd64 resolves to in SUITE, SUITE-updates, SUITE-security: the
#       kernel vm-image.sh installs) and zfs=<zfs-dkms version> (contrib), from a private apt state; nothing
#       on the host changes.
#   zfs-modules.sh build OUT SUITE MIRROR SECURITY_MIRROR KERNEL ZFS_VERSION
#       Builds zfs-dkms ZFS_VERSION for KERNEL in a throwaway mmdebstrap chroot (linux-headers-KERNEL, dkms,
#       build-essential) and puts the modules in OUT/KERNEL/*.ko (+ zfs-version, make.log). OUT appears
#       only when complete; a failed build leaves OUT.failed (with the log) so a waiting image build stops.
#       ~8 min on 2 cores (the dkms compile ~7 of them).
#   zfs-modules.sh install KODIR KERNEL ARC_MAX WAIT ROOT
#       mmdebstrap customize hook of the VM image (ROOT last, as vm-image.sh appends it): waits up to WAIT seconds for KODIR (a build running side
#       by side), checks the image's kernel is KERNEL, copies the modules to ROOT/lib/modules/KERNEL/updates/dkms,
#       runs depmod and caps the ARC at ARC_MAX bytes (/etc/modprobe.d/zfs.conf; the default is half the RAM).
set -euo pipefail
say() { echo "[zfs-modules $(date +%H:%M:%S)] $*" >&2; }

sources() { # SUITE MIRROR SECURITY_MIRROR: main + contrib of the suite, its updates and security
  printf '%s\n' "deb $2 $1 main contrib" "deb $2 $1-updates main contrib" "deb $3 $1-security main contrib"
}

case "${1:-}" in
resolve)
  SUITE=$2 MIRROR=$3 SEC=$4
  T=$(mktemp -d "${TMPDIR:-/tmp}/zfs-resolve.XXXXXX"); trap 'rm -rf "$T"' EXIT
  mkdir -p "$T/lists/partial" "$T/cache/archives/partial"; : > "$T/status"
  sources "$SUITE" "$MIRROR" "$SEC" | sed 's/^deb /deb [arch=amd64] /' > "$T/sources.list"
  APT=(-o Dir::Etc::SourceList="$T/sources.list" -o Dir::Etc::SourceParts=/dev/null -o Dir::Etc::Preferences=/dev/null
       -o Dir::Etc::PreferencesParts=/dev/null -o Dir::State::Lists="$T/lists" -o Dir::State::status="$T/status"
       -o Dir::Cache="$T/cache" -o APT::Architecture=amd64 -o APT::Architectures=amd64 -o Acquire::Languages=none
       -o Debug::NoLocking=true -o APT::Sandbox::User=root)
  apt-get "${APT[@]}" -qq update >&2
  meta=$(apt-cache "${APT[@]}" show --no-all-versions linux-image-amd64)
  kernel=$(sed -n 's/^Depends:.*\blinux-image-\([0-9][^ ,]*-amd64\)\b.*/\1/p' <<< "$meta" | head -n1)
  zfs=$(apt-cache "${APT[@]}" show --no-all-versions zfs-dkms | sed -n 's/^Version: //p' | head -n1)
  [ -n "$kernel" ] && [ -n "$zfs" ] || { echo "could not resolve the kernel ($kernel) or zfs-dkms ($zfs) in $SUITE" >&2; exit 1; }
  echo "kernel=$kernel"; echo "zfs=$zfs"
  ;;
build)
  OUT=$2 SUITE=$3 MIRROR=$4 SEC=$5 K=$6 V=$7
  if [ -s "$OUT/$K/zfs.ko" ]; then echo cached; exit 0; fi
  T="$OUT.build.$$"; trap 'rm -rf "$T"' EXIT
  rm -rf "$T" "$OUT.failed"; mkdir -p "$T/out/$K"
  S=$(date +%s)
  say "building zfs-dkms $V for $K in a chroot: ~1.5 min for the chroot, then ~7 min of dkms compile on 2 cores"
  mapfile -t SRC < <(sources "$SUITE" "$MIRROR" "$SEC")
  # zfs-dkms is installed in the hook, pinned to the resolved version; its postinst sees the host's uname -r has
  # no headers and builds for the installed headers instead; dkms install -k makes sure it built for K.
  # shellcheck disable=SC2016  # $(date) is the hook's to expand, in the chroot's shell, when the step starts
  if ! mmdebstrap --variant=minbase --include="linux-headers-$K,dkms,build-essential,ca-certificates" \
      --aptopt='Acquire::Languages "none"' \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
      --customize-hook='echo "[zfs-modules $(date +%H:%M:%S)] chroot ready; dkms build of zfs (~7 min)" >&2' \
      --customize-hook="chroot \"\$1\" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends zfs-dkms=$V >&2" \
      --customize-hook="chroot \"\$1\" sh -c 'dkms status -m zfs -k $K | grep -q installed || dkms install -m zfs -v ${V%%-*} -k $K' >&2" \
      --customize-hook="cp \"\$1\"/lib/modules/$K/updates/dkms/*.ko \"$T/out/$K/\"" \
      --customize-hook="cp \"\$1\"/var/lib/dkms/zfs/${V%%-*}/$K/x86_64/log/make.log \"$T/out/$K/\" 2>/dev/null || true" \
      "$SUITE" "$T/rootfs" "${SRC[@]}" > "$T/build.log" 2>&1; then
    mkdir -p "$OUT.failed"; cp "$T/build.log" "$OUT.failed/"; tail -n 20 "$T/build.log" >&2
    say "build failed after $(( $(date +%s) - S )) s (log: $OUT.failed/build.log)"; exit 1
  fi
  [ -s "$T/out/$K/zfs.ko" ] || { mkdir -p "$OUT.failed"; cp "$T/build.log" "$OUT.failed/"; say "no zfs.ko for $K"; exit 1; }
  echo "$V" > "$T/out/$K/zfs-version"
  rm -rf "$OUT"; mv "$T/out" "$OUT"
  say "zfs $V modules for $K built in $(( $(date +%s) - S )) s"
  echo built
  ;;
install)
  KODIR=$2 K=$3 ARC=$4 WAIT=$5 R=$6
  have=$(cd "$R/usr/lib/modules" && printf '%s\n' * | sort -V | tail -n1)
  [ "$have" = "$K" ] || { echo "the image's kernel is $have, the zfs modules are for $K: the mirror moved on; run again" >&2; exit 1; }
  w=0
  until [ -s "$KODIR/$K/zfs.ko" ]; do
    [ -d "$KODIR.failed" ] && { echo "the zfs module build failed: $KODIR.failed/build.log" >&2; exit 1; }
    [ "$w" -ge "$WAIT" ] && { echo "no zfs modules for $K in $KODIR after $WAIT s" >&2; exit 1; }
    [ $((w % 60)) -eq 0 ] && say "image ready for the modules; waiting for the zfs module build ($w s so far)"
    sleep 5; w=$((w + 5))
  done
  mkdir -p "$R/lib/modules/$K/updates/dkms"
  cp "$KODIR/$K/"*.ko "$R/lib/modules/$K/updates/dkms/"
  chroot "$R" depmod -a "$K"
  printf 'options zfs zfs_arc_max=%s\n' "$ARC" > "$R/etc/modprobe.d/zfs.conf"
  say "zfs $(cat "$KODIR/$K/zfs-version") modules installed for $K (arc max $ARC bytes)"
  ;;
*) echo "usage: $0 resolve|build|install ..." >&2; exit 2 ;;
esac
