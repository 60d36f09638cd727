# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The overlay_mount request: validation, the observed state, the planner, and the
one description used for the diff, check mode and the result.

Everything here except :func:`probe_path` is a pure function of dictionaries,
unit tested against mountinfo and fstab captured from real overlay mounts
(``tests/unit/fixtures/mounts``). What overlayfs itself accepts and reports is
in :mod:`._overlay`.
"""

from __future__ import annotations

import os

from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal
from ansible_collections.cow.storage.plugins.module_utils._mountinfo import containing_mount, find_fstab_entries, find_mount, same_path
from ansible_collections.cow.storage.plugins.module_utils._overlay import (
    MOUNT_FLAGS, fstab_entry_matches, fstab_line, kernel_options, mount_differences, overlay_fstab, overlay_mountinfo,
    overlay_option_string, reported_options, validate_options,
)
from ansible_collections.cow.storage.plugins.module_utils._runner import Action

__metaclass__ = type  # pylint: disable=invalid-name

OVERLAY_MAX_STACK = 500  # kernel OVL_MAX_STACK
MAX_OPTIONS_LEN = 4095  # legacy mount(2) copies at most one page of options

# filesystems that cannot serve as an overlay upper layer (no trusted xattrs / d_type / not writable)
BAD_UPPER_FS = {
    "overlay": "an overlay filesystem cannot serve as an upperdir (overlay on overlay is refused by the kernel)",
    "fuse.fuse-overlayfs": "an overlay filesystem cannot serve as an upperdir",
    "nfs": "NFS is not supported as an overlay upperdir",
    "nfs4": "NFS is not supported as an overlay upperdir",
    "vfat": "vfat has no xattrs and cannot serve as an overlay upperdir",
    "exfat": "exfat has no xattrs and cannot serve as an overlay upperdir",
    "iso9660": "iso9660 is read-only",
    "squashfs": "squashfs is read-only",
    "erofs": "erofs is read-only",
    "proc": "proc cannot serve as an overlay upperdir",
    "sysfs": "sysfs cannot serve as an overlay upperdir",
}


# ---------------------------------------------------------------- validation


def validate(params, current, facts):
    """Every reason the request cannot be carried out, each naming its parameter.

    ``facts`` maps each path (lowers, upper, work, path) to :func:`probe_path`
    results. Pure: nothing here touches the host.
    """
    errors = []
    state = params["state"]
    mount = current.get("mount")

    for name in ("path", "upper", "work", "fstab"):
        value = params.get(name)
        if value and not os.path.isabs(value):
            errors.append("%s: %r must be an absolute path" % (name, value))
    for value in params.get("lower") or []:
        if not os.path.isabs(value):
            errors.append("lower: %r must be an absolute path" % value)

    if mount is not None and mount["fstype"] != "overlay":
        errors.append("path: %s is a %s mount, not an overlay; refusing to touch it" % (params["path"], mount["fstype"]))
    if state == "absent":
        for entry in current.get("fstab_entries", []):
            if entry["fstype"] != "overlay":
                errors.append("path: the %s entry for %s in %s is not an overlay; refusing to remove it"
                              % (entry["fstype"], params["path"], params["fstab"]))
    if state in ("unmounted", "absent"):
        return errors

    lower = params.get("lower")
    upper, work = params.get("upper"), params.get("work")
    if not lower:
        errors.append("lower: state=%s needs at least one lower directory" % state)
        return errors
    if bool(upper) != bool(work):
        errors.append("%s: upper and work must be given together" % ("work" if upper else "upper"))
        return errors
    if not upper and len(lower) < 2:
        errors.append("lower: a read-only overlay (no upper and work) needs at least 2 lower directories, got %d" % len(lower))
    if len(lower) > OVERLAY_MAX_STACK:
        errors.append("lower: at most %d lower directories are supported by the kernel" % OVERLAY_MAX_STACK)
    if len(set(lower)) != len(lower):
        errors.append("lower: a directory is listed twice")
    for name, paths in (("lower", lower), ("upper", [upper] if upper else []), ("work", [work] if work else [])):
        for path in paths:
            if "," in path:
                errors.append("%s: %r contains ',', which cannot be passed safely in overlay mount options; rename the directory" % (name, path))
            if "\n" in path:
                errors.append("%s: %r contains a newline" % (name, path))
    errors.extend(validate_options(params.get("options") or [], bool(upper)))
    errors.extend(_overlapping_layers(params, facts))
    if errors:
        return errors
    if len(overlay_option_string(params)) > MAX_OPTIONS_LEN:
        errors.append("lower: the overlay options are longer than %d bytes; use shorter paths or fewer layers" % MAX_OPTIONS_LEN)

    for path in lower:
        fact = facts.get(path, {})
        if not fact.get("exists"):
            errors.append("lower: %s does not exist (lower directories are never created)" % path)
        elif not fact.get("isdir"):
            errors.append("lower: %s is not a directory" % path)

    live_same_work = mount is not None and mount.get("fstype") == "overlay" and mount.get("work") == work and mount.get("upper") == upper
    if upper:
        for name, path in (("upper", upper), ("work", work)):
            fact = facts.get(path, {})
            if fact.get("exists") and not fact.get("isdir"):
                errors.append("%s: %s is not a directory" % (name, path))
            elif not fact.get("exists") and not params.get("create_dirs"):
                errors.append("%s: %s does not exist and create_dirs is false" % (name, path))
        if same_path(upper, work) or work.startswith(upper.rstrip("/") + "/") or upper.startswith(work.rstrip("/") + "/"):
            errors.append("work: %s and upper %s must be separate directories, neither inside the other" % (work, upper))
        up_fact, work_fact = facts.get(upper, {}), facts.get(work, {})
        if up_fact.get("dev") is not None and work_fact.get("dev") is not None and up_fact["dev"] != work_fact["dev"]:
            errors.append("work: %s is on a different filesystem (%s on %s) than upper %s (%s on %s); overlayfs needs them on the same filesystem"
                          % (work, work_fact.get("fstype"), work_fact.get("fs_mount"), upper, up_fact.get("fstype"), up_fact.get("fs_mount")))
        if up_fact.get("fstype") in BAD_UPPER_FS:
            errors.append("upper: %s is on %s (%s): %s" % (upper, up_fact.get("fs_mount"), up_fact["fstype"], BAD_UPPER_FS[up_fact["fstype"]]))
        if work_fact.get("exists") and work_fact.get("isdir") and not live_same_work:
            errors.extend(_work_leftovers(work, work_fact.get("entries") or {}))
        for other in current.get("mounts", []):
            if other.get("fstype") != "overlay" or other is mount:
                continue
            if other.get("upper") and same_path(other["upper"], upper):
                errors.append("upper: %s is already the upper layer of the overlay at %s" % (upper, other["mount_point"]))
            if other.get("work") and same_path(other["work"], work):
                errors.append("work: %s is already the work directory of the overlay at %s" % (work, other["mount_point"]))

    if upper and mount is not None and mount.get("fstype") == "overlay" and mount.get("upper") == upper and index_enabled(params, current):
        if mount.get("lower") and mount["lower"][0] != lower[0] and facts.get(upper, {}).get("has_origin"):
            errors.append("lower: with index=on the upper %s is bound to its top lower layer %s (trusted.overlay.origin); "
                          "the kernel refuses another top layer (%s), so the live mount is left alone" % (upper, mount["lower"][0], lower[0]))

    fact = facts.get(params["path"], {})
    if fact.get("exists") and not fact.get("isdir"):
        errors.append("path: %s is not a directory" % params["path"])
    elif not fact.get("exists") and not params.get("create_dirs") and state == "mounted":
        errors.append("path: mount point %s does not exist and create_dirs is false" % params["path"])
    return errors


def _inside(child, parent):
    """Whether ``child`` is ``parent`` or lies under it (paths already normalised)."""
    return child == parent or child.startswith(parent.rstrip("/") + "/")


def _overlapping_layers(params, facts):
    """Errors for layers nested in one another, and for a mount point inside the upper or work directory.

    Paths are compared as given and with symlinks resolved (``facts[path]["real"]``). The kernel mounts an upper inside
    its own lower layer (writes through the overlay then change a lower layer under it, which overlayfs leaves undefined),
    refuses a lower inside the upper or work directory only at mount time (ELOOP), and mounts over its own upper or work
    directory, hiding it, so that the next run sees upper on overlayfs. A mount point on or inside a lower layer is fine
    (the layers are resolved before the mount covers them) and is allowed.
    """
    def forms(path):
        real = (facts.get(path) or {}).get("real")
        return [path] + ([real] if real and real != path else [])

    def nested(child, parent):
        return any(_inside(c, p) for c in forms(child) for p in forms(parent))

    errors = []
    lower, upper, work, path = params.get("lower") or [], params.get("upper"), params.get("work"), params.get("path")
    for name, value in (("upper", upper), ("work", work)):
        if not value:
            continue
        for layer in lower:
            if nested(value, layer):
                errors.append("%s: %s is inside the lower layer %s of the same overlay; writes through the overlay would change "
                              "its own lower layer under it; put %s outside every lower directory" % (name, value, layer, name))
            elif nested(layer, value):
                errors.append("lower: %s is inside the %s directory %s of the same overlay (the kernel refuses overlapping layers); "
                              "put the lower layers outside upper and work" % (layer, name, value))
    if path:
        if work and nested(path, work):
            errors.append("path: the mount point %s is on or inside the work directory %s, which the kernel keeps for itself and "
                          "must stay empty" % (path, work))
        elif upper and nested(path, upper):
            errors.append("path: the mount point %s is on or inside the upper directory %s: the mount would hide what upper holds "
                          "there and show its own mount point in the overlay (on upper itself, the next run finds upper on overlayfs); "
                          "mount it outside upper" % (path, upper))
    return errors


def index_enabled(params, current):
    """Whether the requested overlay would run with ``index=on``."""
    for opt in params.get("options") or []:
        if opt.startswith("index="):
            return opt == "index=on"
    return (current.get("defaults") or {}).get("index") == "on"


def _work_leftovers(work, entries):
    """Errors for a work directory holding more than the kernel's own leftovers.

    ``entries`` maps names in ``work`` to ``{"isdir": bool, "names": [...]}``.
    Allowed: an empty ``work`` directory and an ``index`` directory (the kernel
    checks that an index belongs to the same upper when it mounts).
    """
    errors = []
    for name, info in sorted(entries.items()):
        if name == "work" and info.get("isdir"):
            if "incompat" in (info.get("names") or []):
                errors.append("work: %s holds work/incompat left by a 'volatile' mount; the kernel refuses to reuse it, remove %s/work"
                              % (work, work))
            elif info.get("names"):
                errors.append("work: %s/work is not empty (%s); work must be empty" % (work, ", ".join(sorted(info["names"])[:5])))
        elif name == "index" and info.get("isdir"):
            continue
        else:
            errors.append("work: %s is not empty (holds %r); overlayfs needs an empty work directory" % (work, name))
    return errors


# ---------------------------------------------------------------- observe (host access)


def probe_path(path, mounts, entries=False):
    """Facts about ``path`` for :func:`validate`: whether it exists and is a
    directory, the device and filesystem it lives on (that of its nearest
    existing ancestor when missing, which is where it would be created), and
    with ``entries`` (the work directory) its entries one level deep."""
    fact = {"exists": os.path.lexists(path), "isdir": os.path.isdir(path), "real": os.path.realpath(path)}
    probe = path
    while not os.path.exists(probe) and probe not in ("", "/"):
        probe = os.path.dirname(probe)
    try:
        fact["dev"] = os.stat(probe).st_dev
    except OSError:
        fact["dev"] = None
    holder = containing_mount(mounts, os.path.realpath(probe))
    fact["fstype"] = holder["fstype"] if holder else None
    fact["fs_mount"] = holder["mount_point"] if holder else None
    try:
        fact["has_origin"] = "trusted.overlay.origin" in os.listxattr(path)
    except (OSError, AttributeError):
        fact["has_origin"] = False
    if entries and fact["isdir"]:
        found = {}
        try:
            for name in os.listdir(path):
                full = os.path.join(path, name)
                isdir = os.path.isdir(full) and not os.path.islink(full)
                found[name] = {"isdir": isdir, "names": os.listdir(full) if isdir else []}
        except OSError:
            pass
        fact["entries"] = found
    return fact


def current_state(mountinfo_text, fstab_text, params, defaults):
    """The observed state the planner compares with: parsed mounts, the mount at
    ``path``, its fstab entries and the kernel's option defaults."""
    mounts = overlay_mountinfo(mountinfo_text)
    return {
        "mounts": mounts,
        "mount": find_mount(mounts, params["mount_point"]),
        "fstab_text": fstab_text,
        "fstab_entries": find_fstab_entries(overlay_fstab(fstab_text), fstab_keys(params)),
        "defaults": defaults,
    }


def fstab_keys(params):
    keys = [params["path"]]
    if params.get("mount_point") and params["mount_point"] not in keys:
        keys.append(params["mount_point"])
    return keys


# ---------------------------------------------------------------- plan


def plan(current, params):
    """Actions taking ``current`` to ``params`` (pure; validation done before).

    Order: unmount, create directories, mount, then fstab, so a refusal of the
    first step (a busy mount point) leaves mount table and fstab unchanged.
    """
    state = params["state"]
    mount = current.get("mount")
    if mount is not None and mount.get("fstype") != "overlay":
        raise Refusal("path: %s is a %s mount, not an overlay; refusing to touch it" % (params["path"], mount.get("fstype")))
    actions = []
    path = params["path"]
    entries = current.get("fstab_entries", [])

    if state in ("unmounted", "absent"):
        if mount is not None:
            actions.append(Action("unmount", "unmount the overlay at %s" % path, path=params["mount_point"], reason=state))
        if state == "absent" and entries:
            actions.append(Action("fstab", "remove the entry for %s from %s" % (path, params["fstab"]), line=None))
        return actions

    if state == "mounted" and mount is not None:
        diffs = mount_differences(mount, params, current.get("defaults") or {})
        if diffs:
            actions.append(Action("unmount", "unmount %s to change %s" % (path, ", ".join(diffs)), path=params["mount_point"], reason=",".join(diffs)))
            mount = None
    wanted_dirs = [params.get("upper"), params.get("work"), path] if params.get("create_dirs") else []
    for directory in wanted_dirs:
        if directory and directory in (current.get("missing") or []):
            actions.append(Action("mkdir", "create directory %s" % directory, path=directory))
    if state == "mounted" and mount is None:
        actions.append(Action("mount", "mount overlay at %s (lower %s%s)" % (
            path, ":".join(params["lower"]), ", upper %s" % params["upper"] if params.get("upper") else ", read-only"),
            path=path, options=overlay_option_string(params)))
    if not (len(entries) == 1 and fstab_entry_matches(entries[0], params)):
        verb = "update" if entries else "add"
        actions.append(Action("fstab", "%s the entry for %s in %s" % (verb, path, params["fstab"]), line=fstab_line(params)))
    return actions


# ---------------------------------------------------------------- describe


def describe(mount, fstab_entries, path):
    """One description of an overlay's state, used for both sides of the diff
    and for the ``mount`` return value."""
    entry = fstab_entries[0] if fstab_entries else None
    source = mount if mount is not None else entry
    if mount is not None:
        options = reported_options(mount)
    elif entry is not None:
        options = list(entry.get("overlay_options", entry.get("options", [])))
    else:
        options = []
    return {
        "path": path,
        "mounted": mount is not None,
        "in_fstab": entry is not None,
        "lower": list(source.get("lower") or []) if source else [],
        "upper": source.get("upper") if source else None,
        "work": source.get("work") if source else None,
        "options": options,
    }


def predict(current, params, actions):
    """The mount and fstab entries expected after ``actions`` (for diff and check mode)."""
    kinds = [a.kind for a in actions]
    mount = current.get("mount")
    if "unmount" in kinds:
        mount = None
    if "mount" in kinds:
        opts = kernel_options(params.get("options") or [])
        mount = {
            "fstype": "overlay",
            "lower": list(params["lower"]),
            "upper": params.get("upper"),
            "work": params.get("work"),
            "mount_options": [o for o in opts if o in MOUNT_FLAGS],
            "overlay_options": [o for o in opts if o not in MOUNT_FLAGS],
        }
    entries = current.get("fstab_entries", [])
    for action in actions:
        if action.kind == "fstab":
            entries = [] if action.args["line"] is None else [overlay_fstab(action.args["line"])[0][1]]
    return mount, entries
