#!/usr/bin/env bash
# make bench-migrate: how long a driver switch leaves the images unusable, and how long it takes, by migration path
# (issue 27), on one lab host of molecule/migration (Debian 12, Docker 20.10, vfs with images): scripts/bench-migrate.yml.
# BENCH_MIGRATE_MB: the sizes of the measured image, in MB (default "256 1024"). Prints a table and writes it to
# bench-results/migrate.json; the lab host is destroyed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PWD/.venv/bin:$PATH ANSIBLE_CONFIG=$PWD/ansible.cfg
sizes=${BENCH_MIGRATE_MB:-256 1024}
mkdir -p bench-results
trap 'env -u DOCKER_HOST molecule destroy -s migration >/dev/null 2>&1 || true' EXIT
env -u DOCKER_HOST molecule create -s migration >/dev/null
env -u DOCKER_HOST molecule prepare -s migration >/dev/null
inv=$(find ~/.ansible/tmp -maxdepth 2 -path '*/molecule.*.migration/inventory' -printf '%T@ %p\n' | sort -rn | head -1 | cut -d' ' -f2)
ansible-playbook -i "$inv" scripts/bench-migrate.yml -e "{\"bench_sizes_mb\": [${sizes// /, }]}" \
  -e bench_out="$PWD/bench-results/migrate.json"
python3 - "$PWD/bench-results/migrate.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
print("%8s  %-26s %-8s %14s %9s %16s" % ("size MB", "phase", "path", "unavailable s", "total s", "reclaimed bytes"))
for r in rows:
    print("%8s  %-26s %-8s %14s %9s %16s" % (r["size_mb"], r["phase"], r["path"] or "-", r["unavailable_s"], r["total_s"],
                                           r["reclaimed_bytes"] if r["reclaimed_bytes"] is not None else "-"))
PY
