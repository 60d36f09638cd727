# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Docker storage drivers as a registry of small classes: each driver's facts and the checks that stop it on a host,
and the engine's automatic choice. The planner of ``cow.storage.docker_storage_backend`` is ``plan``.

Nothing here runs a command or touches a file: every function takes what the module
observed (``host``, a dict) and the module parameters, and returns facts or problems,
so the whole decision is unit-tested without mocks.

``host`` keys used here (all observed by the module):
  version (str), engine (parse_docker_info() or {"running": False}), filesystems (list),
  backing_fs (str), mount_options (list), d_type (bool or None), binaries (dict name->bool), dev_fuse (bool),
  thinpool ({"path", "target", "error"} or None), prior ({driver: {"path", "size", "entries"}}),
  config (dict), config_text (str), config_exists (bool), images (list of {"name", "id"}),
  containers (list of {"name", "state"}), data_root (the engine's current data root).
"""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal
from ansible_collections.cow.storage.plugins.module_utils._docker.engines import (
    REPLACEMENTS,
    cite,
    engine,
    removed_in,
    version_tuple,
)

REMOVED_MSG = "the %s storage-driver has been deprecated and removed"


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
    device_tools = ()           # the programs that preparation runs (the backend role installs them when missing)
    copy_on_write = True        # False: every container start copies the whole image (the module warns)
    # OS family -> the packages giving its binaries and device_tools (the backend role installs them)
    packages = {}
    # "always" / "device" (with backend_device): the backend role prepares its storage before the module runs
    # (roles/backend/tasks/backend_<name>.yml)
    role_prepares = None
    # with backend_device: "ahead" (check mode plans the change before the role prepares the device, so nothing is
    # prepared for a refused change) or "after" (the module can plan only once the device is prepared: the data root
    # becomes a dataset then)
    device_plan = None
    # a migration onto it can stage the new store while the engine serves (a second engine on the same filesystem,
    # then a rename into the data root): its store is plain directories (or btrfs subvolumes) under the data root
    stageable = False

    @classmethod
    def facts(cls):
        """The driver's facts as data, for roles and reports (the cow.storage.driver_info filter)."""
        found = removed_in(cls.name)
        return {"name": cls.name, "snapshotter": cls.snapshotter, "kernel_fs": cls.kernel_fs,
                "backing": list(cls.backing) if cls.backing else None, "binaries": list(cls.binaries),
                "needs_d_type": cls.needs_d_type, "device": cls.device, "device_tools": list(cls.device_tools),
                "target": cls.target, "copy_on_write": cls.copy_on_write,
                "size_options": list(cls.size_options),
                "packages": dict((family, list(names)) for family, names in cls.packages.items()),
                "role_prepares": cls.role_prepares, "device_plan": cls.device_plan, "stageable": cls.stageable,
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
    return any(o in ("pquota", "prjquota", "pqnoenforce") for o in options or [])


class Overlay2(Driver):
    name = "overlay2"
    stageable = True
    packages = {"Debian": ("xfsprogs",), "RedHat": ("xfsprogs",), "Suse": ("xfsprogs",)}
    device = "xfs"
    device_tools = ("mkfs.xfs",)
    snapshotter = "overlayfs"
    kernel_fs = "overlay"
    refused_backing = ("btrfs", "aufs", "zfs", "overlay", "ecryptfs")
    option_prefixes = ("overlay2.size", "overlay2.override_kernel_check", "overlay2.mountopt")
    size_options = ("overlay2.size",)
    needs_d_type = True


class FuseOverlayfs(Driver):
    name = "fuse-overlayfs"
    packages = {"Debian": ("fuse-overlayfs",), "RedHat": ("fuse-overlayfs",), "Suse": ("fuse-overlayfs",)}
    snapshotter = "fuse-overlayfs"
    kernel_fs = "fuse"
    binaries = ("fuse-overlayfs",)

    def extra_problems(self, host, params):
        if host.get("dev_fuse") is False:
            return ["driver: fuse-overlayfs needs /dev/fuse, which this host lacks (load the fuse module; in a container, "
                    "give it the device)"]
        return []


class Btrfs(Driver):
    name = "btrfs"
    stageable = True
    packages = {"Debian": ("btrfs-progs",), "RedHat": ("btrfs-progs",), "Suse": ("btrfsprogs",)}
    role_prepares = "device"
    device_plan = "ahead"
    device = "btrfs"
    device_tools = ("btrfs", "mkfs.btrfs")
    layer_dir = "subvolumes"
    snapshotter = "btrfs"
    kernel_fs = "btrfs"
    backing = ("btrfs",)
    option_prefixes = ("btrfs.min_space",)


class Zfs(Driver):
    name = "zfs"
    packages = {"Debian": ("zfsutils-linux",), "RedHat": ("zfs",), "Suse": ("zfs",)}
    role_prepares = "device"
    device_plan = "after"
    device = "zpool"
    device_tools = ("zpool",)
    layer_dir = "graph"
    snapshotter = "zfs"
    kernel_fs = "zfs"
    backing = ("zfs",)
    option_prefixes = ("zfs.fsname",)
    binaries = ("zfs",)


class Vfs(Driver):
    name = "vfs"
    stageable = True
    layer_dir = "dir"
    snapshotter = "native"
    option_prefixes = ("vfs.size",)
    size_options = ("vfs.size",)
    copy_on_write = False


class Devicemapper(Driver):
    name = "devicemapper"
    packages = {"Debian": ("lvm2", "thin-provisioning-tools"), "RedHat": ("lvm2", "device-mapper-persistent-data"),
                "Suse": ("lvm2", "thin-provisioning-tools")}
    role_prepares = "always"
    device = "thinpool"
    device_tools = ("lvcreate", "thin_check")
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
BINARIES = ("docker", "dockerd") + tuple(sorted(set(b for cls in DRIVERS.values() for b in cls.binaries)))

# Every program a backend needs on a host: the engine's (BINARIES), a dedicated device's preparation, and mkfs for
# each filesystem docker_storage_backend's mount.mkfs makes.
MKFS_FILESYSTEMS = ("btrfs", "ext4", "xfs")
TOOLS = tuple(sorted(set(BINARIES) | set(t for cls in DRIVERS.values() for t in cls.device_tools)
                     | set("mkfs." + fs for fs in MKFS_FILESYSTEMS)))


def needed_tools(driver, params):
    """The programs the backend of ``driver`` needs with these parameters: the engine's, the device preparation's
    when a filesystem is mounted on the data root, and the mount's mkfs."""
    cls = DRIVERS.get(driver)
    if cls is None:
        return []
    mount = params.get("mount") or {}
    tools = list(cls.binaries) + (list(cls.device_tools) if mount else [])
    if mount.get("mkfs") and mount.get("fstype"):
        tools.append("mkfs." + mount["fstype"])
    return sorted(set(tools))


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


def prior_drivers(prior):
    """Drivers whose directory holds data, the way the engine counts them (vfs is never a prior driver)."""
    return sorted(name for name, facts in (prior or {}).items() if facts.get("entries") and name != "vfs")


def resolve_auto(host, params):
    """``driver: auto`` -> ``(driver name, reason)``; raises Refusal where the engine would fail to start."""
    row = engine(host.get("version"))
    order = list(row.priority)
    root = params.get("data_root") or host.get("data_root")
    prior = [d for d in prior_drivers(host.get("prior")) if d in order]
    if len(prior) > 1:
        raise Refusal("driver: auto: %s contains several valid graphdrivers: %s; the engine refuses to start: "
                      "choose a driver explicitly" % (root, ", ".join(prior)))
    if prior:
        name = prior[0]
        if name in row.deprecated and row.refuses_prior_deprecated:
            raise Refusal("driver: auto: prior driver data of %s is under %s and Docker Engine %s refuses to start "
                          "on a deprecated prior driver that is not configured (%s daemon/graphdriver/driver.go New); "
                          "choose a driver explicitly" % (name, root, host.get("version"), cite(row)))
        if not DRIVERS[name].target:
            raise Refusal("driver: auto: prior driver data of %s is under %s, so Docker Engine %s would keep using "
                          "it, and %s; choose a driver explicitly (on_driver_change keeps or moves its images)"
                          % (name, root, host.get("version"), removal(name)))
        problems = DRIVERS[name]().check(host, dict(params, driver=name))
        if problems:
            raise Refusal("driver: auto: prior driver data of %s is under the data root, so the engine would use it, "
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
    raise Refusal("driver: auto: no storage driver can run on this host: %s" % "; ".join(skipped))


def options_list(options):
    return ["%s=%s" % (k, options[k]) for k in sorted(options)]


def options_dict(opts):
    out = {}
    for item in opts or []:
        key, dummy, value = str(item).partition("=")
        out[key.strip().lower()] = value.strip()
    return out


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
