#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: docker_storage_info
short_description: Report a container host's storage facts
version_added: 1.0.0
description:
  - "Reads, without changing anything, what decides a host's copy-on-write storage backend: the kernel,
    the filesystems it supports, the container engine's storage driver, image store,
    backing filesystem and d_type, the filesystem under the data root, prior driver data, the block devices,
    and for every storage driver whether it can run here and, if not, why."
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
    hidden:
      description:
        - Data on disk the engine cannot see with the driver it runs (stopped, the one its configuration names) -
          images of another driver's store (by ID, with their driver), containers another driver made, driver
          directories whose images cannot be told, and earlier content of the data root a mount set aside.
      type: dict
      sample: {images: [{name: "cowtest:1", id: "sha256:6adc...", driver: vfs}], containers: [], driver_data: {}, set_aside: []}
    enabled:
      description: Whether the engine starts at boot (null where systemd does not run the host).
      type: bool
      sample: true
    loop_lvm:
      description:
        - Set when the devicemapper data is on loop files (loop-lvm, the engine's default without a thin pool), which is
          not for production; C(message) names the way off it (direct-lvm with on_driver_change=migrate, or overlay2 on
          engines that removed devicemapper). Null otherwise.
      type: dict
      sample: {loop_files: [/var/lib/docker/devicemapper/devicemapper/data, /var/lib/docker/devicemapper/devicemapper/metadata],
               pool: docker-254:1-1180-pool, production: false, message: "devicemapper runs on loop files ..."}
    boot:
      description:
        - What a reboot does to the data root - C(mount), the mount holding it (null on the root filesystem), with
          C(persisted) (fstab or the filesystem itself brings it back) and C(required_by_engine) (docker.service has
          C(RequiresMountsFor=) it, so the engine never starts on the bare directory); C(volatile), the filesystem
          type when a reboot empties it (tmpfs); C(unmounted), fstab lines that put a filesystem on the data root or a
          parent and are not mounted now - the engine then sees the bare directory while that device holds its data.
      type: dict
      sample: {mount: {mount_point: /var/lib/docker, source: /dev/vdb, fstype: xfs, opts: defaults}, persisted: false,
               required_by_engine: false, volatile: null, unmounted: []}
    drift:
      description:
        - What changed in daemon.json's storage keys (C(storage-driver), C(data-root), C(storage-opts)) outside cow.storage
          since M(cow.storage.docker_storage_backend) last converged the host - another tool that rewrote the whole file,
          such as a role writing its own C(daemon.json) - with what was converged (C(then)) and what the engine runs
          now (C(now)); null when nothing changed or nothing was converged yet. Also a warning.
      type: dict
      sample: {keys: {storage-driver: [vfs, null], data-root: [/srv/docker, null]}, since: 1765141200,
               then: {driver: vfs, data_root: /srv/docker}, now: {driver: overlay2, data_root: /var/lib/docker}}
    engine_flags:
      description:
        - daemon.json keys set on dockerd's command line instead (the unit's ExecStart and drop-ins, C(DOCKER_OPTS) in
          C(/etc/default/docker)), each with the flag, its value and the C(file:line) that sets it.
      type: dict
      sample: {data-root: [{flag: --data-root, value: /srv/docker, source: "/etc/systemd/system/docker.service.d/x.conf:3"}]}
    interrupted_change:
      description:
        - A change of M(cow.storage.docker_storage_backend) that was interrupted (its journal), which the next run of that
          module finishes; null when there is none, or while the run that started it is still going.
      type: str
      sample: "docker_storage_backend change started 2026-12-02 12:20:23 by pid 812: ...; steps done: save_images; still to do: ..."
    change_in_progress:
      description: The change a running M(cow.storage.docker_storage_backend) is making now (its journal), or null.
      type: str
      sample: "docker_storage_backend change started 2026-12-08 01:20:23 by pid 912: ...; steps done: none; still to do: stage_images, ..."
    migration_progress:
      description:
        - While a staged migration streams the images into its second engine (and after, until the change ends), how
          far it got - C(images) to move, C(bytes_done) streamed so far, C(bytes_about) the images' size as the engine
          reports it (an estimate of the stream), C(at) the time of the figure (seconds since the epoch).
      type: dict
      sample: {images: 12, bytes_done: 1048576000, bytes_about: 4200000000, at: 1765156800}
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
      contains:
        running:
          description: Whether the engine answers.
          type: bool
        reason:
          description: Why the engine does not answer (its CLI's or socket's words); only when C(running=false).
          type: str
        version:
          description: The engine's version.
          type: str
        driver:
          description: The storage driver (the snapshotter with the containerd image store).
          type: str
        image_store:
          description: V(graphdriver) or V(containerd).
          type: str
        backing_filesystem:
          description: The filesystem under the driver's data, as the engine reports it or as the mount table says.
          type: str
        d_type:
          description: Whether that filesystem supports d_type, as the engine reports it (null when it does not say).
          type: bool
        driver_status:
          description: The driver's own status lines (C(docker info)'s C(DriverStatus)) as a dict.
          type: dict
        data_root:
          description: The engine's data root.
          type: str
        images:
          description: Number of images the engine shows.
          type: int
        containers:
          description: Number of containers the engine shows.
          type: int
        containers_running:
          description: Number of running containers.
          type: int
        security_options:
          description: The engine's security options.
          type: list
          elements: str
        warnings:
          description: The engine's own warnings about its configuration.
          type: list
          elements: str
    d_type:
      description: Whether the filesystem under the data root supports d_type (null when unknown).
      type: bool
      sample: true
    prior_driver_data:
      description: Storage driver directories under the data root that hold data, with their size in bytes.
      type: dict
      sample: {overlay2: {path: /var/lib/docker/overlay2, size: 1048576, entries: 3, layers: 2}}
    drivers:
      description:
        - Each storage driver with C(supported) and the C(reasons) it cannot run on this host now (the checks
          cow.storage.docker_storage_backend makes before changing anything), and C(auto), the driver the
          engine's own order would choose here, with the reason.
      type: dict
      sample: {overlay2: {supported: true, reasons: []}, btrfs: {supported: false, reasons: ["driver: btrfs needs its data root on btrfs"]}}
    disks:
      description: Block devices with size in bytes, filesystem type and mount points.
      type: list
      elements: dict
      sample: [{name: vdb, path: /dev/vdb, size: 4294967296, fstype: xfs, uuid: 0c3e9a6e-..., mountpoints: [/var/lib/docker]}]
      contains:
        name:
          description: The kernel's name of the device.
          type: str
        path:
          description: Its device node.
          type: str
        size:
          description: Its size in bytes.
          type: int
        fstype:
          description: The filesystem (or other signature) it carries, null when blank.
          type: str
        uuid:
          description: That filesystem's UUID, null when it has none.
          type: str
        mountpoints:
          description: Where it is mounted.
          type: list
          elements: str
"""

import json
import os
import platform
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cow.storage.plugins.module_utils._docker.host import Host, journal_name
from ansible_collections.cow.storage.plugins.module_utils._docker.parse import parse_blkid_export
from ansible_collections.cow.storage.plugins.module_utils._docker.dataroot import require_mount_text
from ansible_collections.cow.storage.plugins.module_utils._files import read_text
from ansible_collections.cow.storage.plugins.module_utils._docker.plan import hidden_now
from ansible_collections.cow.storage.plugins.module_utils._docker.drivers import DRIVERS, loop_lvm, resolve_auto
from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal
from ansible_collections.cow.storage.plugins.module_utils._runner import Runner
from ansible_collections.cow.storage.plugins.module_utils._txn import HostLock, Journal, drift, drift_text, read_converged, summary

SKIP_PREFIXES = ("loop", "ram", "zram", "nbd")


def mounts(runner):
    rc, out, dummy = runner.run(["findmnt", "-J", "-l", "-n", "-o", "TARGET,SOURCE,FSTYPE,OPTIONS"], check_rc=False)
    return json.loads(out).get("filesystems", []) if rc == 0 and out.strip() else []


def disks(runner, mount_list):
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
        try:
            sectors = int(read_text("/sys/dev/block/%d:%d/size" % (os.major(st.st_rdev), os.minor(st.st_rdev))).strip() or 0)
        except (IOError, OSError, ValueError):
            sectors = 0
        rc, out, dummy = runner.run(["blkid", "-o", "export", path], check_rc=False)
        ids = parse_blkid_export(out) if rc == 0 else {}
        found.append({
            "name": entry,
            "path": path,
            "size": sectors * 512,
            "fstype": ids.get("TYPE"),
            "uuid": ids.get("UUID"),
            "mountpoints": sorted(m["target"] for m in mount_list if (m.get("source") or "").split("[")[0] == path),
        })
    return found


def driver_support(observed):
    """Each storage driver: can it run on this host now, and if not, why (the checks of docker_storage_backend)."""
    support = {}
    for name in sorted(DRIVERS):
        problems = DRIVERS[name]().check(observed, {"driver": name, "options": None, "data_root": observed["target_data_root"]})
        support[name] = {"supported": not problems, "reasons": problems}
    try:
        choice, why = resolve_auto(observed, {"driver": "auto", "options": None, "data_root": observed["target_data_root"]})
        support["auto"] = {"driver": choice, "reason": why}
    except Refusal as exc:
        support["auto"] = {"driver": None, "reason": str(exc)}
    return support


def boot_report(boot, data_root):
    """The boot facts without the drop-in's text: whether docker.service requires the data root's mount."""
    dropin = boot.get("dropin") or {}
    out = dict((k, v) for k, v in boot.items() if k not in ("dropin", "fstab_path"))
    out["required_by_engine"] = bool(dropin.get("text") and dropin["text"] == require_mount_text(data_root))
    return out


def main():
    module = AnsibleModule(
        argument_spec={"config_path": {"type": "path", "default": "/etc/docker/daemon.json"}},
        supports_check_mode=True,
    )
    runner = Runner(module)
    try:
        host = Host(module, runner, {"config_path": module.params["config_path"], "data_root": None, "options": None,
                                     "read_only": True})
        observed = host.observe()
        pending = Journal(journal_name(module.params["config_path"])).load()
    except (Refusal, ValueError) as exc:
        module.fail_json(msg=str(exc))
    # a journal whose run still holds the host's lock is a change in progress, not an interrupted one
    holder = HostLock("docker_storage_info").holder() if pending else {}
    running = bool(pending and holder.get("pid") == pending.get("pid") and os.path.exists("/proc/%s" % holder.get("pid")))
    engine = observed["engine"]
    data_root = observed["target_data_root"]
    mount_list = mounts(runner)
    root_fs = host.mount_of(data_root) or None
    if engine.get("running") and not engine.get("backing_filesystem") and root_fs:
        # Some drivers (btrfs, zfs) do not report it: it is the filesystem under the data root.
        engine["backing_filesystem"] = root_fs["fstype"]
    drifted = drift(read_converged(journal_name(module.params["config_path"])), observed["config"], engine)
    if drifted:
        module.warn(drift_text(drifted, module.params["config_path"]))
    boot = observed.get("boot") or {}
    for line in boot.get("unmounted") or []:
        module.warn("fstab mounts %s (%s) on %s, which is not mounted: the engine sees the bare directory beneath %s while "
                    "that device holds its data" % (line["source"], line["fstype"], line["mount_point"], data_root))
    if boot.get("volatile"):
        module.warn("the data root %s is on %s: a reboot empties it" % (data_root, boot["volatile"]))
    module.exit_json(changed=False, storage={
        "kernel": platform.release(),
        "filesystems": observed["filesystems"],
        "data_root": data_root,
        "data_root_filesystem": root_fs,
        "d_type": observed["d_type"],
        "engine": engine,
        "prior_driver_data": observed["prior"],
        "hidden": hidden_now(observed),
        "enabled": observed["enabled"],
        "interrupted_change": None if running else summary(pending),
        "change_in_progress": summary(pending) if running else None,
        "migration_progress": (pending or {}).get("progress"),
        "boot": boot_report(observed.get("boot") or {}, data_root),
        "engine_flags": observed.get("engine_flags") or {},
        "drift": drifted,
        "loop_lvm": loop_lvm(observed),
        "drivers": driver_support(observed),
        "disks": disks(runner, mount_list),
    })


if __name__ == "__main__":
    main()
