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

images() { # the three image builds side by side, with a progress line every 30 s
  local -A pid log started
  local name
  start() { log[$1]=$LOGS/$1.log; started[$1]=$(date +%s); shift; "$@" >"${log[$name]}" 2>&1 & pid[$name]=$!; }
  name=host-image; start "$name" ansible-playbook playbooks/lab.yml -e lab_build_only=image -e "lab_fleet=$LAB_FLEET"
  if [ "$LAB_VMS" = 1 ]; then
    name=vm-image; start "$name" ansible-playbook playbooks/lab.yml -e lab_build_only=vm_image -e "lab_fleet=$LAB_FLEET"
  fi
  name=bench-images; start "$name" ansible-playbook playbooks/bench/images.yml -e benchmark_quick=true
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
IMAGES_STAMP=$LAB_STATE/images.ok
if [ "$(cat "$IMAGES_STAMP" 2>/dev/null)" = "$(images_fingerprint)" ]; then
  say "images: unchanged since the last make lab (the hosts and benchmark steps check them again)"
else
  rm -f "$IMAGES_STAMP"
  step images "side by side: the container host image, $([ "$LAB_VMS" = 1 ] && echo 'the VM image, ')the benchmark's real Debian images; mmdebstrap from the Debian mirror, ~2.5 min the first time, cached by content hash afterwards (~8 s)" \
  images
  images_fingerprint > "$IMAGES_STAMP"
fi
step hosts "start the lab hosts$([ "$LAB_VMS" = 1 ] && echo ' and boot the VM cow-dm under TCG') (~50 s; ~20 s when they run)" \
  ansible-playbook playbooks/lab.yml -e "lab_fleet=$LAB_FLEET" -e "lab_vms=$LAB_VMS"
step converge "site.yml on every host (first time ~1.5 min with the VM; a no-op re-converge ~25 s, most of it the VM under TCG)" \
  ansible-playbook -i inventories/lab site.yml
# the VM hosts (inventory group lab_vms) are left out: under TCG one docker run takes 20-30 s
step benchmark "the seed's measurement with a real Debian image (first time ~1.5 min: copies and imports; then ~40 s)" \
  ansible-playbook -i inventories/lab playbooks/benchmark.yml -e benchmark_quick=true -e benchmark_keep_images=true \
  -e 'target=all:!lab_vms'
say "make lab done in $(mmss "$(since "$T0")"): ${TIMES[*]/%/,} (load $(cut -d' ' -f1 /proc/loadavg))"
