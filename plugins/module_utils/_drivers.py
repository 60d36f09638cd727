# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Docker storage drivers as a registry of small classes, and the pure planner of
``cow.storage.docker_storage_backend``.

Nothing here runs a command or touches a file: every function takes what the module
observed (``host``, a dict) and the module parameters, and returns facts, problems or
:class:`Action` lists, so the whole decision is unit-tested without mocks.

``host`` keys used here (all observed by the module):
  version (str), engine (parse_docker_info() or {"running": False}), filesystems (list),
  backing_fs (str), mount_options (list), d_type (bool or None), binaries (dict name->bool),
  thinpool ({"path", "target", "error"} or None), prior ({driver: {"path", "size", "entries"}}),
  config (dict), config_text (str), config_exists (bool), images (list of {"name", "id"}),
  containers (list of {"name", "state"}), data_root (the engine's current data root).
"""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import json

from ansible_collections.cow.storage.plugins.module_utils._dataroot import hidden_containers, hidden_images, images_of
from ansible_collections.cow.storage.plugins.module_utils._engines import (
    EXPLICIT_GRAPHDRIVERS,
    REPLACEMENTS,
    cite,
    engine,
    removed_in,
    version_tuple,
)
from ansible_collections.cow.storage.plugins.module_utils._runner import Action

REMOVED_MSG = "the %s storage-driver has been deprecated and removed"

MIGRATE_DIR = "cow-storage-migrate"


class BackendError(Exception):
    """A refusal: the message starts with the parameter it is about; ``details`` go into the failure result."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.details = details


def _has_prefix(key, prefixes):
    for prefix in prefixes:
        if key == prefix or (prefix.endswith(".") and key.startswith(prefix)):
            return True
    return False


class Driver:
    """Base class: constants describe the driver; :meth:`check` lists what stops it on a host."""

    name = None
    snapshotter = None          # name of the matching containerd snapshotter (image_store=containerd)
    kernel_fs = None            # entry needed in /proc/filesystems
    backing = None              # allowed backing filesystems of the data root (None: any)
    refused_backing = ()        # backing filesystems the engine refuses
    option_prefixes = ()
    size_options = ()           # options that need xfs project quota
    needs_d_type = False
    binaries = ()               # helper programs the driver runs
    layer_dir = None            # where it keeps one entry per layer under its directory (None: the top, less "l")
    device = None               # what the backend role makes of a dedicated device for it (backend_device)

    @classmethod
    def facts(cls):
        """The driver's facts as data, for roles and reports (the cow.storage.driver_info filter)."""
        found = removed_in(cls.name)
        return {"name": cls.name, "snapshotter": cls.snapshotter, "kernel_fs": cls.kernel_fs,
                "backing": list(cls.backing) if cls.backing else None, "binaries": list(cls.binaries),
                "needs_d_type": cls.needs_d_type, "device": cls.device, "target": cls.target,
                "removed_in": "%d.%d" % found[1][:2] if found else None}
    target = True               # False: only ever met as prior data, never converged to (refused with its removal)

    def removed(self, version):
        return version_tuple(version) is not None and self.name in engine(version).removed

    def option_problems(self, options):
        problems = []
        for key in sorted(options or {}):
            if not _has_prefix(key, self.option_prefixes):
                accepted = ", ".join(self.option_prefixes) if self.option_prefixes else "none"
                problems.append("options: %s is not an option of the %s driver (it accepts: %s)" % (key, self.name, accepted))
        return problems

    def check(self, host, params):
        """Problems that stop this driver on ``host`` with ``params`` (empty list: it can run)."""
        problems = []
        if params.get("image_store") == "containerd":
            if not self.snapshotter:
                return ["driver: %s has no containerd snapshotter (image_store: containerd)" % self.name]
        elif self.removed(host.get("version")):
            # with the containerd image store the engine uses containerd's snapshotter, not its removed graph driver
            problems.append("driver: " + removal(self.name) + ", this engine is %s" % host.get("version"))
            return problems
        problems.extend(self.option_problems(params.get("options")))
        filesystems = host.get("filesystems") or []
        if self.kernel_fs and filesystems and self.kernel_fs not in filesystems:
            problems.append("driver: the kernel does not support %s (not in /proc/filesystems), which the %s driver needs"
                            % (self.kernel_fs, self.name))
        backing = host.get("backing_fs")
        if backing and self.backing is not None and backing not in self.backing:
            problems.append("driver: %s needs its data root on %s; %s is on %s"
                            % (self.name, " or ".join(self.backing), params.get("data_root") or host.get("data_root"), backing))
        if backing and backing in self.refused_backing:
            problems.append("driver: %s is not supported over %s (data root %s)"
                            % (self.name, backing, params.get("data_root") or host.get("data_root")))
        if self.needs_d_type and host.get("d_type") is False:
            problems.append("driver: %s needs d_type support; the %s filesystem under %s has none (xfs formatted with ftype=0: "
                            "re-format with mkfs.xfs -n ftype=1)" % (self.name, backing, params.get("data_root") or host.get("data_root")))
        for binary in self.binaries:
            if not (host.get("binaries") or {}).get(binary):
                problems.append("driver: %s needs the %s program, which is not installed" % (self.name, binary))
        sized = [k for k in sorted(params.get("options") or {}) if k in self.size_options]
        if sized and not (backing == "xfs" and _pquota(host.get("mount_options"))):
            problems.append("options: %s needs the data root on xfs mounted with pquota (prjquota); it is %s mounted %s"
                            % (", ".join(sized), backing, ",".join(host.get("mount_options") or []) or "(unknown)"))
        problems.extend(self.extra_problems(host, params))
        return problems

    def extra_problems(self, host, params):  # pylint: disable=unused-argument
        return []


def _pquota(options):
    return any(o in ("pquota", "prjquota", "pqnoenforce", "prjquota") for o in options or [])


class Overlay2(Driver):
    name = "overlay2"
    device = "xfs"
    snapshotter = "overlayfs"
    kernel_fs = "overlay"
    refused_backing = ("btrfs", "aufs", "zfs", "overlay", "ecryptfs")
    option_prefixes = ("overlay2.size", "overlay2.override_kernel_check", "overlay2.mountopt")
    size_options = ("overlay2.size",)
    needs_d_type = True


class FuseOverlayfs(Driver):
    name = "fuse-overlayfs"
    snapshotter = "fuse-overlayfs"
    kernel_fs = "fuse"
    binaries = ("fuse-overlayfs",)


class Btrfs(Driver):
    name = "btrfs"
    device = "btrfs"
    layer_dir = "subvolumes"
    snapshotter = "btrfs"
    kernel_fs = "btrfs"
    backing = ("btrfs",)
    option_prefixes = ("btrfs.min_space",)


class Zfs(Driver):
    name = "zfs"
    device = "zpool"
    layer_dir = "graph"
    snapshotter = "zfs"
    kernel_fs = "zfs"
    backing = ("zfs",)
    option_prefixes = ("zfs.fsname",)
    binaries = ("zfs",)


class Vfs(Driver):
    name = "vfs"
    layer_dir = "dir"
    snapshotter = "native"
    option_prefixes = ("vfs.size",)
    size_options = ("vfs.size",)


class Devicemapper(Driver):
    name = "devicemapper"
    device = "thinpool"
    layer_dir = "metadata"
    snapshotter = "devmapper"
    option_prefixes = ("dm.",)
    # loop-lvm: without dm.thinpooldev the engine makes its pool on two sparse files (moby daemon/graphdriver/
    # devmapper/deviceset.go, "devicemapper/devicemapper/{data,metadata}" under the data root)
    loop_files = ("devicemapper/devicemapper/data", "devicemapper/devicemapper/metadata")

    @staticmethod
    def pool_now(host):
        """The pool the devicemapper data under the data root lives in - ``{"pool", "loop_files"}`` - or None when
        there is no devicemapper data."""
        engine = host.get("engine") or {}
        if engine.get("running") and engine.get("driver") == "devicemapper":
            status = engine.get("driver_status") or {}
            loops = [status[k] for k in ("Data loop file", "Metadata loop file") if status.get(k)]
            return {"pool": status.get("Pool Name"), "loop_files": loops}
        if not (host.get("prior") or {}).get("devicemapper"):
            return None
        config = host.get("config") or {}
        pool = options_dict(config.get("storage-opts")).get("dm.thinpooldev") if config.get("storage-driver") == "devicemapper" else None
        loops = list(host.get("dm_loop_files") or [])
        return {"pool": pool.rsplit("/", 1)[-1] if pool and not loops else None, "loop_files": loops}

    @classmethod
    def pool_change(cls, host, params):
        """``{"from", "to", "loop_files"}`` when the devicemapper data under the data root lives in another pool than
        the one asked (loop-lvm -> direct-lvm, or one thin pool -> another): its images would not be found there."""
        now = cls.pool_now(host)
        wanted = (params.get("options") or {}).get("dm.thinpooldev")
        if not now or not wanted or params.get("image_store") == "containerd":
            return None
        if now["loop_files"] or (now["pool"] and now["pool"] != wanted.rsplit("/", 1)[-1]):
            return {"from": now["pool"] or "(loop-lvm)", "to": wanted, "loop_files": now["loop_files"]}
        return None

    def extra_problems(self, host, params):
        if params.get("image_store") == "containerd":
            # The engine uses containerd's devmapper snapshotter: its pool is in containerd's config.toml
            # (cow.storage.containerd_snapshotter), not in dm.thinpooldev.
            return []
        options = params.get("options") or {}
        pool = options.get("dm.thinpooldev")
        if not pool:
            return ["options: devicemapper needs a thin pool: set dm.thinpooldev (loop-lvm is not supported)"]
        found = host.get("thinpool") or {}
        if found.get("error"):
            return ["options: dm.thinpooldev %s: %s" % (pool, found["error"])]
        if found.get("target") != "thin-pool":
            return ["options: dm.thinpooldev %s is not a thin pool (its device-mapper target is %s, not thin-pool)"
                    % (pool, found.get("target") or "unknown")]
        return []


class Aufs(Driver):
    name = "aufs"
    layer_dir = "diff"
    kernel_fs = "aufs"
    target = False


class Overlay(Driver):
    name = "overlay"
    kernel_fs = "overlay"
    needs_d_type = True
    target = False


DRIVERS = {
    "overlay2": Overlay2,
    "fuse-overlayfs": FuseOverlayfs,
    "btrfs": Btrfs,
    "zfs": Zfs,
    "vfs": Vfs,
    "devicemapper": Devicemapper,
    "aufs": Aufs,
    "overlay": Overlay,
}

# The driver parameter's choices (aufs and overlay only to be refused with the release that removed them).
CHOICES = list(DRIVERS) + ["auto"]

# Names the engine scans under the data root for prior driver data (moby graphdriver registry).
DRIVER_DIRS = tuple(DRIVERS)

# The programs the drivers run, which the module looks for on the host (and the docker CLI itself).
BINARIES = ("docker",) + tuple(sorted(set(b for cls in DRIVERS.values() for b in cls.binaries)))

# Filesystems that always have d_type (xfs has it with ftype=1 only: xfs_info says).
D_TYPE_FILESYSTEMS = ("ext3", "ext4", "btrfs", "zfs", "tmpfs")


def removal(name):
    """Why driver ``name`` is never a target, with the release that removed it and what replaces it."""
    found = removed_in(name)
    if not found:  # pragma: no cover - every non-target driver has a removal row
        return "the %s storage-driver is deprecated" % name
    tag, since = found
    return (REMOVED_MSG % name + " in Docker Engine %d.%d (moby %s daemon/graphdriver/driver.go checkRemoved); use %s"
            % (since[0], since[1], tag, REPLACEMENTS.get(name, "overlay2")))


def priority(version):
    """The engine's own auto-selection order for its version (see _engines: moby daemon/graphdriver/driver_linux.go)."""
    return list(engine(version).priority)


def prior_drivers(prior):
    """Drivers whose directory holds data, the way the engine counts them (vfs is never a prior driver)."""
    return sorted(name for name, facts in (prior or {}).items() if facts.get("entries") and name != "vfs")


def resolve_auto(host, params):
    """``driver: auto`` -> ``(driver name, reason)``; raises BackendError where the engine would fail to start."""
    row = engine(host.get("version"))
    order = list(row.priority)
    root = params.get("data_root") or host.get("data_root")
    prior = [d for d in prior_drivers(host.get("prior")) if d in order]
    if len(prior) > 1:
        raise BackendError("driver: auto: %s contains several valid graphdrivers: %s; the engine refuses to start: "
                           "choose a driver explicitly" % (root, ", ".join(prior)))
    if prior:
        name = prior[0]
        if name in row.deprecated and row.refuses_prior_deprecated:
            raise BackendError("driver: auto: prior driver data of %s is under %s and Docker Engine %s refuses to start "
                               "on a deprecated prior driver that is not configured (%s daemon/graphdriver/driver.go New); "
                               "choose a driver explicitly" % (name, root, host.get("version"), cite(row)))
        if not DRIVERS[name].target:
            raise BackendError("driver: auto: prior driver data of %s is under %s, so Docker Engine %s would keep using "
                               "it, and %s; choose a driver explicitly (on_driver_change keeps or moves its images)"
                               % (name, root, host.get("version"), removal(name)))
        problems = DRIVERS[name]().check(host, dict(params, driver=name))
        if problems:
            raise BackendError("driver: auto: prior driver data of %s is under the data root, so the engine would use it, "
                               "but it cannot run here: %s" % (name, "; ".join(problems)))
        return name, "prior driver data of %s found under the data root; the engine keeps using it" % name
    skipped = []
    for name in order:
        if name in row.deprecated and row.skips_deprecated:
            # Docker Engine 23.0 and later skip deprecated drivers in the automatic choice (20.10 tries them).
            skipped.append("%s: deprecated, never chosen automatically by this engine" % name)
            continue
        if not DRIVERS[name].target:
            skipped.append("%s: %s" % (name, removal(name)))
            continue
        problems = DRIVERS[name]().check(host, dict(params, driver=name))
        if not problems:
            why = "first supported driver in the engine's order %s (%s)" % (",".join(order), cite(row))
            if skipped:
                why += " (skipped: %s)" % "; ".join(skipped)
            return name, why
        skipped.append("%s: %s" % (name, problems[0].split(": ", 1)[-1]))
    raise BackendError("driver: auto: no storage driver can run on this host: %s" % "; ".join(skipped))


def options_list(options):
    return ["%s=%s" % (k, options[k]) for k in sorted(options)]


def options_dict(opts):
    out = {}
    for item in opts or []:
        key, dummy, value = str(item).partition("=")
        out[key.strip().lower()] = value.strip()
    return out


def desired_config(config, params, driver, version):
    """The merged daemon.json (a new dict; every key not ours is kept, in order)."""
    new = json.loads(json.dumps(config))
    cls = DRIVERS[driver]
    if params.get("image_store") == "containerd":
        new["storage-driver"] = cls.snapshotter
        features = dict(new.get("features") or {})
        features["containerd-snapshotter"] = True
        new["features"] = features
    else:
        new["storage-driver"] = driver
        features = new.get("features") or {}
        # From Docker Engine 29 a storage-driver other than vfs, overlay2 or btrfs is read as a containerd snapshotter
        # unless the feature is off (docker-v29.0.0 daemon/image_store_choice.go), so zfs and fuse-overlayfs need it.
        default_on = engine(version).containerd_default and driver not in EXPLICIT_GRAPHDRIVERS
        if features.get("containerd-snapshotter") or (default_on and "containerd-snapshotter" not in features):
            features = dict(features)
            features["containerd-snapshotter"] = False
            new["features"] = features
    if params.get("options") is not None:
        if params["options"]:
            new["storage-opts"] = options_list(params["options"])
        else:
            new.pop("storage-opts", None)
    if params.get("data_root"):
        new["data-root"] = params["data_root"]
        new.pop("graph", None)
    return new


def render_config(config):
    return json.dumps(config, indent=2) + "\n"


def resolve_image_store(host, params):
    """``(image store, reason)``: the one asked for, else the one the engine uses now, else the one it would start
    with (its version's default, the way docker-v29.0.0 daemon/image_store_choice.go decides), so that leaving
    image_store out never moves a host between the graph driver and the containerd image store."""
    if params.get("image_store"):
        return params["image_store"], "requested"
    running = (host.get("engine") or {}).get("running")
    if running and (host.get("engine") or {}).get("image_store"):
        store = host["engine"]["image_store"]
        return store, "kept: the engine runs the %s image store" % store
    config = host.get("config") or {}
    feature = (config.get("features") or {}).get("containerd-snapshotter")
    if feature is not None:
        store = "containerd" if feature else "graphdriver"
        return store, "kept: %s sets features.containerd-snapshotter=%s" % (params.get("config_path"), str(bool(feature)).lower())
    row = engine(host.get("version"))
    if not row.containerd_default:
        return "graphdriver", "the default of Docker Engine %s (%s)" % (host.get("version") or "(unknown)", cite(row))
    configured = config.get("storage-driver")
    if configured:
        store = "graphdriver" if configured in EXPLICIT_GRAPHDRIVERS else "containerd"
        return store, "kept: Docker Engine %s reads storage-driver %s as %s (%s daemon/image_store_choice.go)" % (
            host.get("version"), configured, "a graph driver" if store == "graphdriver" else "a containerd snapshotter", cite(row))
    if prior_drivers(host.get("prior")):
        return "graphdriver", "kept: prior graph driver data (%s) under the data root keeps Docker Engine %s on the graph " \
            "driver (%s daemon/image_store_choice.go)" % (", ".join(prior_drivers(host.get("prior"))), host.get("version"), cite(row))
    return "containerd", "the default of Docker Engine %s on a data root without graph driver data (%s " \
        "daemon/image_store_choice.go)" % (host.get("version"), cite(row))


def validate_params(params, host):
    """Refusals that depend on the parameters and the configuration only."""
    if params.get("data_root") and not params["data_root"].startswith("/"):
        raise BackendError("data_root: %s is relative; give an absolute path" % params["data_root"])
    if params.get("on_driver_change") == "wipe" and not params.get("force"):
        raise BackendError("on_driver_change: wipe deletes every image and container of the current driver; "
                           "it needs force: true")
    if params.get("on_driver_change") == "migrate" and not params.get("restart"):
        raise BackendError("on_driver_change: migrate needs restart: true (images are loaded into the new driver)")
    empty = sorted(k for k, v in (params.get("options") or {}).items() if v is None or str(v).strip() == "")
    if empty:
        raise BackendError("options: %s has no value (null or empty); give a value or leave the key out" % ", ".join(empty))
    mount = params.get("mount")
    if mount:
        if not str(mount.get("src") or "").startswith("/"):
            raise BackendError("mount: src %s must be an absolute device path" % mount.get("src"))
        if not params.get("restart"):
            raise BackendError("mount: mounting a filesystem on the data root needs restart: true (the engine is "
                               "stopped while it is mounted)")
    if not str(params.get("migrate_path") or "/").startswith("/"):
        raise BackendError("migrate_path: %s is relative; give an absolute path" % params.get("migrate_path"))
    if params.get("driver") in DRIVERS and not DRIVERS[params["driver"]].target:
        raise BackendError("driver: " + removal(params["driver"]))
    if params.get("image_store") == "containerd":
        if version_tuple(host.get("version")) and not engine(host.get("version")).containerd_store:
            raise BackendError("image_store: containerd needs Docker Engine 24.0 or later (features.containerd-snapshotter); "
                               "this engine is %s" % host.get("version"))


def current_storage(host):
    """What runs now: (driver, image_store, data_root) or None when the engine is not running."""
    engine = host.get("engine") or {}
    if not engine.get("running"):
        return None
    return engine.get("driver"), engine.get("image_store"), engine.get("data_root")


def target_storage(driver, params, host):
    root = params.get("data_root") or (host.get("config") or {}).get("data-root") or host.get("data_root")
    if params.get("image_store") == "containerd":
        return DRIVERS[driver].snapshotter, "containerd", root
    return driver, "graphdriver", root


def hidden(host):
    """What switching would hide: tagged/untagged images and containers of the running engine."""
    return {"images": list(host.get("images") or []), "containers": list(host.get("containers") or [])}


def _storage_text(storage):
    return "%s (%s image store, data root %s)" % tuple(storage)


def _names(items, limit=50):
    names = ["%s (%s)" % (i["name"], i["state"] if "state" in i else (i.get("id") or "")[:19]) for i in items]
    if len(names) > limit:
        names = names[:limit] + ["... %d more" % (len(names) - limit)]
    return ", ".join(names)


def _hidden_rows(stores, driver, image_store):
    rows = []
    for name, images in sorted(hidden_images(stores, driver, image_store).items()):
        rows.extend(dict(i, driver=name) for i in images)
    return rows


def what_is_hidden(host, params, driver):
    """Images on disk that the engine cannot see once it runs what ``params`` ask (state, not transition), the
    containers other drivers made, and driver directories with layers whose images cannot be told."""
    store = params.get("image_store") or "graphdriver"
    stores = host.get("stores") or {}
    images = _hidden_rows(stores, driver, store)
    containers = hidden_containers(host.get("disk_containers") or [], driver, store)
    unknown = dict((d, f) for d, f in (host.get("prior") or {}).items()
                   if f.get("layers") and d != driver and d not in stores)
    return {"images": images, "containers": containers, "driver_data": unknown, "set_aside": list(host.get("set_aside") or [])}


def loop_lvm(host):
    """A host whose devicemapper data is on loop files (loop-lvm, the engine's default without a thin pool): not for
    production; the flag names the way off it. None otherwise."""
    now = Devicemapper.pool_now(host)
    if not now or not now["loop_files"]:
        return None
    removed = Devicemapper().removed(host.get("version"))
    way = ("devicemapper is gone from Docker Engine %s (%s): converge to overlay2 with on_driver_change=migrate "
           "while an engine that still has devicemapper (24.0 or older) runs, or the images are lost to it"
           % (host.get("version"), removal("devicemapper"))) if removed else (
        "the way off is direct-lvm: a thin pool on a dedicated device (the backend role with backend_driver=devicemapper "
        "and backend_device, or cow.storage.thinpool) and docker_storage_backend with options dm.thinpooldev and "
        "on_driver_change=migrate, which saves the images, sets the loop files aside and loads the images into the pool")
    return {"loop_files": now["loop_files"], "pool": now["pool"], "production": False,
            "message": "devicemapper runs on loop files (loop-lvm: %s), which is not for production: every block goes "
                       "through a sparse file on the data root's filesystem and a loop device, slow and unsafe when that "
                       "filesystem fills; %s" % (", ".join(now["loop_files"]), way)}


def _refusal(now, target, parts, would_hide, mounting=None, pool=None):
    if pool:
        where = "moving devicemapper from the pool %s%s to %s" % (
            pool["from"], " (loop files %s)" % ", ".join(pool["loop_files"]) if pool["loop_files"] else "", pool["to"])
    elif mounting:
        where = "mounting %s (%s) on %s" % (mounting["src"], mounting["fstype"], target[2])
    else:
        where = "switching %s to %s" % (_storage_text(now) if now else "the stopped engine", _storage_text(target))
    return BackendError("on_driver_change: %s would hide %s; nothing was changed. Set on_driver_change to preserve, "
                        "migrate or wipe (with force: true)" % (where, "; ".join(parts)), would_hide=would_hide)


def _parts(images=(), containers=(), driver_data=None, volumes=()):
    parts = []
    if images:
        parts.append("images: %s" % _names(images))
    if containers:
        parts.append("containers: %s" % _names(containers))
    if volumes:
        parts.append("volumes: %s" % ", ".join(volumes))
    if driver_data:
        parts.append("driver data: %s" % ", ".join("%s (%d bytes)" % (f["path"], f.get("size") or 0)
                                                   for d, f in sorted(driver_data.items())))
    return parts


def plan_mount(host, params, now, target, actions):
    """Actions that put the requested filesystem on the data root; raises BackendError for every refusal.
    Whatever the data root holds now would be shadowed: that is a driver change in disguise and follows
    ``on_driver_change`` (migrate saves first; preserve and migrate move the old content aside, reachable)."""
    mount = host["mount"]
    wanted, root = mount["wanted"], target[2]
    opts = wanted.get("opts") or "defaults"
    persist = Action("write_fstab", "persist the mount of %s on %s in %s" % (wanted["src"], root, mount["fstab_path"]),
                     path=mount["fstab_path"], mount_point=root, src=wanted["src"], fstype=wanted["fstype"], opts=opts)
    if mount["in_place"]:
        if not mount["fstab_ok"]:
            actions.append(persist)
        return False
    if mount.get("other"):
        raise BackendError("mount: %s is already a mount of %s (%s); replacing a mounted data root is not done here: "
                           "unmount it first (its data stays on that device), or give it as mount.src"
                           % (root, mount["other"]["source"], mount["other"]["fstype"]))
    if not mount["src_exists"]:
        raise BackendError("mount: src %s does not exist" % wanted["src"])
    contents = mount["contents"]
    # the engine's own images are hidden too: covered by the mount (it runs on this root) or left behind on the old
    # root (data_root changes as well)
    visible = hidden(host) if now is not None else {"images": [], "containers": []}
    seen = set(i["id"] for i in visible["images"])
    images = visible["images"] + [i for i in contents["images"] if i["id"] not in seen]
    containers = visible["containers"] or contents["containers"]
    policy = params["on_driver_change"]
    would = {"images": images, "containers": containers, "volumes": contents["volumes"], "driver_data": contents["driver_data"]}
    if (images or containers or contents["volumes"] or contents["driver_data"]) and policy == "fail":
        raise _refusal(now, target, _parts(images, containers, contents["driver_data"], contents["volumes"]), would, mounting=wanted)
    if policy == "migrate" and images:
        if now is None:
            raise BackendError("on_driver_change: migrate needs the engine running to save its images before %s is "
                               "mounted on %s; it is stopped (start it, or use preserve)" % (wanted["src"], root))
        _plan_save(host, params, visible, now, actions)
    if policy == "wipe" and now is not None and (visible["images"] or visible["containers"]):
        actions.append(Action("wipe_engine", "remove %d container(s) and %d image(s) of %s"
                              % (len(visible["containers"]), len(visible["images"]), now[0]),
                              containers=[c["name"] for c in visible["containers"]], images=[i["id"] for i in visible["images"]]))
    if now is not None:
        actions.append(Action("stop_engine", "stop the engine (and its socket) before mounting %s on %s" % (wanted["src"], root)))
    if mount["entries"]:
        actions.append(Action("move_aside", "move the current content of %s to %s (kept, reachable)" % (root, mount["aside"]),
                              path=root, aside=mount["aside"]))
        if policy == "wipe":
            actions.append(Action("remove_driver_data", "remove %s" % mount["aside"], path=mount["aside"]))
    actions.append(Action("mount_data_root", "mount %s (%s, %s) on %s" % (wanted["src"], wanted["fstype"], opts, root),
                          path=root, src=wanted["src"], fstype=wanted["fstype"], opts=opts))
    if not mount["fstab_ok"]:
        actions.append(persist)
    return True


def _plan_pool_change(host, params, now, target, pool, actions):
    """devicemapper moving to another pool (loop-lvm -> direct-lvm): the images live in the old pool, so this is a
    driver change in disguise. The old pool's data (its loop files, metadata and image store) is set aside, reachable,
    or removed (wipe); migrate carries the images over by ID."""
    root = target[2].rstrip("/") or "/"
    if now is not None:
        items = hidden(host)
    else:
        store = (host.get("stores") or {}).get("devicemapper") or {}
        items = {"images": images_of(store), "containers": [c for c in host.get("disk_containers") or []
                                                            if c.get("driver") == "devicemapper"]}
    policy = params["on_driver_change"]
    if (items["images"] or items["containers"]) and policy == "fail":
        raise _refusal(now, target, _parts(items["images"], items["containers"]), dict(items, driver_data={}), pool=pool)
    if policy == "migrate" and items["images"]:
        if now is None:
            raise BackendError("on_driver_change: migrate needs the engine running on its current pool to save images; "
                               "it is stopped (use preserve to set the old pool's data aside and start anyway)")
        _plan_save(host, params, items, now, actions)
    if now is not None:
        actions.append(Action("stop_engine", "stop the engine before setting the data of the pool %s aside" % pool["from"]))
    asides = host.get("dm_asides") or {}
    for path in ("%s/devicemapper" % root, "%s/image/devicemapper" % root):
        if path not in asides:
            continue
        if policy == "wipe":
            actions.append(Action("remove_driver_data", "remove %s (data of the pool %s)" % (path, pool["from"]), path=path))
        else:
            actions.append(Action("move_aside", "move %s to %s (data of the pool %s, kept, reachable)" % (
                path, asides[path], pool["from"]), path=path, aside=asides[path]))


def _plan_save(host, params, items, now, actions):
    busy = [c for c in items["containers"] if c.get("state") == "running"]
    if busy and not params.get("stop_containers"):
        raise BackendError("on_driver_change: migrate refuses while containers run: %s; stop them or set "
                           "stop_containers: true" % _names(busy))
    if busy:
        actions.append(Action("stop_containers", "stop running containers %s" % ", ".join(c["name"] for c in busy),
                              names=[c["name"] for c in busy]))
    tagged = [i for i in items["images"] if not i["name"].startswith("<none>")]
    if tagged:
        path = "%s/images.tar" % (params.get("migrate_path") or "%s/%s" % (now[2].rstrip("/"), MIGRATE_DIR)).rstrip("/")
        actions.append(Action("save_images", "save %d tagged image(s) to %s" % (len(tagged), path), images=tagged, path=path))


def plan(host, params):
    """Observed ``host`` + ``params`` -> ``(actions, facts)``; raises BackendError for every refusal.

    ``facts`` carries the resolved driver, the reason, the switch decision and the new config.
    """
    validate_params(params, host)
    store, store_reason = resolve_image_store(host, params)
    params = dict(params, image_store=store)
    if (host.get("binaries") or {}).get("docker") is False:
        # without it the engine cannot be checked after a restart (nor images listed, saved or loaded)
        raise BackendError("the docker CLI is not installed on this host (Debian 13 and later ship it in the docker-cli "
                           "package, apart from docker.io); install it first, nothing was changed")
    driver, reason = params["driver"], "requested"
    if driver == "auto":
        driver, reason = resolve_auto(host, params)
    problems = DRIVERS[driver]().check(host, dict(params, driver=driver))
    if problems:
        raise BackendError(problems[0] if len(problems) == 1 else "; ".join(problems))
    if params.get("options") is None:
        stale = [k for k in sorted(options_dict(host["config"].get("storage-opts")))
                 if not _has_prefix(k, DRIVERS[driver].option_prefixes)]
        if stale:
            raise BackendError("options: %s has storage-opts %s that the %s driver does not accept; pass options "
                               "(an empty dict removes them)" % (params["config_path"], ", ".join(stale), driver))

    new_config = desired_config(host["config"], params, driver, host.get("version"))
    config_changes = new_config != host["config"]
    now = current_storage(host)
    target = target_storage(driver, params, host)
    running = now is not None
    policy = params["on_driver_change"]
    actions = []
    mounting = bool(host.get("mount")) and plan_mount(host, params, now, target, actions)
    pool = None if mounting or driver != "devicemapper" else Devicemapper.pool_change(host, params)
    switching = running and (tuple(now) != tuple(target) or mounting or bool(pool))
    state = what_is_hidden(host, params, target[0] if target[1] == "graphdriver" else driver)
    facts = {"driver": driver, "reason": reason, "image_store": store, "image_store_reason": store_reason,
             "target": target, "switching": switching, "mounting": mounting, "pool_change": pool,
             "config": new_config, "config_changes": config_changes, "hidden": state}

    starting = not running and bool(params.get("restart"))
    if pool:
        _plan_pool_change(host, params, now, target, pool, actions)
    elif not mounting:
        # images the engine shows now, hidden by the switch; images already hidden on disk, kept hidden by a start
        items = hidden(host) if switching else {"images": [], "containers": []}
        ids = set(i["id"] for i in items["images"])
        already = [i for i in state["images"] if i["id"] not in ids] if (switching or starting) else []
        unknown = state["driver_data"] if starting else {}
        if (items["images"] or items["containers"] or already or unknown) and (config_changes or switching or starting):
            if policy == "fail":
                would = {"images": items["images"] + already, "containers": items["containers"], "driver_data": unknown}
                raise _refusal(now, target, _parts(items["images"] + already, items["containers"], unknown), would)
            if policy == "migrate" and items["images"]:
                _plan_save(host, params, items, now, actions)
            elif policy == "migrate" and (already or unknown) and not running:
                raise BackendError("on_driver_change: migrate needs the engine running on its current driver to save "
                                   "images; it is stopped and %s hold images it cannot see (use preserve to start anyway)"
                                   % ", ".join(sorted(set(i["driver"] for i in already)) + sorted(unknown)))
            if policy == "wipe":
                if running and (items["images"] or items["containers"]):
                    actions.append(Action("wipe_engine", "remove %d container(s) and %d image(s) of %s"
                                          % (len(items["containers"]), len(items["images"]), now[0]),
                                          containers=[c["name"] for c in items["containers"]],
                                          images=[i["id"] for i in items["images"]]))
                root = target[2].rstrip("/") or "/"
                for d in sorted(set(i["driver"] for i in already)) + sorted(unknown):
                    # the driver's layers and its image store (else its images would stay listed as hidden)
                    for path in ((host.get("prior") or {}).get(d, {}).get("path"),
                                 "%s/image/%s" % (root, d) if d in (host.get("stores") or {}) else None):
                        if path:
                            actions.append(Action("remove_driver_data", "remove %s" % path, path=path))

    if config_changes:
        if params.get("validate") and _has_validate(host.get("version")):
            actions.append(Action("validate", "dockerd --validate the new %s" % params["config_path"], config=new_config))
        actions.append(Action("write_config", "write %s (%s)" % (params["config_path"], ", ".join(_changed_keys(host["config"], new_config))),
                              config=new_config))
    needs_restart = config_changes or switching
    if params.get("restart") and (needs_restart or not running):
        stopped = any(a.kind == "stop_engine" for a in actions)
        actions.append(Action("restart", "%s the engine and verify it runs %s" % ("restart" if running and not stopped else "start", target[0]),
                              driver=target[0], image_store=target[1], start=bool(stopped or not running)))
        for action in list(actions):
            if action.kind == "save_images":
                actions.append(Action("load_images", "load %s and verify %d image ID(s)" % (action.args["path"], len(action.args["images"])),
                                      images=action.args["images"], path=action.args["path"]))
    if params.get("enabled") and host.get("enabled") is False:
        actions.append(Action("enable_engine", "enable the engine at boot (systemctl enable docker.service)"))
    return actions, facts


def _has_validate(version):
    return version_tuple(version) is not None and engine(version).validate


def validation_note(params, host):
    if not params.get("validate"):
        return "skipped: validate=false"
    if _has_validate(host.get("version")):
        return "dockerd --validate"
    return "skipped: dockerd %s has no --validate (added in Docker Engine 23.0)" % (host.get("version") or "(unknown version)")


def _changed_keys(old, new):
    keys = sorted(set(old) | set(new))
    return ["%s%s" % ("+" if k not in old else "-" if k not in new else "~", k) for k in keys if old.get(k) != new.get(k)] or ["no key"]
