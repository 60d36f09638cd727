#!/usr/bin/env bash
# ansible-test units, as Galaxy certification and ansible-test's own CI run them: the tracked tree copied to
# <tmp>/ansible_collections/cow/storage, the tests run in a venv ansible-test makes (--venv) with its own
# pinned test requirements plus tests/unit/requirements.txt (--requirements), so a missing requirement
# fails here instead of passing on what the development .venv happens to have. `make unit` stays the fast
# plain pytest run of the same tests.
# UNITS_VENV: the venv whose ansible-core runs the tests (default .venv); UNITS_PYTHON: the Python version.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/ansible-test-tree.sh
. scripts/ansible-test-tree.sh
ansible_test_tree units "${UNITS_VENV:-$PWD/.venv}" "${UNITS_PYTHON:-}"
cd "$dest"
echo "units: $(ansible --version | head -1), Python $PY"
ansible-test units --venv --requirements --python "$PY" --color "$@"
