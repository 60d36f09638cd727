#!/usr/bin/env bash
# make lab, step by step: each long step says what it builds and how long it usually takes, then how long it
# took. The container host image, the VM image and the benchmark's real images are built side by side (each is
# cached by content hash under $LAB_STATE, so the next make lab reuses them); their logs go to $LAB_STATE/logs/.
# Typical durations are from a quiet 2-core Debian 12 machine without KVM (README, "What make lab does"): a busy
# machine takes several times longer.
set -eo pipefail
cd "$(dirname "$0")/.."
: "${LAB_STATE:?set LAB_STATE (make sets it)}"
LAB_VMS=${LAB_VMS:-1}
LAB_FLEET=${LAB_FLEET:-$PWD/playbooks/vars/lab_fleet.yml}
LOGS=$LAB_STATE/logs
mkdir -p "$LOGS"
T0=$(date +%s)
# CPU time the hypervisor gave to others (steal): on a shared VM it makes the same make lab take twice as long
cpu_ticks() { awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $9; exit}' /proc/stat; }
read -r TICKS0 STEAL0 < <(cpu_ticks)
steal() { local t s; read -r t s < <(cpu_ticks); echo $(( 100 * (s - STEAL0) / (t - TICKS0 > 0 ? t - TICKS0 : 1) )); }
TIMES=()

since() { echo $(( $(date +%s) - $1 )); }
mmss() { printf '%d:%02d' $(($1 / 60)) $(($1 % 60)); }
say() { printf '\033[1m[lab %s]\033[0m %s\n' "$(mmss "$(since "$T0")")" "$*"; }

step() { # step NAME "what it does (typical durations)" command...
  local name=$1 what=$2 t; shift 2
  say "$name: $what"
  t=$(date +%s)
  "$@"
  TIMES+=("$name $(since "$t") s")
  say "$name done in $(mmss "$(since "$t")")"
}

# The benchmark's images are needed last: their build goes on in the background at the lowest priority (nice 19, its
# async job's session too: benchmark_rootfs_nice) while the host and VM images build and the hosts boot and converge,
# which leave a third of the two cores idle; bench_images_wait() collects it.
BENCH_PID='' BENCH_T0='' BENCH_LOG=$LOGS/bench-images.log
images() { # the host and VM image builds side by side, with a progress line every 30 s
  local -A pid log started
  local name
  start() { log[$1]=$LOGS/$1.log; started[$1]=$(date +%s); shift; "$@" >"${log[$name]}" 2>&1 & pid[$name]=$!; }
  BENCH_T0=$(date +%s)
  nice -n 19 ansible-playbook playbooks/bench/images.yml -e benchmark_quick=true -e benchmark_rootfs_nice=19 >"$BENCH_LOG" 2>&1 &
  BENCH_PID=$!
  # the VM is the longest path (image, boot under TCG, converge): its image goes first (the host image's build at
  # nice 10 yields to it) and the VM boots as soon as it is built, while the host image is still building
  name=host-image; start "$name" nice -n 10 ansible-playbook playbooks/lab.yml -e lab_build_only=image -e "lab_fleet=$LAB_FLEET"
  if [ "$LAB_VMS" = 1 ]; then
    name=vm-image-and-boot; start "$name" ansible-playbook playbooks/lab.yml -e lab_build_only=vms -e lab_vms=true \
      -e "lab_fleet=$LAB_FLEET"
  fi
  local left=("${!pid[@]}") tick=0 failed=0
  while ((${#left[@]})); do
    local still=()
    for name in "${left[@]}"; do
      if kill -0 "${pid[$name]}" 2>/dev/null; then still+=("$name"); continue; fi
      if wait "${pid[$name]}"; then
        say "  $name ready in $(mmss "$(since "${started[$name]}")") (log: ${log[$name]})"
        TIMES+=("$name $(since "${started[$name]}") s")
      else
        say "  $name FAILED after $(mmss "$(since "${started[$name]}")"); the end of ${log[$name]}:"
        sed 's/\x1b\[[0-9;]*m//g' "${log[$name]}" | grep -v '^\s*$' | tail -n 25 >&2
        failed=1
      fi
    done
    left=("${still[@]}")
    if ((${#left[@]})); then
      sleep 2; tick=$((tick + 2))
      if ((tick % 30 == 0)); then say "  still building: ${left[*]} (load $(cut -d' ' -f1 /proc/loadavg))"; fi
    fi
  done
  return $failed
}

bench_images_wait() { # the background build of the benchmark's images, before the benchmark needs them
  [ -n "$BENCH_PID" ] || return 0
  kill -0 "$BENCH_PID" 2>/dev/null && say "  waiting for bench-images (building in the background for $(mmss "$(since "$BENCH_T0")"))"
  if wait "$BENCH_PID"; then
    local took=$(( $(stat -c %Y "$BENCH_LOG") - BENCH_T0 ))   # its log's last write: when it finished
    say "  bench-images were ready after $(mmss "$took") (in the background; log: $BENCH_LOG)"
    TIMES+=("bench-images $took s (background)")
  else
    say "  bench-images FAILED after $(mmss "$(since "$BENCH_T0")"); the end of $BENCH_LOG:"
    sed 's/\x1b\[[0-9;]*m//g' "$BENCH_LOG" | grep -v '^\s*$' | tail -n 25 >&2
    return 1
  fi
  BENCH_PID=''
}

step deps "Debian packages, the venv, the collections (first time: the apt installs, then ~25 s for the venv; then ~3 s)" \
  bash scripts/deps.sh lab
engine_up() { LAB_DOCKER_HOST=$(roles/lab/files/lab-engine.sh up | sed -n 's/^DOCKER_HOST=//p'); [ -n "$LAB_DOCKER_HOST" ]; }
step engine "the lab's Docker engine (a private dockerd under $LAB_STATE/engine unless one answers; ~2 s)" \
  engine_up

# The images step only builds side by side what the hosts and benchmark steps would otherwise build one after the
# other (each of them builds or reuses its images itself). It is skipped when neither its inputs (the roles' image
# files and defaults, the fleet, LAB_VMS) nor what it left (the VM images, the benchmark's archives, the host images
# in the lab engine) changed since it last succeeded: ~10 s of three playbook starts on a warm make lab.
images_fingerprint() {
  {
    echo "LAB_VMS=$LAB_VMS"
    cat "$LAB_FLEET" playbooks/lab.yml playbooks/bench/images.yml roles/lab/defaults/main.yml roles/lab/tasks/*image*.yml \
      roles/lab/files/* roles/benchmark/defaults/main.yml roles/benchmark/tasks/rootfs.yml roles/benchmark/files/cow_bench_rootfs.py \
      2>/dev/null || true
    ls "$LAB_STATE/vm/images" "$LAB_STATE/bench-images" 2>/dev/null || true
    docker -H "$LAB_DOCKER_HOST" image ls --format '{{.Repository}}:{{.Tag}} {{.ID}}' 2>/dev/null | grep '^cow-lab' | sort || true
  } | sha256sum | cut -d' ' -f1
}
# unchanged_or_step STAMP FINGERPRINT_FUNCTION WHY NAME WHAT COMMAND...: the step, unless STAMP holds the fingerprint
# the step left when it last succeeded (its caller writes STAMP once what the step started is complete).
unchanged_or_step() {
  local stamp=$1 fingerprint=$2 why=$3; shift 3
  if [ "$(cat "$stamp" 2>/dev/null)" = "$("$fingerprint")" ]; then say "$1: unchanged since the last make lab ($why)"; return 0; fi
  rm -f "$stamp"
  step "$@"
}
IMAGES_STAMP=$LAB_STATE/images.ok
unchanged_or_step "$IMAGES_STAMP" images_fingerprint "the hosts and benchmark steps check them again" \
  images "side by side: the container host image$([ "$LAB_VMS" = 1 ] && echo ' and the VM image (then the VM boots)'), the benchmark's real Debian images in the background; mmdebstrap from the Debian mirror, ~2 min the first time, cached by content hash afterwards (~8 s)" \
  images

# The hosts step is skipped the same way: when its inputs (the lab role, the fleet, LAB_VMS) and the hosts it left are
# as they were when it last succeeded: the same containers, started at the same instant (a restarted one has lost the
# mounts the step made in it), the same VM processes, the same loop devices, the same inventory. ~18 s of a warm
# make lab; the converge step then reaches every host anyway.
hosts_fingerprint() {
  local ids p pid
  {
    echo "LAB_VMS=$LAB_VMS"
    cat "$LAB_FLEET" playbooks/lab.yml roles/lab/defaults/main.yml roles/lab/vars/main.yml roles/lab/tasks/*.yml roles/lab/templates/* \
      roles/lab/files/* inventories/lab/hosts.yml 2>/dev/null || true
    ids=$(docker -H "$LAB_DOCKER_HOST" ps -aq --filter label=cow.lab 2>/dev/null || true)
    if [ -n "$ids" ]; then
      # shellcheck disable=SC2086
      docker -H "$LAB_DOCKER_HOST" inspect -f '{{.Name}} {{.Id}} {{.Image}} {{.State.Status}} {{.State.StartedAt}}' $ids | sort
    fi
    for p in "$LAB_STATE"/vm/labs/*/*/qemu.pid; do
      [ -e "$p" ] || continue
      pid=$(cat "$p"); echo "$p $pid $(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f20)"
    done
    losetup -n -l -O NAME,BACK-FILE 2>/dev/null | grep -F "$LAB_STATE/disks/" | sort || true
  } | sha256sum | cut -d' ' -f1
}
HOSTS_STAMP=$LAB_STATE/hosts.ok
unchanged_or_step "$HOSTS_STAMP" hosts_fingerprint "the same containers, VMs, disks and inventory" \
  hosts "start the lab hosts$([ "$LAB_VMS" = 1 ] && echo ' and boot the VM cow-dm under TCG') (~35 s, the VM already booting; ~20 s when they run)" \
  ansible-playbook playbooks/lab.yml -e "lab_fleet=$LAB_FLEET" -e "lab_vms=$LAB_VMS"
[ -e "$HOSTS_STAMP" ] || hosts_fingerprint > "$HOSTS_STAMP"
step converge "site.yml on every host (first time ~1.5 min with the VM; a no-op re-converge 15-30 s, most of it the VM under TCG)" \
  ansible-playbook -i inventories/lab site.yml
# the VM hosts (inventory group lab_vms) are left out: under TCG one docker run takes 20-30 s
bench_images_wait
[ -e "$IMAGES_STAMP" ] || images_fingerprint > "$IMAGES_STAMP"
step benchmark "the seed's measurement with a real Debian image (first time ~1 min: copies and imports on every host at once; then 25-40 s)" \
  ansible-playbook -i inventories/lab playbooks/benchmark.yml -e benchmark_quick=true -e benchmark_keep_images=true \
  -e 'target=all:!lab_vms'
say "make lab done in $(mmss "$(since "$T0")"): ${TIMES[*]/%/,} (load $(cut -d' ' -f1 /proc/loadavg), CPU stolen by the hypervisor: $(steal)%)"
