# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Aggregate the raw per-host benchmark results of the cow.storage.benchmark role."""

from __future__ import annotations

DOCUMENTATION = r"""
name: bench_summary
author: cow.storage developers
version_added: 0.1.0
short_description: Median, min and max of cow.storage benchmark runs, and each backend's ratio to vfs
description:
  - Takes the list of per-host results that the C(cow.storage.benchmark) role collects (one entry per
    host, each with its image measurements and raw primitives) and returns rows ready to print.
  - For each image size, RV(_value.start[].vs_vfs) is the vfs median divided by the row's median
    (how many times faster than a full copy), when a vfs host was measured at that size.
options:
  _input:
    description: The per-host results (C(benchmark_result) of each host).
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Summarise the runs of every host
  ansible.builtin.set_fact:
    summary: "{{ groups['all'] | map('extract', hostvars) | selectattr('benchmark_result', 'defined')
                 | map(attribute='benchmark_result') | cow.storage.bench_summary }}"
"""

RETURN = r"""
_value:
  description: The summary.
  type: dict
  contains:
    start:
      description: One row per host and image size for C(docker run --rm IMG true).
      type: list
      elements: dict
      contains:
        host:
          description: The host measured.
          type: str
        driver:
          description: The host's storage driver.
          type: str
        size_mib:
          description: The generated data in the image, in MiB.
          type: int
        image_bytes:
          description: The image's size as the engine reports it.
          type: int
        runs:
          description: Timed runs.
          type: int
        median:
          description: Median time in seconds (null without runs).
          type: float
        min:
          description: Shortest run in seconds.
          type: float
        max:
          description: Longest run in seconds.
          type: float
        vs_vfs:
          description: The vfs median at this size divided by this row's median (null without a vfs host at this size).
          type: float
    create:
      description: One row per host and image size for C(docker create) (the clone of the image alone), with the keys of RV(_value.start).
      type: list
      elements: dict
    primitives:
      description: One row per host, primitive and data size (btrfs snapshot, thin snapshot, overlay mount, full copy).
      type: list
      elements: dict
    short:
      description: The seed's short table, one row per backend at the largest size every backend measured.
      type: list
      elements: dict
"""


def _stats(values):
    vals = sorted(float(v) for v in values)
    if not vals:
        return {"runs": 0, "median": None, "min": None, "max": None}
    mid = len(vals) // 2
    median = vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2.0
    return {"runs": len(vals), "median": round(median, 4), "min": round(vals[0], 4), "max": round(vals[-1], 4)}


def _ratio(ref, value):
    if ref is None or not value:
        return None
    return round(ref / value, 2)


def _rows(results, key):
    rows = []
    for host in results:
        for img in host.get("images", []):
            row = {"host": host.get("host"), "driver": img.get("driver"), "size_mib": int(img["size_mib"]),
                   "image_bytes": img.get("image_bytes")}
            row.update(_stats(img.get(key, [])))
            rows.append(row)
    vfs = {}
    for row in rows:
        if row["driver"] == "vfs" and row["median"] is not None:
            vfs.setdefault(row["size_mib"], row["median"])
    for row in rows:
        row["vs_vfs"] = _ratio(vfs.get(row["size_mib"]), row["median"])
    return sorted(rows, key=lambda r: (r["size_mib"], str(r["driver"]), str(r["host"])))


def _primitives(results):
    rows = []
    for host in results:
        for prim in host.get("primitives", []):
            for kind, values in sorted(prim.get("results", {}).items()):
                row = {"host": host.get("host"), "fs": prim.get("fs"), "primitive": kind,
                       "size_mib": int(prim["size_mib"])}
                row.update(_stats(values))
                rows.append(row)
    return sorted(rows, key=lambda r: (r["primitive"], str(r["host"]), r["size_mib"]))


def _short(start_rows):
    """One row per driver at the largest size that every driver measured (the seed's table)."""
    drivers = sorted({r["driver"] for r in start_rows})
    sizes = [s for s in sorted({r["size_mib"] for r in start_rows})
             if all(any(r["driver"] == d and r["size_mib"] == s for r in start_rows) for d in drivers)]
    if not sizes:
        return []
    size = sizes[-1]
    rows = [r for r in start_rows if r["size_mib"] == size]
    return [{"driver": r["driver"], "host": r["host"], "size_mib": size, "median": r["median"],
             "vs_vfs": r["vs_vfs"]} for r in sorted(rows, key=lambda r: (r["median"] is None, r["median"]))]


def bench_summary(results):
    """Aggregate raw runs into median/min/max rows and ratios to vfs."""
    results = [r for r in (results or []) if isinstance(r, dict)]
    start = _rows(results, "start_s")
    return {"start": start, "create": _rows(results, "create_s"), "primitives": _primitives(results),
            "short": _short(start)}


class FilterModule:
    """cow.storage benchmark filters."""

    def filters(self):
        return {"bench_summary": bench_summary}
