# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mount table and fstab: pure parsers, escaping, and look-ups.

Every function here is a pure function of text and dictionaries, unit-tested
against mountinfo and fstab captured from real hosts (``tests/unit/fixtures/mounts``,
``tests/unit/fixtures/btrfs``). What a filesystem type adds on top (overlay
layers) lives with that filesystem (:mod:`._overlay`).

``mountinfo`` and ``fstab`` fields use octal escapes, as the kernel and
util-linux write them (``\\040`` for a space, ``\\134`` for a backslash,
``\\054`` for a comma in super options).
"""

from __future__ import annotations

import os
import re

__metaclass__ = type  # pylint: disable=invalid-name

_OCTAL = re.compile(r"\\([0-7]{3})")


# ---------------------------------------------------------------- escaping


def unescape_octal(text):
    """Undo the ``\\ooo`` escapes of mountinfo and fstab fields."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), text)


def escape_fstab(text):
    """Escape a field for fstab (util-linux ``mangle``): space, tab, newline, backslash."""
    out = []
    for char in text:
        if char in " \t\n\\":
            out.append("\\%03o" % ord(char))
        else:
            out.append(char)
    return "".join(out)


def split_escaped(text, sep):
    """Split ``text`` on ``sep`` not preceded by a backslash; escapes are kept."""
    parts, cur, i = [], [], 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            cur.append(text[i:i + 2])
            i += 2
            continue
        if char == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(char)
        i += 1
    parts.append("".join(cur))
    return parts


MOUNTINFO = "/proc/self/mountinfo"


def read_mounts(path=MOUNTINFO):
    """The mount table as :func:`parse_mountinfo` gives it, read now (undecodable bytes kept as surrogates)."""
    with open(path, "rb") as handle:
        return parse_mountinfo(handle.read().decode("utf-8", "surrogateescape"))


def mount_argv(fstype, source, target, options):
    """The one way cow.storage mounts: ``mount -t FSTYPE -o OPTIONS SOURCE TARGET``."""
    return ["mount", "-t", fstype, "-o", options, source, target]


# ---------------------------------------------------------------- parsers


def parse_mountinfo(text):
    """Parse ``/proc/self/mountinfo``; one dict per line, in kernel order."""
    mounts = []
    for line in text.splitlines():
        fields = line.split(" ")
        if len(fields) < 10 or "-" not in fields[6:]:
            continue
        sep = fields.index("-", 6)
        mounts.append({
            "mount_id": int(fields[0]),
            "parent_id": int(fields[1]),
            "devno": fields[2],
            "root": unescape_octal(fields[3]),
            "mount_point": unescape_octal(fields[4]),
            "mount_options": fields[5].split(","),
            "optional": fields[6:sep],
            "fstype": unescape_octal(fields[sep + 1]),
            "source": unescape_octal(fields[sep + 2]),
            "super_options": [unescape_octal(o) for o in fields[sep + 3].split(",")] if len(fields) > sep + 3 else [],
        })
    return mounts


def parse_fstab(text):
    """Parse fstab text into ``(line, entry)`` pairs; ``entry`` is None for comments,
    blank and malformed lines. ``line`` keeps its line ending, so joining the
    lines gives back the text byte for byte."""
    result = []
    for line in text.splitlines(True):
        stripped = line.strip()
        entry = None
        if stripped and not stripped.startswith("#"):
            fields = stripped.split()
            if len(fields) >= 4:
                entry = {
                    "source": unescape_octal(fields[0]),
                    "mount_point": unescape_octal(fields[1]),
                    "fstype": unescape_octal(fields[2]),
                    "options": [unescape_octal(o) for o in split_escaped(fields[3], ",")],
                    "freq": fields[4] if len(fields) > 4 else "0",
                    "passno": fields[5] if len(fields) > 5 else "0",
                }
        result.append((line, entry))
    return result


# ---------------------------------------------------------------- look-ups


def same_path(a, b):
    return os.path.normpath(a) == os.path.normpath(b)


def find_mount(mounts, mount_point):
    """The mount at ``mount_point`` (the last one stacked there, the one visible), or None."""
    found = None
    for entry in mounts:
        if same_path(entry["mount_point"], mount_point):
            found = entry
    return found


def containing_mount(mounts, path):
    """The mount that holds ``path`` (longest mount point prefix; ``path`` should be a real path), or None."""
    best = None
    for entry in mounts:
        mp = entry["mount_point"]
        if path == mp or path.startswith(mp.rstrip("/") + "/") or mp == "/":
            if best is None or len(mp) >= len(best.get("mount_point", "")):
                best = entry
    return best


def find_fstab_entries(parsed_fstab, mount_points):
    """fstab entries (from :func:`parse_fstab`) whose mount point is one of ``mount_points``."""
    return [e for _line, e in parsed_fstab if e is not None and any(same_path(e["mount_point"], m) for m in mount_points)]


def update_fstab(text, mount_points, new_line):
    """Return ``text`` with the entry for ``mount_points`` replaced by ``new_line``
    (appended when there is none) or removed (``new_line`` None). Every other
    line is kept byte for byte; duplicate entries for the mount point are dropped."""
    out, done = [], False
    for line, entry in parse_fstab(text):
        if entry is not None and any(same_path(entry["mount_point"], m) for m in mount_points):
            if new_line is not None and not done:
                out.append(new_line)
                done = True
            continue
        out.append(line)
    if new_line is not None and not done:
        if out and not out[-1].endswith("\n"):
            out.append("\n")
        out.append(new_line)
    return "".join(out)
