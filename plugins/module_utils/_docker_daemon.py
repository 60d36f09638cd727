# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parsers for what the container engine and the kernel report about storage."""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import json

DEFAULT_DATA_ROOT = "/var/lib/docker"


def parse_proc_filesystems(text):
    """``/proc/filesystems`` -> sorted list of filesystem names (block and virtual)."""
    names = set()
    for line in text.splitlines():
        fields = line.split()
        if fields:
            names.add(fields[-1])
    return sorted(names)


def parse_blkid_export(text):
    """``blkid -o export DEV`` -> dict of its KEY=VALUE lines."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _bool(value):
    if value is None:
        return None
    return str(value).strip().lower() == "true"


def parse_docker_info(text):
    """``docker info --format '{{json .}}'`` -> the storage facts cow.storage works with."""
    info = json.loads(text)
    status = dict((k, v) for k, v in (info.get("DriverStatus") or []) if k)
    driver_type = status.get("driver-type", "")
    return {
        "running": bool(info.get("ServerVersion")),
        "version": info.get("ServerVersion") or None,
        "driver": info.get("Driver"),
        "image_store": "containerd" if driver_type.startswith("io.containerd.snapshotter") else "graphdriver",
        "backing_filesystem": status.get("Backing Filesystem"),
        "d_type": _bool(status.get("Supports d_type")),
        "driver_status": status,
        "data_root": info.get("DockerRootDir") or DEFAULT_DATA_ROOT,
        "images": info.get("Images", 0),
        "containers": info.get("Containers", 0),
        "containers_running": info.get("ContainersRunning", 0),
        "security_options": info.get("SecurityOptions") or [],
        "warnings": info.get("Warnings") or [],
    }


def data_root_from_config(text):
    """The ``data-root`` of a daemon.json text (default when absent or empty)."""
    if not text.strip():
        return DEFAULT_DATA_ROOT
    return json.loads(text).get("data-root") or DEFAULT_DATA_ROOT
