#!/usr/bin/env bash
# ansible-test sanity on the tracked tree, run locally (no container runtime for ansible-test here).
# The tree is copied to <tmp>/ansible_collections/cow/storage, as ansible-test requires.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PWD/.venv/bin:$PATH
PY=${SANITY_PYTHON:-3.11}
pip_version=$(.venv/bin/python - <<'PY'
from ansible_test._internal.python_requirements import get_venv_packages
class P: version = "3.11"
print(get_venv_packages(P())["pip"])
PY
)
cache=~/.ansible/test/cache/get_pip_${pip_version//./_}.py
mkdir -p "$(dirname "$cache")"
install -m 0644 scripts/ansible-test-get-pip.py "$cache"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
dest=$work/ansible_collections/cow/storage
mkdir -p "$dest"
git ls-files -co --exclude-standard -z | xargs -0 -I{} cp --parents -P {} "$dest"/ 2>/dev/null || true
# collections this one depends on, for the import and validate-modules tests
for c in $(cd .cache/collections/ansible_collections && ls -d */* | grep -v '^cow/'); do
  mkdir -p "$work/ansible_collections/${c%/*}"; ln -s "$PWD/.cache/collections/ansible_collections/$c" "$work/ansible_collections/$c"
done
cd "$dest"
ansible-test sanity --local --python "$PY" --color "$@"
