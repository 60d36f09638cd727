# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""device-mapper: pure parsers of ``dmsetup`` output.

Unit-tested against output captured on the VM lab host of ``molecule/thinpool``
(Debian 12, libdevmapper 1.02.185, kernel 6.1 with dm-thin; ``tests/unit/fixtures/lvm``).

A segment is ``{"start": int, "length": int, "target": str, "params": str}``:
``dmsetup table`` and ``dmsetup status`` print one per line, prefixed with
``<dm name>: `` when no device is named on the command line.
"""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name


def _segment(text):
    """``<start> <length> <target> [<params>]`` -> a segment dict, or None for fewer fields."""
    fields = text.split(None, 3)
    if len(fields) < 3:
        return None
    return {"start": int(fields[0]), "length": int(fields[1]), "target": fields[2], "params": fields[3] if len(fields) > 3 else ""}


def parse_dmsetup(text):
    """``dmsetup table`` or ``dmsetup status`` without a device name -> ``{dm_name: [segments]}``."""
    result = {}
    for line in text.splitlines():
        if not line.strip() or line.strip() == "No devices found":
            continue
        name, sep, rest = line.partition(": ")
        if not sep:
            continue
        segment = _segment(rest)
        result.setdefault(name, [])
        if segment is not None:
            result[name].append(segment)
    return result


def parse_dmsetup_device(text):
    """``dmsetup table DEV`` or ``dmsetup status DEV`` (one device named, no prefix) -> [segments] ([] for none)."""
    return [s for s in (_segment(line) for line in text.splitlines()) if s is not None]


def parse_dmsetup_targets(text):
    """``dmsetup targets`` -> ``{target: version}`` (``thin-pool v1.23.0`` -> ``{"thin-pool": "1.23.0"}``)."""
    targets = {}
    for line in (text or "").splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1].startswith("v"):
            targets[fields[0]] = fields[1][1:]
    return targets


def parse_thin_pool_status(params):
    """The parameters of a ``thin-pool`` line of ``dmsetup status`` -> dict.

    ``<transaction id> <used>/<total metadata blocks> <used>/<total data blocks> <held root> ro|rw|out_of_data_space
    [no_]discard_passdown error|queue_if_no_space needs_check|- [metadata_low_watermark]``, or ``Fail``.
    """
    fields = params.split()
    if not fields or fields[0] in ("Fail", "Error"):
        return {"failed": True}
    meta_used, meta_total = (int(x) for x in fields[1].split("/"))
    data_used, data_total = (int(x) for x in fields[2].split("/"))
    result = {
        "failed": False,
        "transaction_id": int(fields[0]),
        "metadata_used_blocks": meta_used,
        "metadata_total_blocks": meta_total,
        "data_used_blocks": data_used,
        "data_total_blocks": data_total,
        "held_root": fields[3] if len(fields) > 3 else None,
        "mode": fields[4] if len(fields) > 4 else None,
        "discard_passdown": (fields[5] == "discard_passdown") if len(fields) > 5 else None,
        "no_space_policy": fields[6].replace("_if_no_space", "") if len(fields) > 6 else None,
        "needs_check": (fields[7] == "needs_check") if len(fields) > 7 else None,
    }
    return result
