# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Size arguments -> bytes: one arithmetic, the spelling each tool accepts.

Every unit is a power of 1024 (``K``, ``KB`` and ``KiB`` alike), as in btrfs-progs,
lvm2 and go-units. The tools differ only in spelling: which unit letters exist,
what a bare number means, and LVM's ``%VG``/``%FREE``/``%PVS``. Each dialect is a
regular expression feeding :func:`_scaled`, which computes exactly (Decimal) and
refuses fractions of a byte and sizes that are not positive.

ansible-core's ``human_to_bytes`` is not used: it rounds fractions of a byte away
and refuses ``KiB`` and lower-case ``kb``, which these tools accept.
"""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import re
from decimal import Decimal

_POWERS = {"": 0, "b": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}
SECTOR = 512

# btrfs-progs: 512M, 1.5GiB, .5G, 4096B, a bare number of bytes
_BTRFS_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmgtpe]?)(i?)(b?)\s*$", re.IGNORECASE)
# lvcreate(8): 10g, 10GiB, 4096b, 8s (sectors); a bare number is in the default unit
_LVM_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:([bskmgtpe])(?:i?b)?)?\s*$", re.IGNORECASE)
_LVM_PERCENT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*(VG|FREE|PVS)\s*$", re.IGNORECASE)
# go-units RAMInBytes (containerd): 64MB, 10G, 8192MiB, a bare number of bytes
_GO_UNITS_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?)(b?)\s*$", re.IGNORECASE)


def _scaled(number, factor, value, zero_hint=""):
    """``number`` (text or int) times ``factor`` as int bytes; ValueError naming ``value`` for a fraction of a byte or <= 0."""
    result = Decimal(number) * factor
    if result != result.to_integral_value():
        raise ValueError("invalid size %r: not a whole number of bytes" % (value,))
    result = int(result)
    if result <= 0:
        raise ValueError("invalid size %r: must be greater than zero%s" % (value, zero_hint))
    return result


def btrfs_size(value):
    """A btrfs-progs size (``'512M'``, ``'2G'``, ``'1.5GiB'``, ``'1048576'``, an int) -> bytes; ``'none'`` -> None.

    Raises ValueError for anything else, for zero and for fractions of a byte.
    """
    if isinstance(value, bool):
        raise ValueError("invalid size %r" % (value,))
    if isinstance(value, int):
        return _scaled(value, 1, value, " (use none to remove a limit)")
    text = str(value).strip()
    if text.lower() == "none":
        return None
    match = _BTRFS_RE.match(text)
    if not match:
        raise ValueError("invalid size %r (expected bytes, a number with a unit K, M, G, T, P or E such as 512M or 1.5GiB, or none)" % (value,))
    if match.group(3) and not match.group(2):
        raise ValueError("invalid size %r" % (value,))
    return _scaled(match.group(1), 1024 ** _POWERS[match.group(2).lower()], value, " (use none to remove a limit)")


def lvm_size(value, default_unit="m"):
    """An LVM size argument (``10g``, ``10GiB``, ``512k``, ``4096b``, ``8s`` in 512-byte sectors) -> bytes.

    A bare number is in ``default_unit`` (MiB, like ``lvcreate -L``).
    Raises ValueError for anything else, for zero and for fractions of a byte.
    """
    match = _LVM_RE.match(str(value))
    if not match or isinstance(value, bool):
        raise ValueError("invalid size %r (expected a number with a unit b, s, k, m, g, t, p or e such as 512k or 10g)" % (value,))
    unit = (match.group(2) or default_unit).lower()
    return _scaled(match.group(1), SECTOR if unit == "s" else 1024 ** _POWERS[unit], value)


def lvm_size_request(value):
    """``95%VG``/``50%FREE``/``100%PVS`` -> ``{"percent": 95.0, "of": "VG"}``; absolute sizes -> ``{"bytes": n}`` (:func:`lvm_size`)."""
    match = _LVM_PERCENT_RE.match(str(value))
    if match:
        percent = float(match.group(1))
        if percent <= 0 or percent > 100:
            raise ValueError("invalid size %r: a percentage must be more than 0 and at most 100" % (value,))
        return {"percent": percent, "of": match.group(2).upper()}
    return {"bytes": lvm_size(value)}


def go_units_size(value):
    """containerd's sizes (go-units RAMInBytes: ``64MB``, ``10G``, ``8192MiB``, ``1073741824``) -> bytes; None when unparsable.

    As go-units does, a fraction of a byte is dropped and zero is a size.
    """
    match = _GO_UNITS_RE.match(str(value))
    if not match:
        return None
    return int(Decimal(match.group(1)) * 1024 ** _POWERS[match.group(2).lower()])
