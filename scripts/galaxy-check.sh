#!/usr/bin/env bash
# Galaxy check, what a user of the tarball meets:
#  1. build the tarball; the development harness must be absent, what a fleet user runs present;
#  2. role READMEs carry the variables of meta/argument_specs.yml (scripts/role-readme.py --check);
#  3. galaxy-importer (what Galaxy runs on upload), offline, no containers: any error fails;
#  4. the execution environment: ansible-builder create offline, introspect of the installed collection;
#  5. install the tarball with ONLY its declared dependencies (local tarballs built from what
#     `make deps` extracted), into an empty path with an empty config, then: ansible-doc of every
#     module and role, a syntax check of a play importing every task file of every role and every
#     module and of each fleet playbook by FQCN, and check-mode runs against localhost (the backend
#     role, the benchmark report, the filters, cow.storage.preflight).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH=$ROOT/.venv/bin:$PATH
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
ansible-galaxy collection build --force --output-path "$work" . >/dev/null
tarball=$(ls "$work"/cow-storage-*.tar.gz)
tar tzf "$tarball" | sed 's#/$##' | sort > "$work/files"
echo "built $(basename "$tarball") ($(du -h "$tarball" | cut -f1), $(wc -l < "$work/files") files)"

# 1. What ships, and what does not.
leaks=$(grep -E '^(molecule|tests|scripts|\.lab|\.venv|\.cache|\.ci|\.config|bench-results|inventories/lab|roles/lab|playbooks/bench)(/|$)|^(ansible\.cfg|Makefile|requirements\.txt|execution-environment\.yml|site\.yml|playbooks/lab\.yml|playbooks/vars/lab_fleet\.yml)$' "$work/files" || true)
[ -z "$leaks" ] || { echo "galaxy: build_ignore leaks the development harness into the tarball:" >&2; echo "$leaks" >&2; exit 1; }
for f in README.md LICENSE meta/runtime.yml meta/execution-environment.yml changelogs/changelog.yaml \
  plugins/modules plugins/module_utils plugins/filter plugins/doc_fragments \
  roles/backend/README.md roles/benchmark/README.md inventories/example/hosts.yml \
  playbooks/site.yml playbooks/preflight.yml playbooks/migrate.yml playbooks/benchmark.yml \
  playbooks/templates/storage_report.j2 playbooks/templates/preflight_report.j2 playbooks/templates/preflight_data.j2; do
  grep -qxF "$f" "$work/files" || { echo "galaxy: the tarball lacks $f" >&2; exit 1; }
done
echo "contents: $(grep -cE '^plugins/modules/[^/]+\.py$' "$work/files") modules, roles $(grep -oE '^roles/[^/]+/README\.md$' "$work/files" | cut -d/ -f2 | tr '\n' ' ')(lab harness absent)"

# 2. Role READMEs against the argument specs.
python scripts/role-readme.py --check
echo "role READMEs: variable tables match meta/argument_specs.yml"

# 2b. One set of dependency bounds: the execution environment's collections are galaxy.yml's dependencies.
python - <<'PY'
import yaml
deps = yaml.safe_load(open("galaxy.yml"))["dependencies"]
ee = dict((c["name"], c["version"]) for c in yaml.safe_load(open("meta/ee-requirements.yml"))["collections"])
if ee != deps:
    raise SystemExit("galaxy: meta/ee-requirements.yml %s differs from galaxy.yml's dependencies %s" % (ee, deps))
print("execution environment: its collections and bounds are galaxy.yml's (%s)" % ", ".join(sorted(deps)))
PY

# 3. galaxy-importer: Galaxy's own checks (metadata, docs, READMEs, changelog, ansible-lint), offline,
# ansible-test off (it would need a container). Galaxy requires galaxy.yml's `repository`; the project
# has no public URL yet, so while galaxy.yml has none the importer also runs on a copy of the tarball
# with a stand-in URL in MANIFEST.json (every other check then still has to pass), and the missing
# URL is printed as the one thing left before publishing. GALAXY_PUBLISH=1 makes it fatal.
cat > "$work/importer.cfg" <<'EOF'
[galaxy-importer]
run_ansible_test = False
ansible_test_local_image = False
local_image_docker = False
run_ansible_doc = True
run_ansible_lint = True
offline_ansible_lint = True
run_flake8 = False
check_changelog = True
log_level_main = INFO
EOF
printf '[defaults]\n' > "$work/ansible.cfg"
importer() { # importer DIR TARBALL: galaxy-importer in DIR (it writes importer_result.json there)
  (cd "$1" && GALAXY_IMPORTER_CONFIG=$work/importer.cfg ANSIBLE_CONFIG=$work/ansible.cfg ANSIBLE_LOCAL_TEMP=$work/tmp \
    python -m galaxy_importer.main "$2") > "$1/importer.log" 2>&1
}
mkdir -p "$work/import" "$work/tmp"
if importer "$work/import" "$tarball" && ! grep -q '^ERROR' "$work/import/importer.log"; then
  echo "galaxy-importer: ok ($(grep -m1 'galaxy-importer' "$work/import/importer.log"))"
elif grep -q "'repository' is required" "$work/import/importer.log" && ! grep -qE '^repository:' galaxy.yml && [ "${GALAXY_PUBLISH:-0}" != 1 ]; then
  echo "galaxy-importer: WARNING: galaxy.yml has no repository URL, which Galaxy requires: set it before publishing"
  mkdir -p "$work/standin"
  python - "$tarball" "$work/standin/$(basename "$tarball")" <<'PY'
import io, json, sys, tarfile
with tarfile.open(sys.argv[1]) as tin, tarfile.open(sys.argv[2], "w:gz") as tout:
    for member in tin.getmembers():
        data = tin.extractfile(member).read() if member.isfile() else None
        if member.name == "MANIFEST.json":
            manifest = json.loads(data)
            manifest["collection_info"]["repository"] = "https://stand-in.invalid/for-the-import-check-only"
            data = json.dumps(manifest, indent=4).encode()
            member.size = len(data)
        tout.addfile(member, io.BytesIO(data) if data is not None else None)
PY
  if importer "$work/standin" "$work/standin/$(basename "$tarball")" && ! grep -q '^ERROR' "$work/standin/importer.log"; then
    echo "galaxy-importer: ok with a stand-in repository URL ($(grep -m1 'galaxy-importer' "$work/standin/importer.log"))"
  else
    echo "galaxy-importer: the import fails:" >&2; grep -vE '^(Loading|Running) ' "$work/standin/importer.log" >&2; exit 1
  fi
else
  echo "galaxy-importer: the import fails:" >&2; grep -vE '^(Loading|Running) ' "$work/import/importer.log" >&2; exit 1
fi
for log in "$work"/import/importer.log "$work"/standin/importer.log; do
  [ -f "$log" ] && grep -E '^WARNING' "$log" | sed 's/^/galaxy-importer: /' || true
done

# 4. The execution environment's build context, offline, from the same tarball.
mkdir -p "$work/ee/meta"
cp execution-environment.yml "$work/ee/" && cp meta/ee-* "$work/ee/meta/" && cp "$tarball" "$work/ee/"
(cd "$work/ee" && ansible-builder create --file execution-environment.yml --context context >/dev/null)
[ -f "$work/ee/context/Dockerfile" ] || [ -f "$work/ee/context/Containerfile" ] || { echo "galaxy: ansible-builder create made no build context" >&2; exit 1; }
echo "execution environment: build context created offline ($(find "$work/ee/context" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort | tr '\n' ' '))"

# 5. Install with only the declared dependencies, each built into a tarball from .cache/collections.
deps=$(python - "$tarball" <<'PY'
import json, sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    info = json.load(t.extractfile("MANIFEST.json"))["collection_info"]
for name, version in sorted(info.get("dependencies", {}).items()):
    print(name, version)
PY
)
echo "declared dependencies: ${deps:-none}" | tr '\n' ' '; echo
mkdir -p "$work/deps" "$work/collections"
printf 'collections:\n  - {name: %s, type: file}\n' "$tarball" > "$work/requirements.yml"
# The declared ones, and theirs in turn (what ansible-galaxy pulls for a user), each built once.
read -r -a queue <<<"$(awk '{print $1}' <<<"$deps" | tr '\n' ' ')"
built=" "
while ((${#queue[@]})); do
  name=${queue[0]}; queue=("${queue[@]:1}")
  case $built in *" $name "*) continue ;; esac
  built+="$name "
  src=.cache/collections/ansible_collections/${name%%.*}/${name#*.}
  [ -f "$src/MANIFEST.json" ] || { echo "galaxy: $name is a dependency but not in .cache/collections (run make deps)" >&2; exit 1; }
  read -r -a more <<<"$(python -c 'import json, sys; print(" ".join(json.load(open(sys.argv[1]))["collection_info"].get("dependencies") or {}))' "$src/MANIFEST.json")"
  queue+=("${more[@]}")
  # The ansible package's copy has MANIFEST.json but no galaxy.yml: write one from it and build.
  python - "$src" "$work/deps" <<'PY'
import json, os, shutil, subprocess, sys, tempfile
import yaml
src, out = sys.argv[1], sys.argv[2]
info = json.load(open(os.path.join(src, "MANIFEST.json")))["collection_info"]
with tempfile.TemporaryDirectory() as tmp:
    dst = os.path.join(tmp, "src")
    shutil.copytree(src, dst, symlinks=True, ignore=shutil.ignore_patterns("MANIFEST.json", "FILES.json", "__pycache__"))
    keys = ("namespace", "name", "version", "readme", "authors", "description", "license", "license_file",
            "tags", "dependencies", "repository", "documentation", "homepage", "issues")
    meta = {k: info[k] for k in keys if info.get(k) not in (None, [], {}, "")}
    if not os.path.exists(os.path.join(dst, meta.setdefault("readme", "README.md"))):
        open(os.path.join(dst, meta["readme"]), "w").close()
    with open(os.path.join(dst, "galaxy.yml"), "w") as f:
        yaml.safe_dump(meta, f)
    subprocess.run(["ansible-galaxy", "collection", "build", "--force", "--output-path", out, dst],
                   check=True, stdout=subprocess.DEVNULL)
PY
done
echo "dependency tarballs built from .cache/collections:${built% }"
for t in "$work"/deps/*.tar.gz; do [ -e "$t" ] && printf '  - {name: %s, type: file}\n' "$t" >> "$work/requirements.yml"; done
# From here on, nothing of the checkout: an empty config, only the temporary collections path.
export ANSIBLE_CONFIG=$work/ansible.cfg ANSIBLE_COLLECTIONS_PATH=$work/collections ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false \
  ANSIBLE_LOCAL_TEMP=$work/tmp ANSIBLE_FORCE_COLOR=0
cd "$work"
ansible-galaxy collection install --offline -r "$work/requirements.yml" -p "$work/collections" > "$work/install.log" 2>&1 ||
  { cat "$work/install.log" >&2; echo "galaxy: the tarball does not install with its declared dependencies" >&2; exit 1; }
echo "installed: $(ansible-galaxy collection list -p "$work/collections" 2>/dev/null | grep -E '^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]* ' | awk '{print $1 " " $2}' | tr '\n' ' ')"
coll=$work/collections/ansible_collections/cow/storage
introspect=$(ansible-builder introspect "$work/collections" 2>/dev/null)
grep -q "jmespath.*from collection cow.storage" <<<"$introspect" || { echo "galaxy: ansible-builder introspect finds no jmespath in the installed collection:" >&2; echo "$introspect" >&2; exit 1; }
echo "ansible-builder introspect: $(grep -c 'from collection cow.storage' <<<"$introspect") requirements from cow.storage ($(grep 'from collection cow.storage' <<<"$introspect" | sed "s/^- '//; s/ *#.*//" | tr '\n' ';' | sed 's/;$//'))"
modules=$(ansible-doc -t module -l cow.storage | awk '{print $1}')
[ -n "$modules" ] || { echo "galaxy: no modules listed from the installed collection" >&2; exit 1; }
echo "modules: $(tr '\n' ' ' <<<"$modules")"
mapfile -t list <<<"$modules"; ansible-doc -t module "${list[@]}" >/dev/null
roles=$(ansible-doc -t role -l cow.storage 2>/dev/null | grep -oE '^cow\.storage\.[a-z0-9_]+' | sort -u)
echo "roles: ${roles//$'\n'/ }"
mapfile -t list <<<"$roles"; ansible-doc -t role "${list[@]}" >/dev/null
filters=$(ansible-doc -t filter -l cow.storage | awk '{print $1}')
echo "filters: $(tr '\n' ' ' <<<"$filters")"

# Every action name in every task file of every shipped role, and every module, must resolve: a
# static import of each task file (dynamic includes are not parsed by --syntax-check) and each module.
{
  echo "- name: Every task file and module of cow.storage resolves"
  echo "  hosts: localhost"
  echo "  gather_facts: false"
  echo "  tasks:"
  for tf in "$coll"/roles/*/tasks/*.yml; do
    r=${tf%/tasks/*}; r=${r##*/}; f=${tf##*/}
    printf '    - name: "%s %s"\n      ansible.builtin.import_role: {name: cow.storage.%s, tasks_from: %s}\n      when: false\n' "$r" "${f%.yml}" "$r" "${f%.yml}"
  done
  for m in $modules; do printf '    - name: "%s"\n      %s: {}\n      when: false\n' "$m" "$m"; done
} > "$work/resolve.yml"
ansible-playbook --syntax-check -i localhost, "$work/resolve.yml" > "$work/resolve.log" 2>&1 ||
  { cat "$work/resolve.log" >&2; echo "galaxy: with only the declared dependencies, the above does not resolve" >&2; exit 1; }
echo "syntax check: $(grep -c import_role "$work/resolve.yml") role task files and $(wc -w <<<"$modules") modules resolve with only the declared dependencies"
playbooks=$(find "$coll/playbooks" -maxdepth 1 -name '*.yml' -printf 'cow.storage.%f\n' | sed 's/\.yml$//' | sort)
for p in $playbooks; do
  ansible-playbook --syntax-check -i localhost, "$p" > "$work/syntax.log" 2>&1 ||
    { cat "$work/syntax.log" >&2; echo "galaxy: the playbook $p does not resolve" >&2; exit 1; }
done
echo "syntax check: playbooks $(tr '\n' ' ' <<<"$playbooks")"

# Check mode against the controller itself (no lab host here): the backend role plans a converge onto
# vfs in a daemon.json of this temporary directory (no engine needs to run), the benchmark report and
# the filters run, and cow.storage.preflight reports this host read-only. No engine is reachable: make
# test's prebuild exports the lab engine's DOCKER_HOST, and a plan against that engine (its images
# under another driver) is rightly refused, so the runs below point DOCKER_HOST at a socket that is not.
export DOCKER_HOST=unix://$work/no-engine.sock
samples() { # a filter call that proves the filter loads and works
  case $1 in
    cow.storage.jmes) echo "({'a': {'b': 1}} | cow.storage.jmes('a.b')) == 1" ;;
    cow.storage.bench_summary) echo "([] | cow.storage.bench_summary).start == []" ;;
    cow.storage.driver_info) echo "('overlay2' | cow.storage.driver_info).snapshotter == 'overlayfs'" ;;
    *) echo "galaxy: no sample for the filter $1 in scripts/galaxy-check.sh" >&2; exit 1 ;;
  esac
}
{
  cat <<EOF
- name: The backend role in check mode on the controller
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  roles:
    - role: cow.storage.backend
      vars:
        backend_driver: vfs
        backend_config_path: $work/daemon.json
        backend_manage_packages: false
  post_tasks:
    - name: The role's one output is the module's planned change (not a skipped task's result)
      ansible.builtin.assert:
        that:
          - backend_result is changed
          - backend_result.actions | map(attribute='action') | list == ['write_config', 'restart']
          # the switch to vfs warns (the registry's copy_on_write), in check mode too
          - backend_result.warnings | default([]) | select('search', '^vfs. no copy-on-write') | length == 1
        fail_msg: "{{ backend_result | to_json }}"

- name: The benchmark report, the filters and the read-only module on the controller
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Report an empty benchmark
      ansible.builtin.include_role:
        name: cow.storage.benchmark
        tasks_from: report
      vars:
        benchmark_results_dir: $work/bench-results
    - name: Read the storage facts
      cow.storage.docker_storage_info:
    - name: Every filter
      ansible.builtin.assert:
        that:
EOF
  for f in $filters; do s=$(samples "$f") || exit 1; printf '          - "%s"\n' "$s"; done
} > "$work/check.yml"
ansible-playbook -C --diff -i localhost, "$work/check.yml" > "$work/check.log" 2>&1 || { cat "$work/check.log" >&2; echo "galaxy: check-mode run failed" >&2; exit 1; }
[ ! -e "$work/daemon.json" ] || { echo "galaxy: check mode wrote $work/daemon.json" >&2; exit 1; }
echo "check mode on localhost: $(grep -E '^localhost +:' "$work/check.log" | tail -1 | tr -s ' ')"
ansible-playbook -C -i localhost, -c local -e "ansible_python_interpreter=$(command -v python)" cow.storage.preflight > "$work/preflight.log" 2>&1 ||
  { cat "$work/preflight.log" >&2; echo "galaxy: cow.storage.preflight failed in check mode" >&2; exit 1; }
echo "cow.storage.preflight on localhost: $(grep -E '^localhost +:' "$work/preflight.log" | tr -s ' ')"
# Kept for molecule/default, which runs cow.storage.site and cow.storage.preflight from this install against
# a real lab host in check mode (the lab's container connection comes from community.docker, harness only).
rm -rf "$ROOT/.cache/galaxy-installed" && mkdir -p "$ROOT/.cache/galaxy-installed" && cp -a "$work/collections" "$ROOT/.cache/galaxy-installed/"
echo "galaxy: ok ($(wc -w <<<"$modules") modules, $(wc -w <<<"$roles") roles, $(wc -w <<<"$filters") filters from the tarball with its declared dependencies only)"
