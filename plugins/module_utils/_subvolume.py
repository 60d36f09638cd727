# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The subvolume planner of cow.storage.btrfs_subvol: refusals, the plan, and the one
state description used for the diff, check mode and the result.

Pure: everything works on the observation :meth:`._btrfs.SubvolumeOps.observe`
returns and on the module parameters.
"""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import os

from ansible_collections.cow.storage.plugins.module_utils._btrfs import TOPLEVEL_ID
from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal
from ansible_collections.cow.storage.plugins.module_utils._runner import Action
from ansible_collections.cow.storage.plugins.module_utils._sizes import btrfs_size


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

    Pure: ``current`` is the dict built by :meth:`._btrfs.SubvolumeOps.observe`, ``params`` the module
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
