#!/usr/bin/env bash
# Galaxy check: build the collection tarball, install it offline into a temporary path (with the
# community collections it depends on taken from .cache/collections), and list and render its
# plugins with ansible-doc from there.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PWD/.venv/bin:$PATH
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
ansible-galaxy collection build --force --output-path "$work" . >/dev/null
tarball=$(ls "$work"/cow-storage-*.tar.gz)
echo "built $(basename "$tarball") ($(du -h "$tarball" | cut -f1), $(tar tzf "$tarball" | wc -l) files)"
if tar tzf "$tarball" | grep -E '^(molecule|tests|\.lab|\.venv|\.cache|\.ci)/' ; then
  echo "galaxy: build_ignore leaks the files above into the tarball" >&2; exit 1
fi
# The execution environment's build context, offline, from the same tarball.
mkdir -p "$work/ee/meta"
cp execution-environment.yml "$work/ee/" && cp meta/ee-* "$work/ee/meta/" && cp "$tarball" "$work/ee/"
(cd "$work/ee" && ansible-builder create --file execution-environment.yml --context context >/dev/null)
[ -f "$work/ee/context/Dockerfile" ] || [ -f "$work/ee/context/Containerfile" ] || { echo "galaxy: ansible-builder create made no build context" >&2; exit 1; }
echo "execution environment: build context created offline ($(find "$work/ee/context" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort | tr '\n' ' '))"
mkdir -p "$work/collections/ansible_collections"
cp -a .cache/collections/ansible_collections/{community,ansible} "$work/collections/ansible_collections/"
# From here on, nothing of the checkout: an empty config, only the temporary collections path.
printf '[defaults]\n' > "$work/ansible.cfg"
export ANSIBLE_CONFIG=$work/ansible.cfg ANSIBLE_COLLECTIONS_PATH=$work/collections
cd "$work"
ansible-galaxy collection install --offline --no-deps -p "$work/collections" "$tarball" 2>&1 | grep -v 'part of the pip Ansible package' >/dev/null
installed=$(ansible-galaxy collection list cow.storage -p "$work/collections" 2>/dev/null | grep -E '^cow\.storage ')
echo "installed: $installed"
modules=$(ansible-doc -t module -l cow.storage | awk '{print $1}')
[ -n "$modules" ] || { echo "galaxy: no modules listed from the installed collection" >&2; exit 1; }
echo "modules:"; ansible-doc -t module -l cow.storage | sed 's/^/  /'
for m in $modules; do ansible-doc -t module "$m" >/dev/null; done
roles=$(ansible-doc -t role -l cow.storage 2>/dev/null | grep -oE '^cow\.storage\.[a-z0-9_]+' | sort -u)
echo "roles: ${roles//$'\n'/ }"
for r in $roles; do ansible-doc -t role "$r" >/dev/null; done
echo "galaxy: ok ($(wc -w <<<"$modules") modules, $(wc -w <<<"$roles") roles render from the installed tarball)"
