# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Overlay mounts: the layers of overlay entries in mountinfo and fstab,
validation of an overlay request, and the planner.

Everything here except :func:`probe_path` and :func:`kernel_defaults` is a pure
function of text and dictionaries, so it is unit tested against mountinfo and
fstab captured from real overlay mounts (``tests/unit/fixtures/mounts``). The
mount table and fstab themselves are parsed by :mod:`._mountinfo`.

Escaping, on top of the octal escapes of mountinfo and fstab fields:

* overlayfs itself splits ``lowerdir`` on ``:`` and honours ``\\`` escapes in
  layer paths, so a ``:`` in a layer path is passed as ``\\:``. The kernel shows
  the escaped form back in mountinfo (``/l\\134:colon`` means ``/l\\:colon``).
* a ``,`` cannot be passed safely through libmount option parsing and fstab, so
  layer paths containing ``,`` are refused.
"""

from __future__ import annotations

import os
import re

from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal
from ansible_collections.cow.storage.plugins.module_utils._mountinfo import (
    containing_mount, escape_fstab, find_fstab_entries, find_mount, parse_fstab, parse_mountinfo, same_path, split_escaped,
)
from ansible_collections.cow.storage.plugins.module_utils._runner import Action

__metaclass__ = type  # pylint: disable=invalid-name

OVERLAY_MAX_STACK = 500  # kernel OVL_MAX_STACK
MAX_OPTIONS_LEN = 4095  # legacy mount(2) copies at most one page of options

# overlay options taking a value, with the values the kernel accepts
OVERLAY_VALUES = {
    "index": ("on", "off"),
    "metacopy": ("on", "off"),
    "redirect_dir": ("on", "off", "follow", "nofollow"),
    "xino": ("on", "off", "auto"),
    "nfs_export": ("on", "off"),
    "uuid": ("on", "off", "null", "auto"),
    "verity": ("on", "off", "require"),
    "fsync": ("volatile", "strict", "auto"),
}
# overlay flags -> how the kernel reports them in the super options
OVERLAY_FLAGS = {
    "volatile": "fsync=volatile",
    "userxattr": "userxattr",
    "default_permissions": "default_permissions",
}
# options the kernel may quietly decide itself; compared only when it reports them
KERNEL_DECIDES = ("xino", "uuid", "verity", "fsync")
# per-mount (VFS) flags, reported in mountinfo field 6: option -> (must be present, must be absent)
MOUNT_FLAGS = {
    "ro": (("ro",), ()),
    "rw": (("rw",), ()),
    "nosuid": (("nosuid",), ()),
    "suid": ((), ("nosuid",)),
    "nodev": (("nodev",), ()),
    "dev": ((), ("nodev",)),
    "noexec": (("noexec",), ()),
    "exec": ((), ("noexec",)),
    "noatime": (("noatime",), ()),
    "relatime": (("relatime",), ()),
    "strictatime": ((), ("noatime", "relatime")),
    "nodiratime": (("nodiratime",), ()),
    "diratime": ((), ("nodiratime",)),
    "nosymfollow": (("nosymfollow",), ()),
}
# superblock flags, reported in the super options
SUPER_FLAGS = ("sync", "dirsync", "lazytime")
# options meaningful to fstab / mount(8) / systemd only; never passed to the kernel or compared live
FSTAB_ONLY = ("auto", "noauto", "nofail", "_netdev", "defaults")
FSTAB_ONLY_PREFIXES = ("x-", "comment=")
LAYER_OPTIONS = ("lowerdir", "lowerdir+", "upperdir", "workdir", "datadir+")

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

# ---------------------------------------------------------------- escaping


def unescape_backslash(text):
    """Undo overlayfs backslash escapes (``\\:`` -> ``:``, ``\\\\`` -> ``\\``)."""
    return re.sub(r"\\(.)", r"\1", text)


def escape_layer(path):
    """Escape a layer path for overlayfs options (``\\`` and ``:``)."""
    return path.replace("\\", "\\\\").replace(":", "\\:")


# ---------------------------------------------------------------- parsers


def _layer_options(options):
    """Split overlay options (already octal-unescaped) into layers and the rest."""
    lower, upper, work, rest = [], None, None, []
    for opt in options:
        key, sep, value = opt.partition("=")
        if sep and key == "lowerdir":
            # "::" separates data-only layers; they are kept in order as layers
            lower.extend(unescape_backslash(p) for p in split_escaped(value, ":") if p != "")
        elif sep and key == "lowerdir+":
            lower.append(unescape_backslash(value))
        elif sep and key == "upperdir":
            upper = unescape_backslash(value)
        elif sep and key == "workdir":
            work = unescape_backslash(value)
        else:
            rest.append(opt)
    return lower, upper, work, rest


def with_layers(entry, options):
    """``entry`` (a mountinfo or fstab entry, or None) with, when it is an overlay, ``lower`` (top first), ``upper``,
    ``work`` and ``overlay_options`` (its ``options``, octal-unescaped, other than the layers)."""
    if entry is not None and entry["fstype"] == "overlay":
        lower, upper, work, rest = _layer_options(options)
        entry.update(lower=lower, upper=upper, work=work, overlay_options=rest)
    return entry


def overlay_mountinfo(text):
    """:func:`parse_mountinfo`, overlay entries with their layers (:func:`with_layers` of the super options)."""
    return [with_layers(entry, entry["super_options"]) for entry in parse_mountinfo(text)]


def overlay_fstab(text):
    """:func:`parse_fstab`, overlay entries with their layers (:func:`with_layers` of the options)."""
    return [(line, with_layers(entry, entry["options"] if entry else None)) for line, entry in parse_fstab(text)]


# ---------------------------------------------------------------- options


def fstab_only(option):
    return option in FSTAB_ONLY or option.startswith(FSTAB_ONLY_PREFIXES)


def validate_options(options, has_upper):
    """Errors (naming ``options``) for options we cannot pass or compare."""
    errors = []
    for opt in options:
        key, sep, value = opt.partition("=")
        if key in LAYER_OPTIONS:
            errors.append("options: %r sets a layer; use the lower, upper and work parameters instead" % opt)
        elif fstab_only(opt) or opt in MOUNT_FLAGS or opt in SUPER_FLAGS:
            continue
        elif key in OVERLAY_VALUES:
            if not sep or value not in OVERLAY_VALUES[key]:
                errors.append("options: %r must be %s=%s" % (opt, key, "|".join(OVERLAY_VALUES[key])))
        elif opt in OVERLAY_FLAGS:
            if opt == "volatile" and not has_upper:
                errors.append("options: 'volatile' needs an upper layer (upper and work)")
        else:
            errors.append(
                "options: unsupported option %r (overlay: %s; mount flags: %s; fstab only: %s, x-*)"
                % (opt, ", ".join(sorted(list(OVERLAY_VALUES) + list(OVERLAY_FLAGS))),
                   ", ".join(sorted(list(MOUNT_FLAGS) + list(SUPER_FLAGS))), ", ".join(FSTAB_ONLY))
            )
    if "ro" in options and "rw" in options:
        errors.append("options: 'ro' and 'rw' contradict each other")
    return errors


def kernel_options(options):
    """The options passed to the kernel (fstab-only ones dropped)."""
    return [o for o in options if not fstab_only(o)]


def option_satisfied(option, mount, defaults):
    """Whether a live overlay ``mount`` (from :func:`overlay_mountinfo`) honours ``option``.

    Only what the user asked for is compared with what the kernel reports;
    options the kernel adds on its own never count. An overlay option the
    kernel does not report is at its module default (``defaults``, from
    ``/sys/module/overlay/parameters``); when that default is unknown, or the
    kernel decides the value itself (``xino``, ``uuid``, ``verity``, ``fsync``),
    an unreported option is not held against the mount.
    """
    if fstab_only(option):
        return True
    if option in MOUNT_FLAGS:
        present, absent = MOUNT_FLAGS[option]
        live = mount["mount_options"]
        return all(p in live for p in present) and not any(a in live for a in absent)
    superopts = mount.get("overlay_options", mount.get("super_options", []))
    if option in SUPER_FLAGS:
        return option in superopts
    if option in OVERLAY_FLAGS:
        return OVERLAY_FLAGS[option] in superopts
    key, _sep, value = option.partition("=")
    reported = dict(o.partition("=")[::2] for o in superopts if "=" in o)
    if key in reported:
        return reported[key] == value
    if key in KERNEL_DECIDES or key not in defaults:
        return True
    return defaults[key] == value


def kernel_defaults_from_params(params):
    """Default overlay option values from ``/sys/module/overlay/parameters`` contents
    (a dict of parameter name -> text such as ``N`` or ``Y``)."""
    def flag(name):
        value = params.get(name)
        if value is None:
            return None
        return "on" if value.strip() in ("Y", "1") else "off"

    defaults = {}
    for name in ("index", "metacopy", "nfs_export"):
        if flag(name) is not None:
            defaults[name] = flag(name)
    if flag("redirect_dir") == "on":
        defaults["redirect_dir"] = "on"
    elif flag("redirect_dir") == "off" and flag("redirect_always_follow") is not None:
        defaults["redirect_dir"] = "follow" if flag("redirect_always_follow") == "on" else "nofollow"
    return defaults


# ---------------------------------------------------------------- desired state


def layers(params):
    """Every directory the overlay depends on, deduplicated, lowers first."""
    out = []
    for path in list(params.get("lower") or []) + [params.get("upper"), params.get("work")]:
        if path and path not in out:
            out.append(path)
    return out


def overlay_option_string(params):
    """The ``-o`` string for ``mount -t overlay`` (layers escaped for overlayfs)."""
    opts = ["lowerdir=" + ":".join(escape_layer(p) for p in params["lower"])]
    if params.get("upper"):
        opts.append("upperdir=" + escape_layer(params["upper"]))
        opts.append("workdir=" + escape_layer(params["work"]))
    return ",".join(opts + kernel_options(params.get("options") or []))


def desired_fstab_options(params):
    """Options of the desired fstab entry (octal escaping not applied)."""
    opts = overlay_option_string(params).split(",")[: 3 if params.get("upper") else 1]
    opts += list(params.get("options") or [])
    opts += ["x-systemd.requires-mounts-for=" + p for p in layers(params)]
    return opts


def fstab_line(params):
    """The fstab line for ``params`` (with a trailing newline)."""
    return "%s %s overlay %s 0 0\n" % (
        "overlay",
        escape_fstab(params["path"]),
        escape_fstab(",".join(desired_fstab_options(params))),
    )


def fstab_entry_matches(entry, params):
    """Whether a parsed fstab ``entry`` already describes the requested overlay."""
    if entry is None or entry.get("fstype") != "overlay":
        return False
    wanted = overlay_fstab(fstab_line(params))[0][1]
    return (
        entry["lower"] == wanted["lower"]
        and entry["upper"] == wanted["upper"]
        and entry["work"] == wanted["work"]
        and sorted(set(entry["overlay_options"])) == sorted(set(wanted["overlay_options"]))
        and entry["freq"] == "0"
        and entry["passno"] == "0"
    )


def mount_differences(mount, params, defaults):
    """Names of the parameters in which a live overlay ``mount`` differs from ``params``."""
    diffs = []
    if mount["lower"] != list(params["lower"]):
        diffs.append("lower")
    if mount["upper"] != params.get("upper"):
        diffs.append("upper")
    if mount["work"] != params.get("work"):
        diffs.append("work")
    unmet = [o for o in params.get("options") or [] if not option_satisfied(o, mount, defaults)]
    if unmet:
        diffs.append("options")
    return diffs


def reported_options(mount):
    """Options of a live mount as the kernel reports them (layers left out)."""
    out = []
    for opt in list(mount["mount_options"]) + list(mount.get("overlay_options", [])):
        if opt not in out:
            out.append(opt)
    return out


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


def kernel_defaults(base="/sys/module/overlay/parameters"):
    params = {}
    for name in ("index", "metacopy", "nfs_export", "redirect_dir", "redirect_always_follow"):
        try:
            with open(os.path.join(base, name), encoding="utf-8") as handle:
                params[name] = handle.read()
        except (IOError, OSError):
            pass
    return kernel_defaults_from_params(params)


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
