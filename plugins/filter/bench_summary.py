# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Aggregate the raw per-host benchmark results of the cow.storage.benchmark role."""

from __future__ import annotations

DOCUMENTATION = r"""
name: bench_summary
author: cow.storage developers
version_added: 1.0.0
short_description: Median, min and max of cow.storage benchmark runs, and each backend's ratio to vfs
description:
  - Takes the list of per-host results that the C(cow.storage.benchmark) role collects (one entry per
    host, each with its image measurements and raw primitives) and returns rows ready to print.
  - For each image, RV(_value.start[].vs_vfs) is the vfs median divided by the row's median
    (how many times faster than a full copy), when a vfs host was measured with that image.
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
          description: The generated data in the image, or the size of a real image's files, in MiB.
          type: int
        kind:
          description: V(rootfs) for a real distribution image (a Debian root filesystem), V(generated) for generated layers.
          type: str
        name:
          description: The image's name, for example V(debian-minbase) or V(generated 300 MiB); ratios compare rows of the same name.
          type: str
        files:
          description: The regular files in a real image (null for generated ones).
          type: int
        load1:
          description: The host's 1-minute load average when its measurement of this image began.
          type: float
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
          description: The vfs median for this image divided by this row's median (null without a vfs host for it).
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
      description: One row per backend at the largest generated size every backend measured.
      type: list
      elements: dict
    by_image:
      description:
        - One row per image, real ones first by their number of files, then generated ones by size, with each backend's
          median start (C(median), by driver) and its ratio to vfs (C(vs_vfs), by driver); how the ratio grows with files.
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


def _order(row):
    """Real images first, by their number of files; then generated ones by size."""
    if row["kind"] == "rootfs":
        return (0, row["files"] or 0, row["name"])
    return (1, row["size_mib"], row["name"])


def _rows(results, key):
    rows = []
    for host in results:
        for img in host.get("images", []):
            size = int(img["size_mib"])
            row = {"host": host.get("host"), "driver": img.get("driver"), "size_mib": size,
                   "kind": img.get("kind") or "generated", "name": img.get("name") or "generated %d MiB" % size,
                   "files": img.get("files"), "image_bytes": img.get("image_bytes"), "load1": img.get("load1")}
            row.update(_stats(img.get(key, [])))
            rows.append(row)
    vfs = {}
    for row in rows:
        if row["driver"] == "vfs" and row["median"] is not None:
            vfs.setdefault(row["name"], row["median"])
    for row in rows:
        row["vs_vfs"] = _ratio(vfs.get(row["name"]), row["median"])
    return sorted(rows, key=lambda r: _order(r) + (str(r["driver"]), str(r["host"])))


def _by_image(start_rows):
    """One row per image: its files and size, each backend's median start and its ratio to vfs."""
    images = {}
    for row in start_rows:
        img = images.setdefault(row["name"], {"name": row["name"], "kind": row["kind"], "files": row["files"],
                                              "size_mib": row["size_mib"], "median": {}, "vs_vfs": {}})
        img["median"][row["driver"]] = row["median"]
        img["vs_vfs"][row["driver"]] = row["vs_vfs"]
    return sorted(images.values(), key=_order)


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
    """One row per driver at the largest generated size that every driver measured."""
    start_rows = [r for r in start_rows if r["kind"] == "generated"]
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
            "short": _short(start), "by_image": _by_image(start)}


class FilterModule:
    """cow.storage benchmark filters."""

    def filters(self):
        return {"bench_summary": bench_summary}
