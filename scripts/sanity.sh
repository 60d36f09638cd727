#!/usr/bin/env bash
# ansible-test sanity on the tracked tree, run locally (no container runtime for ansible-test here).
# The tree is copied to <tmp>/ansible_collections/cow/storage, as ansible-test requires.
# SANITY_VENV: the venv whose ansible-core runs the tests (default .venv, the main toolchain;
# `make sanity-newest` passes .cache/venv-sanity-newest, the newest ansible-core, see scripts/deps.sh).
# SANITY_PYTHON: the Python version the tests run on (default: the venv's own).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/ansible-test-tree.sh
. scripts/ansible-test-tree.sh
ansible_test_tree sanity "${SANITY_VENV:-$PWD/.venv}" "${SANITY_PYTHON:-}"
# collections this one depends on, for the import and validate-modules tests
src=$PWD/.cache/collections/ansible_collections
for d in "$src"/*/*; do
  c=${d#"$src"/}
  [ "${c%/*}" != cow ] || continue
  mkdir -p "$work/ansible_collections/${c%/*}"; ln -s "$d" "$work/ansible_collections/$c"
done
cd "$dest"
echo "sanity: $(ansible --version | sed -n 1p), Python $PY"  # sed reads it all: head would close the pipe early
ansible-test sanity --local --python "$PY" --color "$@"
