# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""overlayfs: the layers of overlay entries in mountinfo and fstab, overlay options
(what the kernel accepts and reports, and its defaults), and the mount options and
fstab line of a requested overlay. The overlay_mount request itself (validation,
plan) is in :mod:`._overlay_mount`.

Everything here except :func:`kernel_defaults` is a pure function of text and
dictionaries, so it is unit tested against mountinfo and fstab captured from real
overlay mounts (``tests/unit/fixtures/mounts``). The mount table and fstab
themselves are parsed by :mod:`._mountinfo`.

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

from ansible_collections.cow.storage.plugins.module_utils._mountinfo import escape_fstab, parse_fstab, parse_mountinfo, split_escaped

__metaclass__ = type  # pylint: disable=invalid-name
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


def kernel_defaults(base="/sys/module/overlay/parameters"):
    params = {}
    for name in ("index", "metacopy", "nfs_export", "redirect_dir", "redirect_always_follow"):
        try:
            with open(os.path.join(base, name), encoding="utf-8") as handle:
                params[name] = handle.read()
        except (IOError, OSError):
            pass
    return kernel_defaults_from_params(params)
