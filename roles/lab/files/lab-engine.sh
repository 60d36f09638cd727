#!/usr/bin/env bash
# lab-engine.sh up|down|env : the Docker engine the lab runs on.
#  up:   use the engine that answers (DOCKER_HOST or /var/run/docker.sock); otherwise start a
#        private dockerd with its own data-root, exec-root and socket under $LAB_STATE/engine.
#        The capability-stripping runtime wrapper is registered only when this machine's
#        bounding set lacks CAP_SYS_RESOURCE (privileged containers would fail without it).
#  down: stop the private dockerd if the lab started it (an engine we did not start is left alone).
#  env:  print DOCKER_HOST=... for the engine in use.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
LAB_STATE=${LAB_STATE:?set LAB_STATE to the lab state directory}
E=$LAB_STATE/engine
SOCK=$E/docker.sock
mkdir -p "$LAB_STATE"

answers() { timeout 10 docker -H "$1" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

needs_wrapper() { # CAP_SYS_RESOURCE is capability 24
  local bnd; bnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
  (( (16#$bnd >> 24 & 1) == 0 ))
}

current() {
  if [ -f "$E/pid" ] && kill -0 "$(cat "$E/pid")" 2>/dev/null && answers "unix://$SOCK"; then
    echo "unix://$SOCK"; return 0; fi
  if [ -f "$LAB_STATE/engine.external" ]; then
    local h; h=$(cat "$LAB_STATE/engine.external"); if answers "$h"; then echo "$h"; return 0; fi; fi
  return 1
}

up() {
  if h=$(current); then echo "DOCKER_HOST=$h"; return 0; fi
  for h in ${DOCKER_HOST:-} unix:///var/run/docker.sock; do
    if answers "$h"; then
      if needs_wrapper && ! docker -H "$h" info --format '{{json .Runtimes}}' | grep -q nosysres; then
        echo "lab-engine: the Docker engine at $h answers, but this machine lacks CAP_SYS_RESOURCE in its" >&2
        echo "  bounding set, so --privileged lab hosts fail there. Stop that engine (the lab then starts" >&2
        echo "  its own), or register $HERE/runc-nosysres as runtime 'nosysres' and make it the default." >&2
        exit 1
      fi
      echo "$h" > "$LAB_STATE/engine.external"; echo "DOCKER_HOST=$h"; return 0
    fi
  done
  command -v dockerd >/dev/null || { echo "lab-engine: no Docker engine answers and dockerd is not installed: run 'make deps'" >&2; exit 1; }
  mkdir -p "$E/data" "$E/exec"
  local extra=()
  if needs_wrapper; then
    install -m 0755 "$HERE/runc-nosysres" "$E/runc-nosysres"
    extra+=(--add-runtime "nosysres=$E/runc-nosysres" --default-runtime nosysres)
  fi
  # No bridge and no iptables rules: lab hosts are reached through `docker exec`, and nothing
  # outside the lab state directory is left behind when the lab goes down.
  setsid dockerd --data-root "$E/data" --exec-root "$E/exec" -H "unix://$SOCK" --pidfile "$E/pid" \
    --bridge none --iptables=false --ip6tables=false --ip-masq=false --storage-driver overlay2 \
    "${extra[@]}" >>"$E/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 1 120); do
    answers "unix://$SOCK" && { echo "DOCKER_HOST=unix://$SOCK"; return 0; }
    sleep 0.25
  done
  echo "lab-engine: the private dockerd did not answer within 30 s; its log ($E/dockerd.log) ends:" >&2
  tail -n 15 "$E/dockerd.log" >&2; exit 1
}

down() {
  rm -f "$LAB_STATE/engine.external"
  [ -f "$E/pid" ] || return 0
  local pid; pid=$(cat "$E/pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$E/pid"
  # dockerd leaves its runtime mounts under exec-root/data-root on some exits: unmount ours only.
  awk -v p="$E/" 'index($2, p) == 1 {print $2}' /proc/self/mounts | sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) current | sed 's/^/DOCKER_HOST=/' ;;
  *) echo "usage: $0 up|down|env" >&2; exit 2 ;;
esac
