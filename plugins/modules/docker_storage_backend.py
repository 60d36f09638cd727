#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: docker_storage_backend
short_description: Choose the Docker Engine storage driver safely
version_added: 1.0.0
description:
  - Sets the engine's storage driver, its options, data root and image store in C(daemon.json), merging only those
    keys and keeping every other one.
  - Checks the host before changing anything (kernel filesystem support, backing filesystem and d_type of the data
    root, thin pool, drivers removed from the engine, xfs project quota for size options, accepted options).
  - Never hides images silently; O(on_driver_change) decides what happens to the images and containers of the current
    driver. Hidden data is a state, not only a transition; images on disk in another driver's store are found from the
    engine's own image store on disk, whether the engine runs or not, and V(fail) refuses to start or switch the engine
    while it would not see them.
  - The unit of safety is the host's data, not only its images - images (tagged and untagged), named volumes and
    containers. Every plan, refusal, check-mode prediction and result names each item a change moves out of the
    engine's view, where it ends up and how to reach it again (RV(storage.out_of_view)), and each kind is a warning.
  - Boot is part of the change. A data root on a mount that fstab would not bring back gets its fstab line, and
    docker.service gets C(RequiresMountsFor=) the data root (a drop-in), so a reboot never starts the engine on the
    bare directory beneath its data; an fstab line for the data root that is not mounted, and a data root on tmpfs
    (without O(allow_volatile)), are refused before any change.
  - Nothing it writes or reads lies where another user could plant or swap it - the lock, the journal and the
    migration archive live in directories only root can use, and a O(migrate_path) another user controls is refused.
  - Every change is a journaled transaction (C(/var/lib/cow-storage/journal/)); a run killed at any point is finished by
    the next run (or undone, when the engine does not start on the new configuration), never reported as nothing to do.
    One run per host at a time (C(/run/cow-storage/lock), in a directory only root can use); a second run is refused, naming the holder.
  - Validates the new file where the engine can (C(dockerd --validate), Docker Engine 23.0 and later), writes it
    atomically, restarts the engine, waits for it and verifies the effective driver. If the engine does not come back,
    the previous file is restored, the engine restarted, and the module fails with C(rolled_back=true) and the engine's
    own error.
author: cow.storage developers (@cow-storage)
options:
  driver:
    description:
      - The storage driver.
      - V(auto) follows the engine's own priority order for its version, restricted to the drivers this host supports,
        and keeps prior driver data the way the engine does (one driver directory with data under the data root wins;
        several make the engine refuse to start). The chosen driver is written explicitly and the reason returned.
      - The priority lists, removed and deprecated drivers per engine release are read from moby's sources (the tag and
        file are cited in C(plugins/module_utils/_docker/engines.py)). Docker Engine 20.10 tries deprecated drivers in its
        automatic choice, 23.0 and later skip them; 23.0 and 24.0 refuse to start on prior data of a deprecated driver
        that is not configured.
      - V(aufs) and V(overlay) are refused with the release that removed them (Docker Engine 24.0) and their replacement;
        V(devicemapper) is refused on Docker Engine 25.0 and later (use the containerd image store's devmapper
        snapshotter there).
    type: str
    required: true
    choices: [overlay2, fuse-overlayfs, btrfs, zfs, vfs, devicemapper, aufs, overlay, auto]
  image_store:
    description:
      - V(graphdriver) stores images with the classic graph driver. From Docker Engine 29, where the containerd image
        store is the default, C(features.containerd-snapshotter=false) is written when the driver's name would otherwise
        be read as a containerd snapshotter (C(zfs), C(fuse-overlayfs)).
      - V(containerd) uses the containerd image store (the driver's snapshotter, for example C(overlayfs) for
        C(overlay2)) and writes C(features.containerd-snapshotter=true); Docker Engine 24.0 or later.
      - When omitted, the host keeps the image store it has - the one the running engine uses, else the one its
        configuration or its release's default gives (Docker Engine 29 and later start on the containerd image store
        unless graph driver data is under the data root) - so a host is never moved between the two silently.
        RV(storage.requested_driver.image_store_reason) says which.
    type: str
    choices: [graphdriver, containerd]
  options:
    description:
      - "Storage options (C(storage-opts)) as a dict, for example C(overlay2.size: 10G) or C(dm.thinpooldev: /dev/mapper/docker-thinpool)."
      - Each driver accepts its own options only; an empty dict removes C(storage-opts).
      - When omitted, existing C(storage-opts) are kept if the driver accepts them, otherwise the module refuses.
    type: dict
  data_root:
    description:
      - The engine's data root (C(data-root)); an absolute path. When omitted the current one is kept.
      - Refused when it exists as something other than a directory, lies inside the current data root, or (overlay2)
        contains C(:) or C(,).
    type: path
  mount:
    description:
      - A filesystem to mount on the data root (a dedicated device), as part of the same change.
      - Whatever the data root holds now would be shadowed by the mount, so this is a driver change in disguise and
        follows O(on_driver_change). V(fail) lists what would be hidden; V(migrate) saves the images first;
        V(preserve) and V(migrate) move the old content to C(<data_root>.cow-storage-old) (reachable, returned as
        RV(storage.moved_aside)); V(wipe) removes it.
      - The engine is stopped while the filesystem is mounted; the mount is persisted in O(mount.fstab). The checks of
        the driver (backing filesystem, d_type, quota options) run against this filesystem, not the one it covers.
      - The device must carry the filesystem already (for example made with M(community.general.filesystem)), or
        O(mount.mkfs) makes it.
    type: dict
    version_added: 1.0.0
    suboptions:
      src:
        description: The device (an absolute path; C(/dev/disk/by-id/...) links are followed when comparing).
        type: path
        required: true
      fstype:
        description: Its filesystem type, for example V(xfs) or V(btrfs).
        type: str
        required: true
      opts:
        description: Mount options, for example V(defaults,pquota) or V(subvol=@docker).
        type: str
        default: defaults
      fstab:
        description: The fstab file that persists the mount.
        type: path
        default: /etc/fstab
      mkfs:
        description:
          - Make the filesystem O(mount.fstype) (V(xfs), V(btrfs) or V(ext4)) on O(mount.src) when the device does not
            carry it, as a step of the same journaled change - after every check of the plan passed and the images
            were saved, before the engine stops. A device that carries it already is never formatted again.
          - A device that is mounted or held (by device-mapper, md, a partition in use) is refused, always; one with
            any other signature is refused unless O(mount.wipe_signatures). The plan reads it with
            C(wipefs --no-act), in check mode too.
          - For V(xfs), C(-n ftype=1) is added (d_type, which overlay2 needs) unless O(mount.mkfs_opts) sets C(ftype).
          - A run killed inside mkfs is finished by the next one, which makes the filesystem again. A rollback does
            not undo it (the device held nothing, or what it held was given up).
        type: bool
        default: false
        version_added: 1.0.0
      mkfs_opts:
        description:
          - Further options for C(mkfs.<fstype>), for example C(-L docker) (with O(mount.mkfs)).
          - Parsed into an allow-list per filesystem (labels, sizes, features, profiles; for C(key=value) lists such
            as xfs C(-m) or ext4 C(-E), the keys that shape the filesystem). A device or path, a positional word, a
            force flag or any other flag is refused before any change, naming the word, so these options can never
            format or read anything but O(mount.src).
        type: str
        default: ""
        version_added: 1.0.0
      wipe_signatures:
        description:
          - With O(mount.mkfs), erase the signatures O(mount.src) carries (another filesystem, a partition table, an
            LVM label) with C(wipefs --all) and make the filesystem anyway. What the device held is lost.
        type: bool
        default: false
        version_added: 1.0.0
  config_path:
    description:
      - The engine's daemon configuration. It must hold a JSON object when it exists.
      - An absolute path; a symlink is followed and its target rewritten (the link stays). Directories, read-only files
        and read-only filesystems are refused before any change, in check mode too.
    type: path
    default: /etc/docker/daemon.json
  backup:
    description:
      - Keep a copy of the previous O(config_path) next to it (C(daemon.json.<pid>.<date>~)), as M(ansible.builtin.copy)
        does, and of O(mount.fstab) when the mount is persisted.
    type: bool
    version_added: 1.0.0
    default: false
  migrate_path:
    description:
      - With O(on_driver_change=migrate), the directory under which the images are saved between the two drivers, in a
        directory made for the change (C(mkdtemp), 0700, root's); the image identities to verify are kept in the
        root-only journal, never beside the archive. The archive is removed once every image ID is verified in the
        new store; an interrupted run keeps it and the next run resumes from it.
      - Refused before any change when it, or any parent (a symlink's target too), is owned by another user than
        root or writable by another user (sticky directories such as C(/tmp) included), when it is not a directory,
        or when it lies inside a data root the change covers or hands to another driver.
    type: path
    version_added: 1.0.0
    default: /var/lib/cow-storage/migrate
  migrate_method:
    description:
      - How O(on_driver_change=migrate) moves the images.
      - V(auto) stages the new store while the engine serves where it can, a switch between the graph drivers
        C(overlay2), C(vfs) and C(btrfs) on the same data root, with C(dockerd) on the host and no data of the new
        driver there yet. A second engine (its own socket, exec root and empty configuration, under
        C(/run/cow-storage/stage)) on the data root's own filesystem receives C(docker save) of the running engine
        streamed into its C(docker load) (no archive file), and every image ID is verified there; images tagged
        meanwhile are caught up once. Then the engine stops, the staged store is renamed into the data root (no copy),
        the configuration is written and the engine starts on it, so the images are unavailable for that restart only.
        The IDs are verified again; a difference rolls the whole change back (the previous driver's store is never
        touched). Elsewhere (a mount, a new data root, devicemapper's pool, zfs, fuse-overlayfs, the containerd image
        store) it saves an archive, as V(archive) does, and C(storage.migration.path) in the result, with its reason, says which.
      - V(archive) saves the images to an archive under O(migrate_path), switches, and loads them.
    type: str
    choices: [auto, archive]
    default: auto
    version_added: 1.0.0
  enabled:
    description: Enable the engine at boot (C(systemctl enable docker.service)), so that a reboot keeps the state.
    type: bool
    version_added: 1.0.0
    default: true
  allow_volatile:
    description:
      - Accept a data root on a filesystem a reboot empties (C(tmpfs), C(ramfs)). Without it such a data root is
        refused before any change, naming the filesystem, since every image, container and volume would be lost.
    type: bool
    default: false
    version_added: 1.0.0
  timeout:
    description: Seconds to wait for the engine to stop or to answer after a (re)start.
    type: int
    version_added: 1.0.0
    default: 90
  on_driver_change:
    description:
      - What to do when the change would hide images or containers (the engine only sees the data of its current driver).
      - V(fail) changes nothing and lists the images and containers that would be hidden.
      - V(preserve) switches; the old driver's data stays on disk (path and size returned).
      - V(migrate) saves every tagged image, switches, loads them and verifies their image IDs. Named volumes that a
        mount or a new O(data_root) would leave behind are carried into the new data root (renamed on one filesystem;
        else copied, verified by a sha256 over the whole tree, the original kept). Containers and untagged images are
        not migrated - each is named in RV(storage.out_of_view) with where its data stays; running containers make it
        refuse unless O(stop_containers=true).
      - V(wipe) removes every container and image of the current driver, then switches; needs O(force=true). With
        O(mount), the earlier content of the data root is removed too, named volumes included (each named in the plan).
    type: str
    default: fail
    choices: [fail, preserve, migrate, wipe]
  stop_containers:
    description: With O(on_driver_change=migrate), stop running containers instead of refusing.
    type: bool
    default: false
  force:
    description: Allows O(on_driver_change=wipe).
    type: bool
    default: false
  restart:
    description:
      - Restart the engine when the configuration changed (start it when it is stopped), wait for it and verify the driver.
      - With V(false) the new file is written and the engine keeps its driver until its next restart.
    type: bool
    default: true
  validate:
    description: Validate the new file with C(dockerd --validate --config-file) before writing it, where the engine has it (23.0+).
    type: bool
    default: true
extends_documentation_fragment:
  - cow.storage.attributes
  - cow.storage.attributes.HOST_LOCK
attributes:
  check_mode:
    support: full
    details:
      - The module plans every change before applying any; in check mode the plan is returned as C(actions).
  diff_mode:
    support: full
    details: The diff is C(daemon.json) before and after.
  idempotent:
    support: full
notes:
  - The engine is restarted with C(systemctl) when systemd runs the host, else with C(service).
  - "Test-only fail points: with C(COW_STORAGE_FAILPOINT=<step>:<before|after>) in the module's environment the module exits
    at once (as SIGKILL would) before or after the named step (an RV(actions) name); the test suite uses them to prove
    that the next run finishes the change. Never set it in production."
  - Storage flags given to dockerd on its command line (C(-s), C(--data-root)) are not read; they conflict with C(daemon.json).
  - A change to a driver without copy-on-write (V(vfs)) warns, since every container start copies the whole image.
seealso:
  - module: cow.storage.docker_storage_info
"""

EXAMPLES = r"""
- name: Overlay2, moving the images of the current driver
  cow.storage.docker_storage_backend:
    driver: overlay2
    on_driver_change: migrate

- name: Let the engine's own order decide, on a fresh host
  cow.storage.docker_storage_backend:
    driver: auto
  register: __backend

- name: Devicemapper on an existing thin pool (Docker Engine before 25.0)
  cow.storage.docker_storage_backend:
    driver: devicemapper
    options:
      dm.thinpooldev: /dev/mapper/docker-thinpool
      dm.use_deferred_removal: "true"
      dm.use_deferred_deletion: "true"

- name: Overlay2 on a dedicated blank disk, formatted xfs (ftype=1) and mounted on the data root in one change
  cow.storage.docker_storage_backend:
    driver: overlay2
    mount:
      src: /dev/disk/by-id/nvme-eui.0025385b71b0e1a2
      fstype: xfs
      mkfs: true

- name: Plan only
  cow.storage.docker_storage_backend:
    driver: btrfs
    on_driver_change: preserve
  check_mode: true
  diff: true
"""

RETURN = r"""
storage:
  description: The storage of the engine after the run (predicted in check mode).
  returned: always
  type: dict
  contains:
    driver:
      description: Effective driver (the snapshotter with the containerd image store).
      type: str
      sample: overlay2
    requested_driver:
      description: The driver and image store the module chose, and why (C(auto) and an omitted O(image_store) resolve here).
      type: dict
      sample: {name: overlay2, reason: requested, image_store: graphdriver,
               image_store_reason: "kept: the engine runs the graphdriver image store"}
      contains:
        name:
          description: The driver.
          type: str
        reason:
          description: Why (V(requested), or how C(auto) chose it).
          type: str
        image_store:
          description: The image store, V(graphdriver) or V(containerd).
          type: str
        image_store_reason:
          description: Why (V(requested), kept from the engine or its configuration, or the release's default).
          type: str
    target_driver:
      description:
        - The name the engine reports once it runs what was asked (RV(storage.requested_driver), or its containerd
          snapshotter with O(image_store=containerd), e.g. C(overlayfs) for C(overlay2)); a health check compares
          RV(storage.driver) with it.
      type: str
      sample: overlay2
    image_store:
      description: V(graphdriver) or V(containerd).
      type: str
      sample: graphdriver
    engine_version:
      description: The engine's version.
      type: str
      sample: 20.10.24+dfsg1
    running:
      description: Whether the engine answers.
      type: bool
      sample: true
    backing_filesystem:
      description: Filesystem type under the data root.
      type: str
      sample: xfs
    mount_options:
      description: Mount options of the filesystem under the data root.
      type: list
      elements: str
      sample: [rw, relatime, noquota]
    d_type:
      description: Whether that filesystem supports d_type (null when unknown).
      type: bool
      sample: true
    data_root:
      description: The data root.
      type: str
      sample: /var/lib/docker
    prior_driver_data:
      description:
        - Driver directories under the data root that are not empty, with their path, size in bytes, number of entries
          (what the engine counts as prior driver data) and number of layers (image and container data).
      type: dict
      sample: {vfs: {path: /var/lib/docker/vfs, size: 1245184, entries: 1, layers: 1}}
    images:
      description: Number of images the engine shows.
      type: int
      sample: 1
    containers:
      description: Number of containers the engine shows.
      type: int
      sample: 0
    validation:
      description: How the new file was validated, or why not.
      type: str
      sample: "skipped: dockerd 20.10.24+dfsg1 has no --validate (added in Docker Engine 23.0)"
    restarted:
      description: Whether the engine was (re)started.
      type: bool
      sample: true
    rolled_back:
      description: Whether the previous file was restored after the engine failed to start.
      type: bool
      sample: false
    migration:
      description:
        - With O(on_driver_change=migrate), the images saved and loaded with their IDs, and whether all IDs match.
        - C(volumes) - the volumes carried into the new data root (a mount on it, or a new O(data_root)), each with
          where from, where to and how (renamed on one filesystem; else copied and verified by a sha256 over the
          whole tree, the original kept).
        - C(containers_left_behind) - the containers the change leaves out of view (as RV(storage.out_of_view)).
        - C(path) - V(staged) (a second engine built the new store while the engine served, see O(migrate_method)) or
          V(archive); C(why) - the reason for that path; C(streamed_bytes) - what the staged path streamed;
          C(old_store) - what the staged path does with the previous driver's store (removed once every image is
          verified, or kept and why); C(old_store_removed) and C(reclaimed_bytes) - what it removed.
      type: dict
      sample: {images: [{name: "cowtest:1", id: "sha256:0d3e..."}], verified: true, path: staged,
               why: "a second engine on /var/lib/docker builds the overlay2 store while the engine serves; ...",
               volumes: [{name: probevol, from: /var/lib/docker.cow-storage-old/volumes/probevol,
                          to: /var/lib/docker/volumes/probevol, how: "copied, verified (sha256 ...)"}],
               containers_left_behind: []}
    out_of_view:
      description:
        - Every item of the host's data that the change leaves out of the engine's view (check mode - would leave),
          by kind - C(images) (untagged ones under migrate, every one under preserve), C(containers) (never
          migrated), C(volumes) (with a mount or a new O(data_root), unless migrate carries them) - each with its
          C(fate) (V(hidden), kept on disk, or V(deleted) by wipe), C(where) it ends up and C(how) to reach it again.
        - Each non-empty kind is also a warning.
      type: dict
      sample: {images: [], volumes: [],
               containers: [{name: svc, id: "4f1c...", state: running, fate: hidden,
                             where: /var/lib/docker.cow-storage-old/containers/4f1c..., how: "containers are not migrated: ..."}]}
    preserved:
      description: With O(on_driver_change=preserve), the old driver data left on disk.
      type: dict
      sample: {vfs: {path: /var/lib/docker/vfs, size: 1245184, entries: 1, layers: 1}}
    moved_aside:
      description:
        - With O(mount), where the previous content of the data root was moved (a dict).
        - When devicemapper moves to another pool (loop-lvm to direct-lvm), a list of two such dicts - the old pool's
          data (its loop files) and its image store.
      type: raw
      sample: {path: /var/lib/docker, to: /var/lib/docker.cow-storage-old}
    enabled:
      description: Whether the engine starts at boot (null where systemd does not run the host).
      type: bool
      sample: true
    hidden:
      description:
        - Data on disk that the engine cannot see (a state, reported on every run) - images of another driver's store
          (by ID, with their driver), containers another driver made, driver directories whose images cannot be told,
          and earlier content of the data root that a mount set aside (C(<data_root>.cow-storage-old)), until removed.
      type: dict
      sample: {images: [{name: "cowtest:1", id: "sha256:6adc...", driver: vfs}], containers: [], driver_data: {}, set_aside: []}
    interrupted_change:
      description: In check mode, the interrupted change the next run will finish.
      type: str
      returned: when a journal is pending
recovered:
  description: The interrupted change this run found in the journal, and what it did with it (finished or dropped).
  returned: when the journal held an interrupted change
  type: dict
  sample: {journal: "docker_storage_backend change started ...", outcome: finished}
backup_file:
  description: The copy of the previous O(config_path) (O(backup=true)).
  returned: when a backup was made
  type: str
  sample: /etc/docker/daemon.json.2345.2026-12-02@12:00:00~
fstab_backup_file:
  description: The copy of the previous O(mount.fstab) (O(backup=true)).
  returned: when a backup was made
  type: str
  sample: /etc/fstab.2345.2026-12-02@12:00:00~
actions:
  description: The actions taken, or planned in check mode, in order.
  returned: always
  type: list
  elements: dict
  sample:
    - {action: write_config, description: "write /etc/docker/daemon.json (~storage-driver)"}
    - {action: restart, description: restart the engine and verify it runs overlay2}
missing_tools:
  description:
    - The programs the requested backend needs on this host that it lacks - the engine's (C(fuse-overlayfs), C(zfs)),
      the dedicated device's preparation when O(mount) is given (C(mkfs.xfs); C(btrfs) and C(mkfs.btrfs)) and
      C(mkfs.<fstype>) for O(mount.mkfs). A role installs them before it prepares anything, without a probe of its own.
  returned: success, and failure after the host was read
  type: list
  elements: str
  sample: [mkfs.xfs]
would_hide:
  description: With O(on_driver_change=fail), the images, containers and stopped-engine driver data a switch would hide.
  returned: failure
  type: dict
  sample: {images: [{name: "cowtest:1", id: "sha256:6adc..."}], containers: [{name: stopped1, state: exited}], driver_data: {}}
engine_error:
  description: The engine's own start error (journal tail) when it did not come back.
  returned: failure
  type: str
  sample: 'failed to start daemon: error initializing graphdriver: strconv.ParseBool: parsing "maybe": invalid syntax'
journal:
  description: The engine's service journal since the failed (re)start, for the rollback's failure.
  returned: failure, when the engine did not come back
  type: str
  sample: "Starting docker.service - Docker Application Container Engine...\nfailed to start daemon: ..."
rolled_back:
  description: Whether the change was undone step by step and the engine brought back on its previous configuration.
  returned: failure, after a rollback
  type: bool
  sample: true
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cow.storage.plugins.module_utils._docker.change import STEPS, Change, validation_refusal
from ansible_collections.cow.storage.plugins.module_utils._docker.host import Host, journal_name
from ansible_collections.cow.storage.plugins.module_utils._docker.plan import (
    DEFAULT_MIGRATE_PATH,
    hidden_after,
    missing_tools,
    plan,
    render_config,
    validation_note,
)
from ansible_collections.cow.storage.plugins.module_utils._docker.drivers import CHOICES, DRIVERS
from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal, require_absolute
from ansible_collections.cow.storage.plugins.module_utils._runner import Converge
from ansible_collections.cow.storage.plugins.module_utils._txn import (
    Journal,
    converged_record,
    read_converged,
    summary,
    write_converged,
)

ARGUMENT_SPEC = dict(
    driver=dict(type="str", required=True, choices=CHOICES),
    image_store=dict(type="str", choices=["graphdriver", "containerd"]),
    options=dict(type="dict"),
    data_root=dict(type="path"),
    mount=dict(type="dict", options=dict(
        src=dict(type="path", required=True),
        fstype=dict(type="str", required=True),
        opts=dict(type="str", default="defaults"),
        fstab=dict(type="path", default="/etc/fstab"),
        mkfs=dict(type="bool", default=False),
        mkfs_opts=dict(type="str", default=""),
        wipe_signatures=dict(type="bool", default=False),
    )),
    config_path=dict(type="path", default="/etc/docker/daemon.json"),
    on_driver_change=dict(type="str", default="fail", choices=["fail", "preserve", "migrate", "wipe"]),
    migrate_path=dict(type="path", default=DEFAULT_MIGRATE_PATH),
    migrate_method=dict(type="str", default="auto", choices=["auto", "archive"]),
    stop_containers=dict(type="bool", default=False),
    force=dict(type="bool", default=False),
    restart=dict(type="bool", default=True),
    enabled=dict(type="bool", default=True),
    validate=dict(type="bool", default=True),
    backup=dict(type="bool", default=False),
    timeout=dict(type="int", default=90),
    allow_volatile=dict(type="bool", default=False),
)


def normalise(params):
    out = dict(params)
    if params.get("data_root"):
        out["data_root"] = os.path.normpath(params["data_root"])
    if params.get("options") is not None:
        out["options"] = dict((str(k).strip().lower(), None if v is None else str(v).strip())
                              for k, v in params["options"].items())
    return out


def describe(observed, engine, facts, params):
    """One description of the storage, used for the result before and after the run."""
    running = bool(engine.get("running"))
    hidden = facts.get("hidden") or {}
    return {
        "driver": engine.get("driver") if running else None,
        "requested_driver": {"name": facts.get("driver"), "reason": facts.get("reason"),
                             "image_store": facts.get("image_store"), "image_store_reason": facts.get("image_store_reason")},
        "target_driver": (facts.get("target") or [None])[0],
        "image_store": engine.get("image_store") if running else None,
        "engine_version": observed.get("version"),
        "running": running,
        "enabled": observed.get("enabled"),
        "backing_filesystem": observed.get("backing_fs"),
        "mount_options": observed.get("mount_options"),
        "d_type": observed.get("d_type"),
        "data_root": engine.get("data_root") if running else observed.get("target_data_root"),
        "prior_driver_data": observed.get("prior"),
        "hidden": {"images": hidden.get("images") or [], "containers": hidden.get("containers") or [],
                   "driver_data": hidden.get("driver_data") or {}, "set_aside": hidden.get("set_aside") or []},
        "images": engine.get("images", 0) if running else 0,
        "containers": engine.get("containers", 0) if running else 0,
        "validation": validation_note(params, observed),
        "restarted": False,
        "rolled_back": False,
    }


def check_params(module, params):
    for name in ("config_path", "migrate_path", "data_root"):
        require_absolute(name, params.get(name))
    if params["timeout"] <= 0:
        raise Refusal("timeout: %d must be a positive number of seconds" % params["timeout"])


def finish_pending(module, host, journal, params):
    """An interrupted change is finished (or undone) before anything else; in check mode it is reported, with the
    storage as it is now."""
    pending = journal.load()
    if not pending:
        return None
    text = summary(pending)
    if module.check_mode:
        resume = {"action": "resume", "description": "finish the interrupted change: %s" % text}
        try:
            observed = host.observe()
            engine = observed["engine"]
            storage = describe(observed, engine, {"target": pending.get("target")}, params)
        except Refusal:
            engine = host.engine()
            storage = {"running": bool(engine.get("running")), "driver": engine.get("driver"), "restarted": False,
                       "rolled_back": False}
        storage.update(interrupted_change=text, target_driver=(pending.get("target") or [None])[0])
        module.exit_json(changed=True, interrupted_change=text, actions=[resume], storage=storage)
    result = {"changed": True, "storage": {"restarted": False, "rolled_back": False}, "interrupted_change": text}
    return Change(module, host, journal, result).resume()


class DockerConverge(Converge):
    """The converge protocol with the Docker family's journaled change as its ``apply``: an interrupted change is
    recovered first (``finish_pending``), and the plan runs through :class:`Change` (journal, fail points, rollback)."""

    lock = "docker_storage_backend"

    def __init__(self, module):
        super().__init__(module)
        self.params = normalise(module.params)
        self.host = Host(module, self.runner, self.params)
        self.journal = Journal(journal_name(self.params["config_path"]))
        self.facts = None
        self.out = None

    def check(self):
        check_params(self.module, self.params)

    def recover(self):
        try:
            return finish_pending(self.module, self.host, self.journal, self.params)
        except ValueError as exc:
            raise Refusal("%s; nothing was changed: read it, then remove it by hand" % exc) from None

    def observe(self):
        return self.host.observe()

    def plan(self, current):
        module, params = self.module, self.params
        actions, facts = plan(current, params)
        self.facts = facts
        before_text = current["config_text"]
        if module.check_mode and any(a.kind == "validate" for a in actions):
            # check mode tells the truth: a configuration the engine rejects is refused here as the run would refuse it
            refusal = validation_refusal(self.runner, self.predict(current, before_text, actions), current["config_real_path"],
                                         before_text if current["config_exists"] else None)
            if refusal:
                raise Refusal(refusal, actions=[a.to_dict() for a in actions])
        storage = describe(current, current["engine"], facts, params)
        storage["out_of_view"] = facts["out_of_view"]
        if module.check_mode and actions:
            target = facts["target"]
            storage.update({"driver": target[0], "image_store": target[1], "data_root": target[2],
                            "running": bool(params["restart"] or current["engine"].get("running")), "restarted": False})
            if facts["mounting"]:
                storage.update(backing_filesystem=current["backing_fs"], prior_driver_data={})
            for action in actions:  # what each step leaves, from the step table (restart: restarted, enable_engine: enabled)
                storage.update(STEPS[action.kind].predict)
        if facts["switching"] and params["on_driver_change"] == "preserve":
            storage["preserved"] = dict((k, v) for k, v in current["prior"].items() if k == current["engine"].get("driver"))
        if facts.get("migration_path"):
            moving = next((a.args["images"] for a in actions if a.kind in ("stage_images", "save_images")), [])
            storage["migration"] = {"images": moving, "verified": False, "containers_left_behind": [],
                                    "path": facts["migration_path"]["path"], "why": facts["migration_path"]["why"]}
            if facts["migration_path"].get("old_store"):
                storage["migration"]["old_store"] = facts["migration_path"]["old_store"]
        # the result a failed step reports too (Change fills in what it did)
        self.out = {"changed": bool(actions) or bool(self.recovered), "actions": [a.to_dict() for a in actions],
                    "storage": storage, "missing_tools": facts["missing_tools"],
                    "diff": self.diff(before_text, self.predict(current, before_text, actions))}
        if self.recovered:
            self.out["recovered"] = self.recovered
        return actions

    def refused(self, exc, current):
        details = dict(exc.details)
        if current is not None and self.params["driver"] != "auto":
            details.setdefault("missing_tools", missing_tools(current, self.params))
        return details

    def describe(self, current):
        return current["config_text"]

    def predict(self, current, before, actions):
        return render_config(self.facts["config"]) if self.facts["config_changes"] else before

    def apply(self, current, actions):
        Change(self.module, self.host, self.journal, self.out).run(actions, Change.record(current, actions, self.params, self.facts))

    def diff(self, before, after):
        path = self.params["config_path"]
        return {"before": before, "after": after, "before_header": path, "after_header": path}

    def result(self, current, final, actions, after):
        module, params, facts, out = self.module, self.params, self.facts, self.out
        storage = out["storage"]
        if actions and not module.check_mode:
            fresh = describe(final, final["engine"], dict(facts, hidden=hidden_after(final, params, facts["target"], facts["driver"])), params)
            for key in ("restarted", "migration", "preserved", "moved_aside", "out_of_view"):
                if key in storage:
                    fresh[key] = storage[key]
            if "migration" in fresh:
                fresh["migration"]["containers_left_behind"] = facts["out_of_view"]["containers"]
            if facts["switching"] and params["on_driver_change"] == "preserve":
                fresh["preserved"] = dict((k, v) for k, v in final["prior"].items() if k == current["engine"].get("driver"))
            out["storage"] = fresh
        if not module.check_mode:
            remember_converged(params, final["config"], final["engine"])
        out["diff"] = self.diff(current["config_text"], after)
        if facts["config_changes"] and not params["restart"]:
            module.warn("%s changed; the engine keeps its current driver until it is restarted (restart=false)" % params["config_path"])
        if actions and facts["driver"] in DRIVERS and not DRIVERS[facts["driver"]].copy_on_write:
            module.warn("%s: no copy-on-write, every container start copies the whole image (10-30x slower starts, disk use "
                        "grows with every container); choose it only where no copy-on-write backend works" % facts["driver"])
        for kind, rows in sorted(facts["out_of_view"].items()):
            if rows and actions:
                module.warn("%s %s: %s" % (
                    "this change leaves these %s out of the engine's view" % kind if not module.check_mode else
                    "this change would leave these %s out of the engine's view" % kind,
                    "(storage.out_of_view.%s says how to reach each)" % kind,
                    "; ".join("%s %s%s" % (r["name"], r["fate"], " at %s" % r["where"] if r.get("where") else "") for r in rows)[:3000]))
        hidden = out["storage"].get("hidden") or {}
        if hidden.get("images"):
            module.warn("%d image(s) on disk are hidden from the engine (another driver's store under %s): %s"
                        % (len(hidden["images"]), out["storage"].get("data_root"),
                           ", ".join(sorted(set("%s (%s)" % (i["name"], i["driver"]) for i in hidden["images"])))[:2000]))
        return out


def main():
    DockerConverge(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)).run()


def remember_converged(params, config, engine):
    """What this run left (daemon.json's storage keys, the engine's driver and data root), for docker_storage_info
    and preflight to tell what another tool changed since; written only when it differs from the record."""
    name = journal_name(params["config_path"])
    record = converged_record(config, engine)
    old = read_converged(name) or {}
    if any(old.get(k) != record.get(k) for k in ("config", "driver", "data_root", "image_store")):
        write_converged(name, record)


if __name__ == "__main__":
    main()
