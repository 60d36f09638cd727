#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: docker_storage_info
short_description: Report a container host's storage facts
version_added: 0.1.0
description:
  - Reads, without changing anything, what decides a host's copy-on-write storage backend
    the kernel, the filesystems it supports, the container engine's storage driver, image store,
    backing filesystem and d_type, the filesystem under the data root, and the block devices.
author: cow.storage developers (@cow-storage)
options:
  config_path:
    description: The engine's daemon configuration, read for C(data-root) when the engine is not running.
    type: path
    default: /etc/docker/daemon.json
extends_documentation_fragment:
  - cow.storage.attributes
attributes:
  check_mode:
    support: full
    details: The module changes nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
notes:
  - Block devices are the C(/dev/*) block nodes of the host (loop, ram and zram nodes excepted), by the name the host
    gives them, so container lab hosts report their mapped disks under their own names.
"""

EXAMPLES = r"""
- name: Read the storage facts
  cow.storage.docker_storage_info:
  register: __storage

- name: Show the driver and its backing filesystem
  ansible.builtin.debug:
    msg: "{{ __storage.storage.engine.driver }} on {{ __storage.storage.engine.backing_filesystem }}"
"""

RETURN = r"""
storage:
  description: The host's storage facts.
  returned: always
  type: dict
  contains:
    kernel:
      description: Kernel release.
      type: str
      sample: 6.1.0-28-amd64
    filesystems:
      description: Filesystems the running kernel supports now (C(/proc/filesystems)).
      type: list
      elements: str
      sample: [btrfs, ext4, overlay, xfs]
    data_root:
      description: The engine's data root (from the running engine, else the config, else the default).
      type: str
      sample: /var/lib/docker
    data_root_filesystem:
      description: Filesystem type, source and options of the mount that holds the data root.
      type: dict
      sample: {fstype: xfs, source: /dev/vdb, target: /var/lib/docker, options: "rw,relatime"}
    engine:
      description:
        - The engine's storage facts; C(running=false) and a C(reason) when it does not answer.
        - C(backing_filesystem) is the engine's own word where its driver reports one, else the filesystem under the data root.
      type: dict
      sample: {running: true, version: 20.10.24, driver: overlay2, backing_filesystem: xfs, d_type: true, images: 1}
    disks:
      description: Block devices with size in bytes, filesystem type and mount points.
      type: list
      elements: dict
      sample: [{name: vdb, path: /dev/vdb, size: 4294967296, fstype: xfs, mountpoints: [/var/lib/docker]}]
"""

import json
import os
import platform
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cow.storage.plugins.module_utils._docker_daemon import (
    DEFAULT_DATA_ROOT,
    data_root_from_config,
    parse_blkid_export,
    parse_docker_info,
    parse_proc_filesystems,
)
from ansible_collections.cow.storage.plugins.module_utils._runner import Runner

SKIP_PREFIXES = ("loop", "ram", "zram", "nbd")


def read_text(path, default=""):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (IOError, OSError):
        return default


def engine_facts(module, runner):
    if not module.get_bin_path("docker"):
        return {"running": False, "reason": "docker CLI not installed"}
    rc, out, err = runner.run(["docker", "info", "--format", "{{json .}}"], check_rc=False)
    if rc != 0 or not out.strip().startswith("{"):
        lines = (err or out).strip().splitlines()
        return {"running": False, "reason": lines[-1] if lines else "no answer"}
    facts = parse_docker_info(out)
    if not facts["running"]:
        return {"running": False, "reason": "the engine did not answer: %s" % (err.strip() or "no server version")}
    return facts


def mounts(runner):
    rc, out, dummy = runner.run(["findmnt", "-J", "-l", "-n", "-o", "TARGET,SOURCE,FSTYPE,OPTIONS"], check_rc=False)
    return json.loads(out).get("filesystems", []) if rc == 0 and out.strip() else []


def disks(module, runner, mount_list):
    found = []
    for entry in sorted(os.listdir("/dev")):
        path = os.path.join("/dev", entry)
        if entry.startswith(SKIP_PREFIXES):
            continue
        try:
            st = os.stat(path)
        except OSError:
            continue
        if not stat.S_ISBLK(st.st_mode):
            continue
        major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
        sectors = read_text("/sys/dev/block/%d:%d/size" % (major, minor), "0").strip() or "0"
        rc, out, dummy = runner.run(["blkid", "-o", "export", path], check_rc=False)
        ids = parse_blkid_export(out) if rc == 0 else {}
        found.append({
            "name": entry,
            "path": path,
            "size": int(sectors) * 512,
            "fstype": ids.get("TYPE"),
            "uuid": ids.get("UUID"),
            "mountpoints": sorted(m["target"] for m in mount_list if m.get("source") == path),
        })
    return found


def mount_of(path, mount_list):
    best = None
    for m in mount_list:
        target = m["target"]
        if path == target or path.startswith(target.rstrip("/") + "/"):
            if best is None or len(target) > len(best["target"]):
                best = m
    return best


def main():
    module = AnsibleModule(
        argument_spec={"config_path": {"type": "path", "default": "/etc/docker/daemon.json"}},
        supports_check_mode=True,
    )
    runner = Runner(module)
    engine = engine_facts(module, runner)
    if engine.get("running"):
        data_root = engine["data_root"]
    else:
        try:
            data_root = data_root_from_config(read_text(module.params["config_path"]))
        except ValueError:
            data_root = DEFAULT_DATA_ROOT
    mount_list = mounts(runner)
    root_fs = mount_of(data_root, mount_list)
    if engine.get("running") and not engine.get("backing_filesystem") and root_fs:
        # Some drivers (btrfs, zfs) do not report it: it is the filesystem under the data root.
        engine["backing_filesystem"] = root_fs["fstype"]
    module.exit_json(changed=False, storage={
        "kernel": platform.release(),
        "filesystems": parse_proc_filesystems(read_text("/proc/filesystems")),
        "data_root": data_root,
        "data_root_filesystem": root_fs,
        "engine": engine,
        "disks": disks(module, runner, mount_list),
    })


if __name__ == "__main__":
    main()
