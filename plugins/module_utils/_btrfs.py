# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""btrfs for cow.storage: pure parsers of ``btrfs`` output, and the
observer/handlers that run ``btrfs`` through the one Runner. What a
subvolume request means (the planner) is in :mod:`._subvolume`.

Everything above :class:`SubvolumeOps` is a pure function of text or of
plain dicts, unit-tested against output captured from Debian 12's
btrfs-progs 6.2 (``tests/unit/fixtures/btrfs``).
"""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import os
import re
import stat

from ansible_collections.cow.storage.plugins.module_utils._mountinfo import MOUNTINFO, containing_mount, read_mounts

TOPLEVEL_ID = 5
# Inode number of the root directory of every btrfs subvolume (BTRFS_FIRST_FREE_OBJECTID).
SUBVOLUME_ROOT_INODE = 256


# ---------------------------------------------------------------- parsers

def _super_option(mount, name):
    """The value of super option ``name`` of a mount from :func:`parse_mountinfo` (None if absent)."""
    for option in mount["super_options"]:
        key, dummy, value = option.partition("=")
        if key == name:
            return value
    return None


def mounted_subvolumes(mounts, dev):
    """{subvolume id: [mount points]} for the btrfs mounts of the filesystem ``dev`` (``major:minor``)."""
    result = {}
    for mount in mounts:
        if mount["fstype"] != "btrfs" or mount["devno"] != dev:
            continue
        subvolid = _super_option(mount, "subvolid")
        if subvolid and subvolid.isdigit():
            result.setdefault(int(subvolid), []).append(mount["mount_point"])
    return result


def _dash_none(value):
    value = value.strip()
    return None if value in ("-", "") else value


def _size_or_none(value):
    value = value.strip()
    if value in ("-", "none", ""):
        return None
    return int(value) if value.isdigit() else value


# ``btrfs subvolume show`` lines -> (field, converter), for the subvolume and for its quota group.
_SHOW_FIELDS = {
    "Name": ("name", str),
    "UUID": ("uuid", _dash_none),
    "Parent UUID": ("parent_uuid", _dash_none),
    "Received UUID": ("received_uuid", _dash_none),
    "Creation time": ("creation_time", _dash_none),
    "Subvolume ID": ("id", int),
    "Generation": ("generation", int),
    "Gen at creation": ("generation_at_creation", int),
    "Parent ID": ("parent_id", int),
    "Top level ID": ("top_level", int),
}
_SHOW_QGROUP_FIELDS = {
    "Quota group": ("qgroupid", str),
    "Limit referenced": ("max_referenced", _size_or_none),
    "Limit exclusive": ("max_exclusive", _size_or_none),
    "Usage referenced": ("referenced", _size_or_none),
    "Usage exclusive": ("exclusive", _size_or_none),
}


def parse_subvolume_show(text):
    """Parse ``btrfs subvolume show --raw PATH``."""
    info = {"snapshots": [], "qgroup": None}
    lines = text.splitlines()
    if lines:
        info["fs_path"] = lines[0].strip()
    in_snapshots = False
    qgroup = {}
    for line in lines[1:]:
        if not line.strip():
            continue
        key, sep, value = line.strip().partition(":")
        if in_snapshots and (not sep or line.startswith("\t\t\t")):
            info["snapshots"].append(line.strip())
            continue
        in_snapshots = False
        if not sep:
            continue
        key = key.strip()
        value = value.strip()
        if key in _SHOW_FIELDS:
            field, convert = _SHOW_FIELDS[key]
            info[field] = convert(value)
        elif key in _SHOW_QGROUP_FIELDS:
            field, convert = _SHOW_QGROUP_FIELDS[key]
            qgroup[field] = convert(value)
        elif key == "Flags":
            flags = [] if value == "-" else [f.strip() for f in value.split(",") if f.strip()]
            info["flags"] = flags
            info["readonly"] = "readonly" in flags
        elif key == "Snapshot(s)":
            in_snapshots = True
            if value:
                info["snapshots"].append(value)
    if qgroup:
        info["qgroup"] = qgroup
    return info


_LIST_RE = re.compile(r"^ID (\d+) (.*?) path (.*)$")


def parse_subvolume_list(text):
    """Parse ``btrfs subvolume list -puqRg MOUNT`` (any subset of those columns)."""
    result = []
    for line in text.splitlines():
        match = _LIST_RE.match(line.strip())
        if not match:
            continue
        entry = {"id": int(match.group(1)), "path": match.group(3)}
        rest = match.group(2).split()
        i = 0
        while i < len(rest):
            if rest[i] == "top" and i + 2 < len(rest) and rest[i + 1] == "level":
                key, value, i = "top_level", rest[i + 2], i + 3
            elif i + 1 < len(rest):
                key, value, i = rest[i], rest[i + 1], i + 2
            else:
                break
            if key in ("gen", "cgen", "parent", "top_level"):
                entry[key] = int(value)
            else:
                entry[key] = _dash_none(value)
        result.append(entry)
    return result


def descendants(subvolumes, subvol_id):
    """Ids of every subvolume nested (at any depth) under ``subvol_id``, deepest first."""
    children = {}
    for entry in subvolumes:
        parent = entry.get("parent", entry.get("top_level"))
        children.setdefault(parent, []).append(entry["id"])
    order = []

    def walk(node, depth):
        for child in sorted(children.get(node, [])):
            if child == node:
                continue
            walk(child, depth + 1)
            order.append((depth, child))

    walk(subvol_id, 1)
    order.sort(key=lambda item: -item[0])
    return [item[1] for item in order]


def parse_qgroup_show(text):
    """Parse ``btrfs qgroup show --raw -re MOUNT`` into {qgroupid: dict}."""
    result = {}
    for line in text.splitlines():
        fields = line.split(None, 5)
        if len(fields) < 5 or "/" not in fields[0] or not fields[1].isdigit():
            continue
        result[fields[0]] = {
            "qgroupid": fields[0],
            "referenced": int(fields[1]),
            "exclusive": int(fields[2]),
            "max_referenced": _size_or_none(fields[3]),
            "max_exclusive": _size_or_none(fields[4]),
            "path": fields[5].strip() if len(fields) > 5 else None,
        }
    return result


def quotas_disabled(stderr):
    """True when ``btrfs qgroup show`` failed because quotas are not enabled."""
    return "quotas not enabled" in (stderr or "")


def parse_property_get(text):
    """Parse ``btrfs property get -ts PATH [NAME]`` into a dict of strings."""
    result = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep:
            result[key.strip()] = value.strip()
    return result


def parse_get_default(text):
    """Parse ``btrfs subvolume get-default MOUNT``: the default subvolume's id."""
    match = re.search(r"^ID (\d+)", text.strip())
    if not match:
        raise ValueError("cannot parse btrfs subvolume get-default output: %r" % text)
    return int(match.group(1))


# ---------------------------------------------------------------- observe and apply (not pure)

def _is_subvolume_root(path):
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_ino == SUBVOLUME_ROOT_INODE


def subvolumes_under(top, mount_points=None):
    """The btrfs subvolumes inside the tree ``top`` (``top`` itself excluded), deepest first, so each can be deleted
    with ``btrfs subvolume delete`` before its parent: a subvolume is a directory with inode 256 on a device of its
    own that is not a mount point (``os.path.ismount`` cannot tell: it takes every subvolume for one). Mount points
    (``mount_points``, read from ``/proc/self/mountinfo`` by default) are never entered, as ``rm --one-file-system``
    leaves them too."""
    if mount_points is None:
        mount_points = set(m["mount_point"] for m in read_mounts())
    found = []
    for here, dirs, dummy in os.walk(top):
        keep = []
        for name in dirs:
            path = os.path.join(here, name)
            if os.path.islink(path) or path in mount_points:
                continue
            if _is_subvolume_root(path) and os.lstat(path).st_dev != os.lstat(here).st_dev:
                found.append(path)
            keep.append(name)
        dirs[:] = keep
    return sorted(found, key=lambda p: (-p.count("/"), p))


class SubvolumeOps:
    """Observes a subvolume and carries out planned actions, through one Runner."""

    def __init__(self, runner, mountinfo_path=MOUNTINFO):
        self.runner = runner
        self.mountinfo_path = mountinfo_path

    def _mounts(self):
        return read_mounts(self.mountinfo_path)

    def _locate(self, path, mounts):
        """(exists, real path to look up the mount with, parent exists)."""
        exists = os.path.lexists(path)
        parent = os.path.dirname(path)
        parent_exists = os.path.isdir(parent)
        if exists:
            where = os.path.realpath(path)
        elif parent_exists:
            where = os.path.realpath(parent)
        else:
            where = None
        return exists, where, parent_exists, (containing_mount(mounts, where) if where else None)

    def subvolume_info(self, path):
        out = self.runner.run(["btrfs", "subvolume", "show", "--raw", path], what="btrfs subvolume show %s" % path)[1]
        info = parse_subvolume_show(out)
        out = self.runner.run(["btrfs", "property", "get", "-ts", path, "ro"], what="btrfs property get %s ro" % path)[1]
        ro = parse_property_get(out).get("ro")
        if ro is not None:
            info["readonly"] = ro == "true"
        return info

    def observe(self, path, snapshot_of=None):
        path = os.path.abspath(path)
        mounts = self._mounts()
        exists, where, parent_exists, mount = self._locate(path, mounts)
        current = {
            "path": path,
            "exists": exists,
            "is_dir": os.path.isdir(path),
            "parent_exists": parent_exists,
            "mount": mount,
            "fstype": mount["fstype"] if mount else None,
            "subvolume": None,
        }
        if not parent_exists or current["fstype"] != "btrfs":
            return current
        mountpoint = mount["mount_point"]
        current["mounted"] = mounted_subvolumes(mounts, mount["devno"])
        if exists and _is_subvolume_root(path):
            current["subvolume"] = self.subvolume_info(path)
        out = self.runner.run(["btrfs", "subvolume", "get-default", mountpoint], what="btrfs subvolume get-default %s" % mountpoint)[1]
        current["default_id"] = parse_get_default(out)
        rc, out, err = self.runner.run(["btrfs", "qgroup", "show", "--raw", "-re", mountpoint], check_rc=False)
        if rc != 0 and quotas_disabled(err):
            current["quota_enabled"] = False
        elif rc != 0:
            self.runner.module.fail_json(msg="btrfs qgroup show %s failed (rc=%d): %s" % (mountpoint, rc, err.strip()), rc=rc, stdout=out, stderr=err)
        else:
            current["quota_enabled"] = True
        sub = current["subvolume"]
        if sub:
            if current["quota_enabled"]:
                current["qgroup"] = parse_qgroup_show(out).get("0/%d" % sub["id"])
            out = self.runner.run(["btrfs", "subvolume", "list", "-puqRg", mountpoint], what="btrfs subvolume list %s" % mountpoint)[1]
            current["children"] = descendants(parse_subvolume_list(out), sub["id"])
        if snapshot_of:
            src = os.path.abspath(snapshot_of)
            src_exists, dummy, dummy, src_mount = self._locate(src, mounts)
            source = {"path": src, "exists": src_exists, "subvolume": None, "dev": src_mount["devno"] if src_mount else None}
            if src_exists and src_mount and src_mount["fstype"] == "btrfs" and _is_subvolume_root(src):
                source["subvolume"] = self.subvolume_info(src)
            current["source"] = source
        return current

    def handlers(self):
        return {
            "delete_subvolume_id": lambda a: self.runner.run(["btrfs", "subvolume", "delete", "--commit-after", "--subvolid", a.args["subvol_id"],
                                                              a.args["mount"]], what=a.description),
            "delete_subvolume": lambda a: self.runner.run(["btrfs", "subvolume", "delete", "--commit-after", a.args["path"]], what=a.description),
            "create_subvolume": lambda a: self.runner.run(["btrfs", "subvolume", "create", a.args["path"]], what=a.description),
            "snapshot": lambda a: self.runner.run(["btrfs", "subvolume", "snapshot"] + (["-r"] if a.args["readonly"] else [])
                                                  + [a.args["source"], a.args["path"]], what=a.description),
            "set_readonly": lambda a: self.runner.run(["btrfs", "property", "set", "-ts", a.args["path"], "ro", str(a.args["readonly"]).lower()],
                                                      what=a.description),
            "enable_quota": self._enable_quota,
            "limit_qgroup": lambda a: self.runner.run(["btrfs", "qgroup", "limit"] + (["-e"] if a.args["exclusive"] else [])
                                                      + ["none" if a.args["limit"] is None else a.args["limit"], a.args["path"]], what=a.description),
            "set_default": lambda a: self.runner.run(["btrfs", "subvolume", "set-default", a.args["path"]], what=a.description),
            "set_default_toplevel": lambda a: self.runner.run(["btrfs", "subvolume", "set-default", str(TOPLEVEL_ID), a.args["mount"]],
                                                              what=a.description),
        }

    def _enable_quota(self, action):
        self.runner.run(["btrfs", "quota", "enable", action.args["mount"]], what=action.description)
        # Enabling starts a rescan; wait for it so the qgroup numbers returned are accurate.
        self.runner.run(["btrfs", "quota", "rescan", "-w", action.args["mount"]], what="wait for the quota rescan of %s" % action.args["mount"])
