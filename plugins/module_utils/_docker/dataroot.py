# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine's data root as it is and as it will be: pure functions of what the module observed.

* Which images each graph driver holds, read from the engine's own image store on disk
  (``<root>/image/<driver>/imagedb`` and ``repositories.json``), so images the engine cannot see are found
  whether it runs or not: hidden data is a state, not only a transition.
* The filesystem to mount on the data root (``mount``): whether it is in place, in fstab, and what mounting it
  would shadow.
* Data roots the engine cannot use, refused before any change.
"""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import json
import os
import shlex

from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal
from ansible_collections.cow.storage.plugins.module_utils._mountinfo import containing_mount, escape_fstab, find_fstab_entries, parse_fstab


def parse_repositories(text):
    """``<root>/image/<driver>/repositories.json`` -> ``{"repo:tag": "sha256:..."}`` (digest references left out)."""
    if not text.strip():
        return {}
    data = json.loads(text)
    out = {}
    for refs in (data.get("Repositories") or {}).values():
        for ref, image_id in (refs or {}).items():
            if "@" not in ref:
                out[ref] = image_id
    return out


def images_of(store):
    """One driver's image store ``{"ids": [...], "tags": {ref: id}}`` -> sorted ``[{"name", "id"}]``, one row per
    tag and one ``<none>:<none>`` row per untagged image, as ``docker image ls`` lists them."""
    rows = [{"name": ref, "id": image_id} for ref, image_id in (store.get("tags") or {}).items()]
    tagged = set(store.get("tags", {}).values())
    rows.extend({"name": "<none>:<none>", "id": i} for i in store.get("ids") or [] if i not in tagged)
    return sorted(rows, key=lambda r: (r["name"], r["id"]))


def hidden_images(stores, driver, image_store="graphdriver"):
    """Images on disk that an engine running ``driver`` cannot see: ``{other driver: [{"name", "id"}]}``.

    ``stores`` is ``{driver: {"ids": [...], "tags": {...}}}`` for one data root. An image counts as visible when its
    ID is in ``driver``'s own store (a migrated image keeps its ID). With the containerd image store every graph
    driver image is hidden."""
    visible = set() if image_store == "containerd" else set((stores.get(driver) or {}).get("ids") or [])
    out = {}
    for name in sorted(stores):
        if name == driver and image_store != "containerd":
            continue
        rows = [r for r in images_of(stores[name]) if r["id"] not in visible]
        if rows:
            out[name] = rows
    return out


def hidden_containers(containers, driver, image_store="graphdriver"):
    """Containers on disk (``[{"id", "name", "driver"}]``) made by another driver, which the engine skips."""
    want = driver if image_store != "containerd" else None
    return [c for c in containers if c.get("driver") and c.get("driver") != want]


def data_root_problems(data_root, driver, current_root, exists_as, given=None):
    """Refusals for a requested ``data_root``; ``exists_as`` is ``dir``, ``file``, ``other`` or None (missing).
    ``data_root`` and ``current_root`` have their symlinks resolved; ``given`` is what the parameter said."""
    problems = []
    if given and given != data_root:
        return [p.replace("data_root: %s " % data_root, "data_root: %s (-> %s) " % (given, data_root), 1)
                for p in data_root_problems(data_root, driver, current_root, exists_as)]
    if exists_as not in (None, "dir"):
        problems.append("data_root: %s exists and is not a directory (%s)" % (data_root, exists_as))
    if driver in ("overlay2", "overlay") and any(c in data_root for c in ":,"):
        problems.append("data_root: %s contains ':' or ',', which overlay2 cannot use in its layer options" % data_root)
    if current_root and data_root != current_root and data_root.startswith(current_root.rstrip("/") + "/"):
        problems.append("data_root: %s lies inside the current data root %s, where the engine keeps its drivers' data"
                        % (data_root, current_root))
    return problems


def mount_options(opts):
    return [o for o in (opts or "defaults").split(",") if o]


def _subvol(opts):
    for opt in mount_options(opts):
        key, sep, value = opt.partition("=")
        if sep and key == "subvol":
            return "/" + value.strip("/")
    return None


def mount_matches(entry, wanted, real_src):
    """Whether a mountinfo ``entry`` is the requested filesystem (same device and type, same btrfs subvolume)."""
    if entry is None:
        return False
    if entry.get("fstype") != wanted["fstype"]:
        return False
    if os.path.normpath(entry.get("source") or "") not in (os.path.normpath(wanted["src"]), os.path.normpath(real_src)):
        return False
    subvol = _subvol(wanted.get("opts"))
    return subvol is None or entry.get("root") == subvol


def fstab_line(wanted, path):
    return "%s %s %s %s 0 0\n" % (escape_fstab(wanted["src"]), escape_fstab(path), escape_fstab(wanted["fstype"]),
                                  escape_fstab(",".join(mount_options(wanted.get("opts")))))


def fstab_matches(fstab_text, wanted, path):
    """Whether fstab already has exactly the requested entry for ``path`` (and no other one)."""
    entries = find_fstab_entries(parse_fstab(fstab_text), [path])
    if len(entries) != 1:
        return False
    entry = entries[0]
    return (entry["source"] == wanted["src"] and entry["fstype"] == wanted["fstype"]
            and entry["options"] == mount_options(wanted.get("opts")))


def root_contents(prior, stores, containers, volumes):
    """What is in a data root that a mount would shadow: ``{"images", "containers", "volumes", "driver_data"}``."""
    images = []
    for name in sorted(stores):
        images.extend(dict(r, driver=name) for r in images_of(stores[name]))
    return {"images": images, "containers": list(containers), "volumes": list(volumes),
            "driver_data": dict((k, v) for k, v in (prior or {}).items() if v.get("layers"))}


# mount.mkfs: the command that makes the filesystem, and what overlay2 needs of xfs. A device with signatures is
# emptied with wipefs first (only after mount.wipe_signatures, or when a run killed inside mkfs is finished), so mkfs
# never needs its force flag.
#
# mount.mkfs_opts is free text that reaches a command, so it is parsed into an allow-list: per filesystem, the flags
# that shape the new filesystem (label, sizes, features, profiles) and, for flags that take ``key=value`` lists, the
# keys allowed. Nothing in it can name a device or a path (a positional word would be formatted too: ``mkfs.btrfs -f
# /dev/vdc /dev/vdd`` formats both), and no force flag gets past the signature check.
_MKFS_FLAGS = {
    # flag: None (no value), "word" (one value, never a path), or the allowed keys of its key=value list
    "xfs": {"-L": "word", "-q": None, "-K": None, "-b": ("size",), "-s": ("size",), "-i": ("size", "maxpct", "align",
            "sparse", "nrext64", "attr", "projid32bit", "perblock"),
            "-m": ("crc", "finobt", "reflink", "rmapbt", "bigtime", "inobtcount", "uuid"),
            "-n": ("size", "ftype", "version"), "-l": ("size", "sunit", "su", "lazy-count", "version"),
            "-d": ("agcount", "agsize", "su", "sunit", "sw", "swidth", "size")},
    "ext4": {"-L": "word", "-q": None, "-j": None, "-b": "word", "-i": "word", "-I": "word", "-m": "word", "-N": "word",
             "-O": "word", "-T": "word", "-U": "word", "-M": None, "-e": "word", "-G": "word", "-g": "word",
             "-E": ("stride", "stripe_width", "stripe-width", "lazy_itable_init", "lazy_journal_init", "nodiscard",
                    "discard", "packed_meta_blocks", "num_backup_sb", "root_owner", "quotatype", "encoding")},
    "btrfs": {"-L": "word", "--label": "word", "-q": None, "--quiet": None, "-K": None, "--nodiscard": None,
              "-d": "word", "--data": "word", "-m": "word", "--metadata": "word", "-n": "word", "--nodesize": "word",
              "-s": "word", "--sectorsize": "word", "-O": "word", "--features": "word", "-R": "word",
              "--runtime-features": "word", "--csum": "word", "--checksum": "word", "-U": "word", "--uuid": "word"},
}


def parse_mkfs_opts(fstype, opts, param="mount.mkfs_opts"):
    """``opts`` -> argv words, checked against the allow-list of ``mkfs.<fstype>``; raises Refusal naming the word
    that is not allowed (a device or path, a positional word, a force flag, an unknown flag or key)."""
    try:
        words = shlex.split(opts or "")
    except ValueError as exc:
        raise Refusal("%s: %r cannot be read as options (%s)" % (param, opts, exc)) from None
    allowed = _MKFS_FLAGS.get(fstype, {})
    out, i = [], 0
    while i < len(words):
        word = words[i]
        flag, sep, inline = word.partition("=") if word.startswith("--") else (word, "", "")
        if flag not in allowed:
            what = "a device or path" if "/" in word else "a positional word" if not word.startswith("-") else \
                "a flag mkfs.%s is not allowed here (force flags, devices, files and directories never are)" % fstype
            raise Refusal("%s: %r is %s; allowed for %s: %s; nothing was changed"
                          % (param, word, what, fstype, " ".join(sorted(allowed)) or "none"))
        kind = allowed[flag]
        if kind is None:
            if sep:
                raise Refusal("%s: %s takes no value" % (param, flag))
            out.append(word)
            i += 1
            continue
        if sep:
            value = inline
        elif i + 1 < len(words):
            value = words[i + 1]
            i += 1
        else:
            raise Refusal("%s: %s needs a value" % (param, flag))
        if not value or value.startswith("-") or "/" in value:
            raise Refusal("%s: %r is not a value %s takes (a device or path never is)" % (param, value, flag))
        if kind != "word":
            keys = [item.partition("=")[0] for item in value.split(",")]
            bad = [k for k in keys if k not in kind]
            if bad:
                raise Refusal("%s: %s %s: %s is not one of the keys allowed here (%s)"
                              % (param, flag, value, ", ".join(bad), ", ".join(kind)))
        out.extend([word] if sep else [flag, value])
        i += 1
    return out


def mkfs_argv(fstype, opts, device):
    """``mkfs.<fstype>`` for ``device``, its options through :func:`parse_mkfs_opts`; xfs gets ``-n ftype=1``
    (d_type, which overlay2 needs) unless ``opts`` sets ftype."""
    extra = parse_mkfs_opts(fstype, opts)
    if fstype == "xfs" and not any("ftype=" in o for o in extra):
        extra = ["-n", "ftype=1"] + extra
    return ["mkfs." + fstype] + extra + [device]


def mkfs_d_type(fstype, opts):
    """Whether the filesystem ``mkfs_argv`` makes has d_type (None when unknown)."""
    if fstype == "xfs":
        try:
            words = shlex.split(opts or "")
        except ValueError:
            return None  # refused by parse_mkfs_opts
        return not any(o.replace(" ", "").endswith("ftype=0") or "ftype=0," in o for o in words)
    return True if fstype in ("btrfs", "ext4") else None


def carries(device, fstype):
    """Whether a probed device (``_blockdev.probe``) carries exactly the filesystem ``fstype`` and nothing else."""
    return [s.get("type") for s in device.get("signatures") or []] == [fstype]


# --- boot: the data root after a reboot ---------------------------------------------------------------------------
VOLATILE_FILESYSTEMS = ("tmpfs", "ramfs")
SELF_MOUNTING = ("zfs",)
# Options of a live mount that say nothing an fstab line should repeat (the kernel's rendering of defaults).
_LIVE_ONLY_OPTIONS = ("rw", "relatime", "seclabel")
REQUIRE_MOUNT_DROPIN = "/etc/systemd/system/docker.service.d/cow-storage-data-root.conf"


def require_mount_text(path):
    """The docker.service drop-in that keeps the engine from starting before (or without) its data root's mount."""
    return ("# Written by cow.storage: the engine starts only once its data root's filesystem is mounted,\n"
            "# never on the bare directory beneath it.\n[Unit]\nRequiresMountsFor=%s\n" % path)


def boot_facts(mounts, fstab_text, root):
    """What a reboot does to the data root ``root`` (a real path): ``{"mount", "persisted", "volatile", "unmounted"}``.

    ``mount`` is the mount holding the data root (None for the root filesystem); ``persisted`` whether fstab brings
    it back; ``volatile`` its type when a reboot empties it (tmpfs); ``unmounted`` the fstab lines that put a
    filesystem on the data root or a parent of it and are not mounted now - the engine then runs on the bare
    directory while that device holds its data."""
    entries = [e for dummy, e in parse_fstab(fstab_text) if e]
    live = set(m["mount_point"] for m in mounts)
    unmounted = []
    for entry in entries:
        mp = os.path.normpath(entry["mount_point"])
        if mp in ("/", "none") or mp in live or "noauto" in entry["options"] or entry["fstype"] in ("swap", "none"):
            continue
        if root == mp or root.startswith(mp.rstrip("/") + "/"):
            unmounted.append({"source": entry["source"], "mount_point": mp, "fstype": entry["fstype"]})
    holder = containing_mount(mounts, root)
    if holder is None or holder["mount_point"] == "/":
        return {"mount": None, "persisted": True, "volatile": None, "unmounted": unmounted}
    # a ZFS dataset comes back from its own mountpoint property (zfs-mount.service), not from fstab
    persisted = holder["fstype"] in SELF_MOUNTING or bool(find_fstab_entries(parse_fstab(fstab_text), [holder["mount_point"]]))
    opts = [o for o in holder["mount_options"] if o not in _LIVE_ONLY_OPTIONS]
    if holder["fstype"] == "btrfs" and holder.get("root") not in (None, "/"):
        opts.append("subvol=%s" % holder["root"])
    return {"mount": {"mount_point": holder["mount_point"], "source": holder["source"], "fstype": holder["fstype"],
                      "opts": ",".join(opts) or "defaults"},
            "persisted": persisted, "volatile": holder["fstype"] if holder["fstype"] in VOLATILE_FILESYSTEMS else None,
            "unmounted": unmounted}
