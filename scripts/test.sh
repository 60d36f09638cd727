#!/usr/bin/env bash
# make test: the whole suite, phase by phase, with the time each takes. Leaves the machine as it
# found it: molecule labs are destroyed, and the private engine is stopped if this run started it.
# PHASES (env) selects phases: sanity sanity-newest lint unit units docs galaxy molecule. SCENARIOS selects molecule scenarios.
# MOLECULE_LANES=2 (the default) runs the molecule scenarios in two lanes side by side: the VM scenarios (a TCG guest
# keeps about one core busy) and the container scenarios, each lane one scenario after another; 1 runs them in turn.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
export PATH=$ROOT/.venv/bin:$PATH LAB_STATE=${LAB_STATE:-$ROOT/.lab} ANSIBLE_CONFIG=$ROOT/ansible.cfg
PHASES=${PHASES:-sanity sanity-newest lint unit units docs galaxy molecule}
if [ -z "${SCENARIOS:-}" ]; then # every molecule scenario, default first, then by name
  SCENARIOS=$(for m in molecule/*/molecule.yml; do m=${m#molecule/}; echo "${m%/molecule.yml}"; done |
    sort | sed '/^default$/d' | sed '1i default' | tr '\n' ' ')
fi
ENGINE=$ROOT/roles/lab/files/lab-engine.sh
logdir=$ROOT/.cache/test-logs; mkdir -p "$logdir"
declare -a summary; failed=0; tests_passed=0; tests_failed=0; molecule_wall=""
engine_was_up=false; "$ENGINE" env >/dev/null 2>&1 && engine_was_up=true

prebuild_pid=""; lane_pids=""
cleanup() {
  if [ -n "$prebuild_pid" ] && kill -0 "$prebuild_pid" 2>/dev/null; then pkill -TERM -P "$prebuild_pid" 2>/dev/null; kill "$prebuild_pid" 2>/dev/null; fi
  for p in $lane_pids; do # an interrupted run: the lanes' molecule runs first, then the lanes
    if kill -0 "$p" 2>/dev/null; then pkill -TERM -P "$p" 2>/dev/null; kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; fi
  done
  if [ -n "${DOCKER_HOST:-}" ]; then
    for s in $SCENARIOS; do
      if docker ps -aq --filter "label=cow.lab=mol-$s" | grep -q .; then
        echo "cleanup: destroying leftover molecule lab mol-$s"
        MOLECULE_SCENARIO_NAME=$s ansible-playbook molecule/shared/destroy.yml -e molecule_instance_config=/dev/null >/dev/null 2>&1 || true
      fi
    done
  fi
  if ! $engine_was_up && "$ENGINE" env >/dev/null 2>&1; then
    if [ -z "$(docker ps -aq --filter label=cow.lab 2>/dev/null)" ]; then "$ENGINE" down; fi
  fi
}
trap cleanup EXIT

count() { # add pytest's "N passed" / "N failed" from a log to the totals
  local p f
  p=$(grep -aoE '[0-9]+ passed' "$1" | awk '{s+=$1} END {print s+0}')
  f=$(grep -aoE '[0-9]+ (failed|error)' "$1" | awk '{s+=$1} END {print s+0}')
  tests_passed=$((tests_passed + p)); tests_failed=$((tests_failed + f))
}

phase() { # phase NAME CMD...
  local name=$1; shift
  local log=$logdir/$name.log start=$SECONDS rc
  echo "=== $name: $*"
  "$@" 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}
  local took=$((SECONDS - start))
  if [ "$rc" = 0 ]; then summary+=("$(printf '%-22s ok     %4ds' "$name" "$took")")
  else summary+=("$(printf '%-22s FAILED %4ds  (log: %s)' "$name" "$took" "$log")"); failed=$((failed + 1)); fi
  return "$rc"
}

# The lab images the molecule scenarios need (container hosts per suite, VM images, the ZFS VM image with its
# kernel modules) build side by side in the background while the first phases run (scripts/prebuild.py).
if [[ " $PHASES " == *" molecule "* ]] && [ "${PREBUILD:-1}" = 1 ]; then
  if h=$("$ENGINE" up); then
    export DOCKER_HOST=${h#DOCKER_HOST=}
    echo "=== prebuild: the scenarios' lab images, in the background (log: $logdir/prebuild.log)"
    read -ra scenario_list <<< "$SCENARIOS"
    rm -f "$logdir"/prebuilt-*   # before the VM lane looks for them (prebuild.py clears them too, but later)
    python scripts/prebuild.py --jobs "${PREBUILD_JOBS:-3}" "$logdir" "${scenario_list[@]}" > "$logdir/prebuild.log" 2>&1 &
    prebuild_pid=$!
  fi
fi

prebuilt() { # wait until scenario $1's lab image is built (or the prebuild is over)
  [ -n "$prebuild_pid" ] || return 0
  while [ ! -e "$logdir/prebuilt-$1" ] && kill -0 "$prebuild_pid" 2>/dev/null; do sleep 2; done
}

mtest() { # mtest SCENARIO: molecule test; `migration` runs without DOCKER_HOST, as `molecule test` by hand after
  # `make deps` does (README, Contributing): the inventories point the lab hosts' connection at the engine's socket
  if [ "$1" = migration ]; then env -u DOCKER_HOST molecule test -s "$1"; else molecule test -s "$1"; fi
}

lane() { # lane NAME SCENARIO...: molecule test for each scenario in turn, its output in its log only; one line per
  # scenario ("scenario rc seconds") in $logdir/lane-NAME for the summary
  local name=$1 s start rc; shift
  : > "$logdir/lane-$name"
  for s in "$@"; do
    prebuilt "$s"; start=$SECONDS
    echo "=== molecule-$s (lane $name): molecule test -s $s (log: $logdir/molecule-$s.log)"
    mtest "$s" > "$logdir/molecule-$s.log" 2>&1; rc=$?
    echo "$s $rc $((SECONDS - start))" >> "$logdir/lane-$name"
    echo "=== molecule-$s (lane $name): $( [ "$rc" = 0 ] && echo ok || echo FAILED ) in $((SECONDS - start)) s"
  done
}

vm_scenarios=(); ctr_scenarios=()
for s in $SCENARIOS; do
  if grep -q '^ *kind: vm' "molecule/$s/molecule.yml"; then vm_scenarios+=("$s"); else ctr_scenarios+=("$s"); fi
done

# The VM lane is the longest (each scenario boots a TCG guest), so with two lanes it starts now, beside the static
# phases, as soon as its first image is built; the container lane starts with the molecule phase.
molecule_start=""
if [[ " $PHASES " == *" molecule "* ]] && [ "${MOLECULE_LANES:-2}" -ge 2 ] && [ ${#vm_scenarios[@]} -gt 0 ]; then
  if h=$("$ENGINE" up); then
    export DOCKER_HOST=${h#DOCKER_HOST=}
    echo "=== molecule: the VM lane (${vm_scenarios[*]}) starts now, in the background; the container lane with the molecule phase"
    molecule_start=$SECONDS
    lane vm "${vm_scenarios[@]}" & lane_pids="$!"
  fi
fi

molecule_lanes() { # the container lane (the VM lane is already running), then one summary line per scenario
  local s line rc took
  [ -n "$molecule_start" ] || [ ${#vm_scenarios[@]} -eq 0 ] || { lane vm "${vm_scenarios[@]}" & lane_pids="$!"; }
  [ ${#ctr_scenarios[@]} -eq 0 ] || { lane containers "${ctr_scenarios[@]}" & lane_pids="$lane_pids $!"; }
  # shellcheck disable=SC2086  # the pids are words
  wait $lane_pids; lane_pids=""
  for s in $SCENARIOS; do
    line=$(cat "$logdir"/lane-vm "$logdir"/lane-containers 2>/dev/null | awk -v s="$s" '$1 == s')
    read -r _ rc took <<< "${line:-$s 1 0}"
    if [ "$rc" = 0 ]; then summary+=("$(printf '%-22s ok     %4ds' "molecule-$s" "$took")")
    else summary+=("$(printf '%-22s FAILED %4ds  (log: %s)' "molecule-$s" "$took" "$logdir/molecule-$s.log")"); failed=$((failed + 1)); fi
    [ -e "$logdir/molecule-$s.log" ] && count "$logdir/molecule-$s.log"
  done
}

for p in $PHASES; do
  case $p in
    sanity) phase sanity bash scripts/sanity.sh ;;
    sanity-newest) phase sanity-newest env SANITY_VENV="$ROOT/.cache/venv-sanity-newest" bash scripts/sanity.sh ;;
    lint) phase lint ansible-lint --profile production ;;
    unit) phase unit python -m pytest tests/unit -q -p no:cacheprovider; count "$logdir/unit.log" ;;
    units) phase units bash scripts/units.sh ;;   # ansible-test units in its own venv (tests/unit/requirements.txt)
    docs) phase docs bash scripts/docs.sh lint ;;  # antsibull-docs and antsibull-changelog lint
    galaxy) phase galaxy bash scripts/galaxy-check.sh ;;
    molecule)
      if h=$("$ENGINE" up); then
        export DOCKER_HOST=${h#DOCKER_HOST=}
        start=${molecule_start:-$SECONDS}
        if [ "${MOLECULE_LANES:-2}" -ge 2 ]; then
          rm -f "$logdir/lane-containers"; [ -n "$molecule_start" ] || rm -f "$logdir/lane-vm"
          molecule_lanes
        else
          for s in $SCENARIOS; do prebuilt "$s"; phase "molecule-$s" mtest "$s"; count "$logdir/molecule-$s.log"; done
        fi
        molecule_wall="molecule: $((SECONDS - start)) s of wall time in ${MOLECULE_LANES:-2} lane(s)${molecule_start:+ (the VM lane from $molecule_start s into the run)}"
        if [ -n "$prebuild_pid" ]; then
          wait "$prebuild_pid"; prebuild_pid=""; cat "$logdir/prebuild.log"
          summary+=("$(printf '%-22s done   (in the background from the start: %s; log: %s)' prebuild "$(tail -n1 "$logdir/prebuild.log" | sed 's/^prebuild: //')" "$logdir/prebuild.log")")
        fi
      else
        summary+=("molecule               FAILED: no lab engine"); failed=$((failed + 1))
      fi ;;
    *) echo "unknown phase $p" >&2; exit 2 ;;
  esac
done

echo; echo "=== make test summary (logs in $logdir)"
printf '  %s\n' "${summary[@]}"
echo "phases: $(( ${#summary[@]} - failed )) passed, $failed failed"
echo "tests: $tests_passed passed, $tests_failed failed"
[ -z "$molecule_wall" ] || echo "$molecule_wall; the whole run: $SECONDS s"
# CI shows only the end of this output: why each failed phase failed comes last (the failed task and its result).
for line in "${summary[@]}"; do
  case $line in *FAILED*"(log: "*)
    log=${line##*(log: }; log=${log%)}; name=${line%% *}
    echo "--- $name, why (from $log):"
    python scripts/log-excerpt.py "$log" ;;
  esac
done
[ "$failed" = 0 ]
