#!/usr/bin/env bash
# The collection's documentation with antsibull-docs, offline.
#   scripts/docs.sh lint    the docs site's pages (docs/docsite/rst) written from docs/*.md (scripts/md2rst.py --check),
#                           antsibull-docs lint-collection-docs --plugin-docs (modules, filters, roles'
#                           argument specs, the docs' markup and references), antsibull-changelog lint, and
#                           the next release's notes rendered on a copy and checked (scripts/release-notes-check.py)
#                           (make test, phase docs)
#   scripts/docs.sh build   the HTML site of the collection as built (the tarball installed alone: no lab role)
#                           with antsibull-docs sphinx-init, antsibull-docs collection and sphinx-build -W,
#                           into .cache/docs/build/html (make docs); open index.html there
# The checkout is the collection cow.storage through .cache/collections (make deps, ansible.cfg).
# Offline, Sphinx cannot fetch docs.ansible.com's inventory; the references to ansible-core and other
# collections are resolved from a small inventory written here that points at their pages on
# docs.ansible.com. References inside cow.storage are left to Sphinx, so a broken one fails the build.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH=$ROOT/.venv/bin:$PATH ANSIBLE_CONFIG=$ROOT/ansible.cfg
coll=$ROOT/.cache/collections/ansible_collections/cow/storage
[ -e "$coll/galaxy.yml" ] || { echo "docs: $coll is missing (run make deps)" >&2; exit 1; }

case ${1:-lint} in
  lint)
    python3 scripts/md2rst.py --check
    (cd "$coll" && antsibull-docs lint-collection-docs --plugin-docs .)
    echo "docs: antsibull-docs lint-collection-docs --plugin-docs: ok"
    antsibull-changelog lint
    echo "docs: antsibull-changelog lint: ok"
    python3 scripts/release-notes-check.py
    ;;
  build)
    dest=$ROOT/.cache/docs
    rm -rf "$dest"; mkdir -p "$dest/collections"
    # The site documents what ships: the collection as built (no lab role), installed on its own.
    ansible-galaxy collection build --force --output-path "$dest" . >/dev/null
    printf '[defaults]\n' > "$dest/ansible.cfg"
    export ANSIBLE_CONFIG=$dest/ansible.cfg ANSIBLE_COLLECTIONS_PATH=$dest/collections ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
    ansible-galaxy collection install --offline --no-deps -p "$dest/collections" "$dest"/cow-storage-*.tar.gz >/dev/null 2>&1
    antsibull-docs sphinx-init --use-current --fail-on-error --dest-dir "$dest" \
      --project cow.storage --title cow.storage --html-short-title cow.storage \
      --copyright "cow.storage developers" cow.storage >/dev/null
    cd "$dest"
    mkdir -p rst && chmod og-w rst
    antsibull-docs --config-file antsibull-docs.cfg collection --cleanup everything --fail-on-error \
      --use-current --dest-dir rst cow.storage >/dev/null
    # An inventory of the labels outside cow.storage that the pages refer to, on docs.ansible.com.
    python - rst ansible_devel.inv <<'PY'
import pathlib, re, sys, zlib
rst, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
text = "\n".join(p.read_text() for p in rst.rglob("*.rst"))
defined = set(re.findall(r"^\.\. _([^:]+):\s*$", text, re.M))
used = set(m.group(2) or m.group(1) for m in re.finditer(r":ref:`(?:[^`<]*<([^>`]+)>|([^`<]+))`", text))
known = {  # ansible-core's pages the generated docs link to
    "common_return_values": "reference_appendices/common_return_values.html#common-return-values",
    "ansible_configuration_settings": "reference_appendices/config.html#ansible-configuration-settings",
}
lines = []
for label in sorted(used - defined):
    if label.startswith("ansible_collections.cow.storage."):
        continue  # ours: left unresolved so that Sphinx reports it
    m = re.match(r"ansible_collections\.([a-z0-9_]+)\.([a-z0-9_]+)\.([a-z0-9_]+)_([a-z]+)$", label)
    if m:
        uri = "collections/%s/%s/%s_%s.html#%s" % (m[1], m[2], m[3], m[4], label.replace(".", "-").replace("_", "-"))
        title = "%s.%s.%s %s" % m.groups()
    else:
        uri = known.get(label, "search.html?q=" + label)
        title = label
    lines.append("%s std:label -1 %s %s\n" % (label, uri, title))
header = b"# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n# The remainder of this file is compressed using zlib.\n"
out.write_bytes(header + zlib.compress("".join(lines).encode()))
print("docs: %d references outside cow.storage resolved to docs.ansible.com" % len(lines))
PY
    python - conf.py "$dest/ansible_devel.inv" <<'PY'
import re, sys
conf, inv = sys.argv[1], sys.argv[2]
text = open(conf).read()
text = re.sub(r"intersphinx_mapping = \{.*?\n\}\n",
              "intersphinx_mapping = {\n    'ansible_devel': ('https://docs.ansible.com/projects/ansible/devel/', %r),\n}\n" % inv,
              text, flags=re.S)
open(conf, "w").write(text)
PY
    sphinx-build -M html rst build -c . -W --keep-going -q
    echo "docs: $(find build/html -name '*.html' | wc -l) pages in $dest/build/html (open $dest/build/html/index.html)"
    ;;
  *) echo "usage: $0 lint|build" >&2; exit 2 ;;
esac
