#!/usr/bin/env bash
# ansible-test units, as Galaxy certification and ansible-test's own CI run them: the tracked tree copied to
# <tmp>/ansible_collections/cow/storage, the tests run in a venv ansible-test makes (--venv) with its own
# pinned test requirements plus tests/unit/requirements.txt (--requirements), so a missing requirement
# fails here instead of passing on what the development .venv happens to have. `make unit` stays the fast
# plain pytest run of the same tests.
# UNITS_VENV: the venv whose ansible-core runs the tests (default .venv); UNITS_PYTHON: the Python version.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${UNITS_VENV:-$PWD/.venv}
[ -x "$VENV/bin/ansible-test" ] || { echo "units: no ansible-test in $VENV (run make deps)" >&2; exit 1; }
export PATH=$VENV/bin:$PATH
PY=${UNITS_PYTHON:-$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')}
# ansible-test bootstraps pip in its venvs with a get-pip.py it downloads from a site not reachable
# here: put the offline stand-in where its cache expects the pip version it pins (as scripts/sanity.sh).
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
cd "$dest"
echo "units: $(ansible --version | head -1), Python $PY"
ansible-test units --venv --requirements --python "$PY" --color "$@"
