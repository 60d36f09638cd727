# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""btrfs for cow.storage: pure parsers, the subvolume planner,
and the observer/handlers that run ``btrfs`` through the one Runner.

Everything above :class:`SubvolumeOps` is a pure function of text or of
plain dicts, unit-tested against output captured from Debian 12's
btrfs-progs 6.2 (``tests/unit/fixtures/btrfs``).
"""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import os
import re
import stat

from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal
from ansible_collections.cow.storage.plugins.module_utils._runner import Action
from ansible_collections.cow.storage.plugins.module_utils._sizes import btrfs_size
from ansible_collections.cow.storage.plugins.module_utils._mountinfo import containing_mount, parse_mountinfo

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
_LIST_KEYS = ("gen", "cgen", "parent", "top level", "parent_uuid", "received_uuid", "uuid", "otime")


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


# ---------------------------------------------------------------- planning

def _refuse_delete(current, what, param_name, recursive):
    """Raise Refusal when the existing subvolume at ``path`` must not be deleted."""
    sub = current["subvolume"]
    path = current["path"]
    if sub["id"] == TOPLEVEL_ID:
        raise Refusal("%s: %s is the top-level subvolume (id 5) of the filesystem; it is never deleted" % (param_name, path))
    mounted = current.get("mounted", {})
    if sub["id"] in mounted:
        raise Refusal("%s: subvolume %s (id %d) is mounted at %s; unmount it before %s"
                      % (param_name, path, sub["id"], ", ".join(mounted[sub["id"]]), what))
    if sub["id"] == current.get("default_id"):
        raise Refusal("%s: subvolume %s (id %d) is the default subvolume of the filesystem; make another subvolume the default "
                      "(default: true on it, or default: false on this one) before %s" % (param_name, path, sub["id"], what))
    children = current.get("children", [])
    if children and not recursive:
        raise Refusal("recursive: subvolume %s has %d nested subvolume(s) (ids %s); set recursive: true to delete them too"
                      % (path, len(children), ", ".join(str(c) for c in children)))
    for child in children:
        if child in mounted:
            raise Refusal("recursive: nested subvolume id %d of %s is mounted at %s; unmount it first"
                          % (child, path, ", ".join(mounted[child])))


def _delete_actions(current):
    actions = []
    for child in current.get("children", []):
        actions.append(Action("delete_subvolume_id", "delete nested subvolume id %d of %s" % (child, current["path"]),
                              subvol_id=child, mount=current["mount"]["mount_point"]))
    actions.append(Action("delete_subvolume", "delete subvolume %s" % current["path"], path=current["path"]))
    return actions


def check_location(current, params):
    """Raise Refusal for a path that cannot hold a subvolume; True if the plan may go on."""
    path = current["path"]
    if not current["parent_exists"]:
        if params["state"] == "absent":
            return False
        raise Refusal("path: parent directory %s of %s does not exist; create it first (this module does not create parent directories)"
                      % (os.path.dirname(path), path))
    if current.get("fstype") != "btrfs":
        mount = current.get("mount") or {}
        raise Refusal("path: %s is on a %s filesystem (mounted at %s from %s), not on a mounted btrfs"
                      % (path, current.get("fstype") or "unknown", mount.get("mount_point", "?"), mount.get("source", "?")))
    if current["exists"] and not current.get("subvolume"):
        raise Refusal("path: %s exists and is not a btrfs subvolume (%s)" % (path, "a directory" if current.get("is_dir") else "not a directory"))
    return True


def plan(current, params):
    """Compare observed ``current`` with ``params`` and return the list of Action to take.

    Pure: ``current`` is the dict built by :meth:`SubvolumeOps.observe`, ``params`` the module
    parameters. Raises Refusal (message names the parameter) when the request is refused.
    """
    quota = params.get("quota")
    limit = None
    if quota and quota.get("limit") is not None:
        try:
            limit = btrfs_size(quota["limit"])
        except ValueError as exc:
            raise Refusal("quota.limit: %s" % exc) from exc

    if not check_location(current, params):
        return []
    path = current["path"]
    sub = current.get("subvolume")

    if params["state"] == "absent":
        if not sub:
            return []
        _refuse_delete(current, "deleting it", "path", params.get("recursive"))
        return _delete_actions(current)

    actions = []
    new = sub is None
    snapshot_of = params.get("snapshot_of")
    source = current.get("source")
    if snapshot_of:
        if not source or not source.get("subvolume"):
            raise Refusal("snapshot_of: %s is not a btrfs subvolume%s" % (snapshot_of, "" if source and source.get("exists") else " (it does not exist)"))
        if source.get("dev") != current["mount"]["devno"]:
            raise Refusal("snapshot_of: %s is not on the same btrfs filesystem as path %s" % (snapshot_of, path))
        if sub and sub["id"] == source["subvolume"]["id"]:
            raise Refusal("snapshot_of: %s is the subvolume at path %s itself" % (snapshot_of, path))
        if sub and sub.get("parent_uuid") != source["subvolume"]["uuid"]:
            conflict = params.get("snapshot_conflict", "keep")
            if conflict == "fail":
                raise Refusal("snapshot_conflict: %s already exists and is not a snapshot of %s (snapshot_conflict=fail)" % (path, snapshot_of))
            if conflict == "replace":
                _refuse_delete(current, "replacing it (snapshot_conflict=replace)", "snapshot_conflict", params.get("recursive"))
                actions.extend(_delete_actions(current))
                new = True

    readonly = params.get("readonly")
    if new:
        if snapshot_of:
            actions.append(Action("snapshot", "create %ssnapshot %s of %s" % ("read-only " if readonly else "", path, snapshot_of),
                                  path=path, source=snapshot_of, readonly=bool(readonly)))
        else:
            actions.append(Action("create_subvolume", "create subvolume %s" % path, path=path))
            if readonly:
                actions.append(Action("set_readonly", "set property ro=true on %s" % path, path=path, readonly=True))
    elif readonly is not None and bool(readonly) != bool(sub.get("readonly")):
        actions.append(Action("set_readonly", "set property ro=%s on %s" % (str(bool(readonly)).lower(), path), path=path, readonly=bool(readonly)))

    if quota is not None:
        mountpoint = current["mount"]["mount_point"]
        if not current.get("quota_enabled"):
            actions.append(Action("enable_quota", "enable quotas on the filesystem mounted at %s" % mountpoint, mount=mountpoint))
        if quota.get("limit") is not None:
            exclusive = bool(quota.get("exclusive"))
            key = "max_exclusive" if exclusive else "max_referenced"
            qgroup = None if new or not current.get("quota_enabled") else current.get("qgroup")
            have = (qgroup or {}).get(key)
            if have != limit:
                shown = "none" if limit is None else "%d bytes" % limit
                actions.append(Action("limit_qgroup", "set %s limit of %s to %s" % ("exclusive" if exclusive else "referenced", path, shown),
                                      path=path, limit=limit, exclusive=exclusive))

    default = params.get("default")
    is_default = not new and sub["id"] == current.get("default_id")
    if default and not is_default:
        actions.append(Action("set_default", "make %s the default subvolume" % path, path=path))
    elif default is False and is_default and sub["id"] != TOPLEVEL_ID:
        mountpoint = current["mount"]["mount_point"]
        actions.append(Action("set_default_toplevel", "make the top-level subvolume (id 5) the default instead of %s" % path, mount=mountpoint))
    return actions


def describe(current, snapshot_of=None):
    """The one state description used for both sides of the diff (and for ``changed``)."""
    sub = current.get("subvolume") if current else None
    if not sub:
        return {"exists": False, "readonly": False, "default": False,
                "quota_limit_referenced": None, "quota_limit_exclusive": None, "snapshot_of": None}
    qgroup = (current.get("qgroup") or {}) if current.get("quota_enabled") else {}
    source = (current.get("source") or {}).get("subvolume") or {}
    parent_uuid = sub.get("parent_uuid")
    if snapshot_of and parent_uuid and parent_uuid == source.get("uuid"):
        origin = snapshot_of
    else:
        origin = parent_uuid
    return {
        "exists": True,
        "readonly": bool(sub.get("readonly")),
        "default": sub["id"] == current.get("default_id"),
        "quota_limit_referenced": qgroup.get("max_referenced"),
        "quota_limit_exclusive": qgroup.get("max_exclusive"),
        "snapshot_of": origin,
    }


def predict(before, actions):
    """Fold ``actions`` over the description ``before``: the state they will leave (check mode's "after")."""
    after = dict(before)
    for action in actions:
        args = action.args
        if action.kind == "delete_subvolume":
            after = describe(None)
        elif action.kind == "create_subvolume":
            after = dict(describe(None), exists=True)
        elif action.kind == "snapshot":
            after = dict(describe(None), exists=True, readonly=args["readonly"], snapshot_of=args["source"])
        elif action.kind == "set_readonly":
            after["readonly"] = args["readonly"]
        elif action.kind == "limit_qgroup":
            after["quota_limit_exclusive" if args["exclusive"] else "quota_limit_referenced"] = args["limit"]
        elif action.kind == "set_default":
            after["default"] = True
        elif action.kind == "set_default_toplevel":
            after["default"] = False
    return after


def facts(current):
    """The ``subvolume`` return value from an observation."""
    sub = current.get("subvolume") if current else None
    if not sub:
        return {}
    result = {
        "id": sub["id"],
        "uuid": sub.get("uuid"),
        "parent_uuid": sub.get("parent_uuid"),
        "received_uuid": sub.get("received_uuid"),
        "path": current["path"],
        "fs_path": sub.get("fs_path"),
        "top_level": sub.get("top_level"),
        "generation": sub.get("generation"),
        "readonly": bool(sub.get("readonly")),
        "default": sub["id"] == current.get("default_id"),
        "mount": current["mount"]["mount_point"],
        "quota_enabled": bool(current.get("quota_enabled")),
    }
    qgroup = current.get("qgroup") if current.get("quota_enabled") else None
    if qgroup:
        result["qgroup"] = {
            "qgroupid": qgroup["qgroupid"],
            "referenced": qgroup.get("referenced"),
            "exclusive": qgroup.get("exclusive"),
            "limit_referenced": qgroup.get("max_referenced"),
            "limit_exclusive": qgroup.get("max_exclusive"),
        }
    return result


# ---------------------------------------------------------------- observe and apply (not pure)

def _is_subvolume_root(path):
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_ino == SUBVOLUME_ROOT_INODE


class SubvolumeOps:
    """Observes a subvolume and carries out planned actions, through one Runner."""

    def __init__(self, runner, mountinfo_path="/proc/self/mountinfo"):
        self.runner = runner
        self.mountinfo_path = mountinfo_path

    def _mounts(self):
        with open(self.mountinfo_path, encoding="utf-8", errors="surrogateescape") as handle:
            return parse_mountinfo(handle.read())

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
