#!/usr/bin/env bash
# make deps: idempotent set-up of this controller (Debian 12, root).
#  - Debian packages the lab and the tests need
#  - .venv from requirements.txt (pinned); `deps.sh lab` (make lab) only from requirements-lab.txt, ~25 s instead of
#    ~90 s on a fresh machine, and no sanity-newest venv: the next make deps / make test adds the rest
#  - community collections extracted from the `ansible` PyPI package (no Galaxy here)
#  - the checkout itself linked as the collection cow.storage
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-all}
case $MODE in all|lab) ;; *) echo "usage: deps.sh [all|lab]" >&2; exit 2 ;; esac
ANSIBLE_PKG_VERSION=${ANSIBLE_PKG_VERSION:-12.3.0}
COLLECTIONS=(community/docker community/library_inventory_filtering_v1 ansible/posix community/general)
APT_PKGS=(docker.io containerd runc jq mmdebstrap btrfs-progs xfsprogs lvm2 thin-provisioning-tools
  qemu-system-x86 qemu-utils fuse-overlayfs busybox-static e2fsprogs util-linux iptables zstd
  openssh-client python3-venv ca-certificates)

log() { printf '\033[1m[deps]\033[0m %s\n' "$*"; }

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then echo "deps: need root to apt-get install: ${missing[*]}" >&2; exit 1; fi
  log "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "Debian packages present"
fi

# The stamps hold the hash of what was installed: requirements.txt includes requirements-lab.txt, so the full
# stamp hashes both files and also satisfies the lab.
stamp=.venv/.requirements.sha256 lstamp=.venv/.requirements-lab.sha256
want=$(cat requirements.txt requirements-lab.txt | sha256sum | cut -d' ' -f1)
lwant=$(sha256sum requirements-lab.txt | cut -d' ' -f1)
[ -x .venv/bin/python ] || python3 -m venv .venv
# The community collections come from the `ansible` wheel: its download and extraction (~5 s) run beside the pip
# install below, which they do not touch.
coll=.cache/collections/ansible_collections
cstamp=.cache/collections/.ansible-$ANSIBLE_PKG_VERSION-$(echo "${COLLECTIONS[*]}" | md5sum | cut -c1-8)
collections() {
  if [ -e "$cstamp" ]; then log "community collections present"; return 0; fi
  log "extracting ${COLLECTIONS[*]} from ansible==$ANSIBLE_PKG_VERSION (PyPI)"
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  .venv/bin/pip download -q --disable-pip-version-check --no-deps -d "$tmp" "ansible==$ANSIBLE_PKG_VERSION"
  for c in "${COLLECTIONS[@]}"; do rm -rf "${coll:?}/$c"; done
  mkdir -p "$coll"
  .venv/bin/python - "$tmp"/ansible-*.whl "$coll" "${COLLECTIONS[@]}" <<'PY'
import sys, zipfile, os
whl, dest, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(whl) as z:
    for name in z.namelist():
        for c in wanted:
            prefix = "ansible_collections/%s/" % c
            if name.startswith(prefix) and not name.endswith("/"):
                out = os.path.join(dest, name[len("ansible_collections/"):])
                os.makedirs(os.path.dirname(out), exist_ok=True)
                with z.open(name) as src, open(out, "wb") as dst:
                    dst.write(src.read())
PY
  touch "$cstamp"
}
collections & collections_pid=$!
if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  log ".venv up to date"
elif [ "$MODE" = lab ] && [ "$(cat "$lstamp" 2>/dev/null)" = "$lwant" ]; then
  log ".venv has what make lab needs (make deps adds the test tools)"
elif [ "$MODE" = lab ]; then
  log "installing requirements-lab.txt into .venv (make deps adds the test tools later)"
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-lab.txt
  echo "$lwant" > "$lstamp"
else
  log "installing requirements.txt into .venv"
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
  echo "$lwant" > "$lstamp"; echo "$want" > "$stamp"
fi

# The newest ansible-core for `make sanity-newest` (tests/sanity/requirements-newest.txt): it needs a
# newer Python than Debian 12's; SANITY_NEWEST_PYTHON, else python3.12 on PATH, else pyenv's.
nvenv=.cache/venv-sanity-newest nstamp=.cache/venv-sanity-newest/.requirements.sha256
nwant=$(sha256sum tests/sanity/requirements-newest.txt | cut -d' ' -f1)
npy=
for c in ${SANITY_NEWEST_PYTHON:-} python3.12 \
  $(command -v pyenv >/dev/null && find "$(pyenv root)/versions" -maxdepth 3 -path '*/3.12*/bin/python3.12' | sort -rV); do
  if "$c" -c 'import sys, venv; sys.exit(sys.version_info[:2] < (3, 12))' 2>/dev/null; then npy=$c; break; fi
done
if [ "$MODE" = lab ]; then
  :   # make sanity-newest only
elif [ -x "$nvenv/bin/python" ] && [ "$(cat "$nstamp" 2>/dev/null)" = "$nwant" ]; then
  log "$nvenv up to date"
elif [ -n "$npy" ]; then
  log "creating $nvenv ($npy) from tests/sanity/requirements-newest.txt"
  rm -rf "$nvenv"; "$npy" -m venv "$nvenv"
  "$nvenv/bin/pip" install -q --disable-pip-version-check -r tests/sanity/requirements-newest.txt
  echo "$nwant" > "$nstamp"
else
  log "no python3.12 (set SANITY_NEWEST_PYTHON): $nvenv not created, make sanity-newest cannot run"
fi

wait "$collections_pid"
mkdir -p "$coll/cow"
[ -L "$coll/cow/storage" ] || ln -sfn ../../../.. "$coll/cow/storage"
# ansible-lint installs the collection it lints into .ansible/collections, built with galaxy.yml's
# build_ignore, which leaves out the lab role that playbooks/lab.yml uses; a link to the checkout there
# makes it lint the checkout as it is (ansible-compat skips its install for a link to the working dir).
lint_coll=.ansible/collections/ansible_collections/cow/storage
if [ ! -L "$lint_coll" ]; then rm -rf "$lint_coll"; mkdir -p "${lint_coll%/*}"; ln -s ../../../.. "$lint_coll"; fi
v=$(.venv/bin/ansible --version); log "ready: ${v%%$'\n'*}"
