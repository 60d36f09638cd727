# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure planner of ``cow.storage.docker_storage_backend``: observed host + parameters -> actions.

Nothing here runs a command or touches a file: :func:`plan` takes what the module observed (``host``, a dict; its
keys are listed in ``drivers``) and the module parameters, and returns :class:`Action` lists and facts, or raises
:class:`Refusal` for every refusal, so the whole decision is unit-tested without mocks. The drivers' own facts
and checks are the registry's (``drivers``), the engine releases' behaviour is ``engines``'.
"""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import json
import posixpath

from ansible_collections.cow.storage.plugins.module_utils._blockdev import refuse_signatures, refuse_unusable
from ansible_collections.cow.storage.plugins.module_utils._docker.dataroot import (
    carries,
    hidden_containers,
    hidden_images,
    images_of,
    mkfs_argv,
    parse_mkfs_opts,
    require_mount_text,
)
from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal, require_absolute
from ansible_collections.cow.storage.plugins.module_utils._docker.drivers import (
    DRIVERS,
    MKFS_FILESYSTEMS,
    Devicemapper,
    _has_prefix,
    needed_tools,
    options_dict,
    options_list,
    prior_drivers,
    removal,
    resolve_auto,
)
from ansible_collections.cow.storage.plugins.module_utils._docker.engines import EXPLICIT_GRAPHDRIVERS, cite, engine, version_tuple
from ansible_collections.cow.storage.plugins.module_utils._runner import Action

DEFAULT_MIGRATE_PATH = "/var/lib/cow-storage/migrate"


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
    require_absolute("data_root", params.get("data_root"))
    if params.get("on_driver_change") == "wipe" and not params.get("force"):
        raise Refusal("on_driver_change: wipe deletes every image and container of the current driver; "
                      "it needs force: true")
    if params.get("on_driver_change") == "migrate" and not params.get("restart"):
        raise Refusal("on_driver_change: migrate needs restart: true (images are loaded into the new driver)")
    empty = sorted(k for k, v in (params.get("options") or {}).items() if v is None or str(v).strip() == "")
    if empty:
        raise Refusal("options: %s has no value (null or empty); give a value or leave the key out" % ", ".join(empty))
    mount = params.get("mount")
    if mount:
        if not str(mount.get("src") or "").startswith("/"):
            raise Refusal("mount: src %s must be an absolute device path" % mount.get("src"))
        if not params.get("restart"):
            raise Refusal("mount: mounting a filesystem on the data root needs restart: true (the engine is "
                          "stopped while it is mounted)")
        if mount.get("mkfs") and mount.get("fstype") not in MKFS_FILESYSTEMS:
            raise Refusal("mount: mkfs makes %s filesystems; fstype %s is not one of them (make it beforehand and "
                          "leave mkfs out)" % (", ".join(MKFS_FILESYSTEMS), mount.get("fstype")))
        if (mount.get("mkfs_opts") or mount.get("wipe_signatures")) and not mount.get("mkfs"):
            raise Refusal("mount: mkfs_opts and wipe_signatures are for mkfs: true")
        if mount.get("mkfs"):
            parse_mkfs_opts(mount["fstype"], mount.get("mkfs_opts"))
    require_absolute("migrate_path", params.get("migrate_path"))
    if params.get("driver") in DRIVERS and not DRIVERS[params["driver"]].target:
        raise Refusal("driver: " + removal(params["driver"]))
    if params.get("image_store") == "containerd":
        if version_tuple(host.get("version")) and not engine(host.get("version")).containerd_store:
            raise Refusal("image_store: containerd needs Docker Engine 24.0 or later (features.containerd-snapshotter); "
                          "this engine is %s" % host.get("version"))


def _root(path):
    """A data root as the engine reports it: normalised (``/srv/docker/`` is ``/srv/docker``)."""
    return posixpath.normpath(path) if path else path


def current_storage(host):
    """What runs now: (driver, image_store, data_root) or None when the engine is not running."""
    engine = host.get("engine") or {}
    if not engine.get("running"):
        return None
    return engine.get("driver"), engine.get("image_store"), _root(engine.get("data_root"))


def target_storage(driver, params, host):
    root = _root(params.get("data_root") or (host.get("config") or {}).get("data-root") or host.get("data_root"))
    if params.get("image_store") == "containerd":
        return DRIVERS[driver].snapshotter, "containerd", root
    return driver, "graphdriver", root


def in_view(host):
    """What the running engine sees now: its images (tagged and untagged) and containers, which a switch would hide."""
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


def hidden_after(host, params, target, driver):
    """What is hidden once the engine runs ``target`` (its driver, image store, data root) for ``driver``."""
    return what_is_hidden(host, dict(params, image_store=target[1]), target[0] if target[1] == "graphdriver" else driver)


def hidden_now(host):
    """What the engine cannot see with the driver it runs (or, stopped, the one its configuration names)."""
    engine = host["engine"]
    driver = engine.get("driver") if engine.get("running") else host["config"].get("storage-driver")
    if not driver:
        return {"images": [], "containers": [], "driver_data": {}, "set_aside": host.get("set_aside") or []}
    return what_is_hidden(host, {"image_store": resolve_image_store(host, {})[0]}, driver)


def _refusal(now, target, parts, would_hide, mounting=None, pool=None):
    if pool:
        where = "moving devicemapper from the pool %s%s to %s" % (
            pool["from"], " (loop files %s)" % ", ".join(pool["loop_files"]) if pool["loop_files"] else "", pool["to"])
    elif mounting:
        where = "mounting %s (%s) on %s" % (mounting["src"], mounting["fstype"], target[2])
    else:
        where = "switching %s to %s" % (_storage_text(now) if now else "the stopped engine", _storage_text(target))
    return Refusal("on_driver_change: %s would hide %s; nothing was changed. Set on_driver_change to preserve, "
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


def plan_mount(host, params, now, target, actions, record=None):
    """Actions that put the requested filesystem on the data root; raises Refusal for every refusal.
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
        raise Refusal("mount: %s is already a mount of %s (%s); replacing a mounted data root is not done here: "
                      "unmount it first (its data stays on that device), or give it as mount.src"
                      % (root, mount["other"]["source"], mount["other"]["fstype"]))
    if not mount["src_exists"]:
        raise Refusal("mount: src %s does not exist" % wanted["src"])
    make = plan_mkfs(host, mount, wanted) if wanted.get("mkfs") else None
    contents = mount["contents"]
    # the engine's own images are hidden too: covered by the mount (it runs on this root) or left behind on the old
    # root (data_root changes as well)
    visible = in_view(host) if now is not None else {"images": [], "containers": []}
    seen = set(i["id"] for i in visible["images"])
    # the volumes that leave: those of the content a mount covers, or those left in the old root when data_root moves
    moving = now is not None and now[2].rstrip("/") != root.rstrip("/")
    volumes = list(host.get("volumes") or []) if moving else contents["volumes"]
    leaving = {"images": visible["images"] + [i for i in contents["images"] if i["id"] not in seen],
               "containers": visible["containers"] or contents["containers"], "volumes": volumes,
               "driver_data": contents["driver_data"]}
    if moving and contents["volumes"] and params["on_driver_change"] == "migrate" and volumes:
        raise Refusal("on_driver_change: migrate: %s has volumes of its own (%s), set aside by the mount; carrying %s "
                      "there would replace its volume database; nothing was changed"
                      % (root, ", ".join(contents["volumes"]), ", ".join(volumes)))
    trial = Action("try_mount", "mount %s (%s, %s) on a private directory and unmount it, before the engine stops"
                   % (wanted["src"], wanted["fstype"], opts), src=wanted["src"], fstype=wanted["fstype"], opts=opts)
    apply_policy(host, params, now, target, leaving, actions, saved=visible, mounting=wanted,
                 before_stop=([make] if make else []) + [trial], record=record)
    if now is not None:
        actions.append(Action("stop_engine", "stop the engine (and its socket) before mounting %s on %s" % (wanted["src"], root)))
    policy = params["on_driver_change"]
    if mount["entries"]:
        actions.append(Action("move_aside", "move the current content of %s to %s (kept, reachable%s)" % (
            root, mount["aside"], "; volumes %s with it" % ", ".join(contents["volumes"]) if contents["volumes"] else ""),
            path=root, aside=mount["aside"]))
        if policy == "wipe":
            actions.append(Action("remove_driver_data", "remove %s%s" % (
                mount["aside"], " (volumes %s with it)" % ", ".join(contents["volumes"]) if contents["volumes"] else ""),
                path=mount["aside"]))
    actions.append(Action("mount_data_root", "mount %s (%s, %s) on %s" % (wanted["src"], wanted["fstype"], opts, root),
                          path=root, src=wanted["src"], fstype=wanted["fstype"], opts=opts))
    if policy == "migrate" and moving and volumes:
        actions.append(_carry(volumes, "%s/volumes" % now[2].rstrip("/"), "%s/volumes" % root))
    elif policy == "migrate" and contents["volumes"] and mount["entries"]:
        actions.append(_carry(contents["volumes"], "%s/volumes" % mount["aside"], "%s/volumes" % root))
    if not mount["fstab_ok"]:
        actions.append(persist)
    return True


def check_engine_flags(host, params, new_config):
    """Refusals for engine configuration outside daemon.json (the unit's ExecStart and drop-ins, /etc/default or
    /etc/sysconfig), before any change: dockerd refuses to start when a flag and the file set one key, so a key the
    module would write that a flag sets already is refused, naming the file and line."""
    flags = host.get("engine_flags") or {}
    names = {"storage-driver": "driver", "data-root": "data_root", "storage-opts": "options"}
    for key, param in sorted(names.items()):
        if flags.get(key) and key in new_config:
            first = flags[key][0]
            raise Refusal("%s: %s sets %s %s on dockerd's command line and %s %s %s too: dockerd refuses to start when a "
                          "flag and the file both set it; remove the flag there (then this module manages it); nothing "
                          "was changed" % (param, first["source"], first["flag"], first["value"], params["config_path"],
                                           "sets" if key in (host.get("config") or {}) else "would set", key))
    config_file = (flags.get("config-file") or [{}])[-1]
    if config_file.get("value") and posixpath.normpath(config_file["value"]) != posixpath.normpath(params["config_path"]):
        raise Refusal("config_path: the engine reads %s (%s %s), not %s; give that path, nothing was changed"
                      % (config_file["value"], config_file["source"], config_file["flag"], params["config_path"]))


def check_boot(host, params, root):
    """Refusals about the data root across a reboot, raised before any change (in check mode too): an fstab line
    that puts a filesystem on the data root (or a parent) and is not mounted - the engine runs on the bare directory
    while that device holds its data; a data root on a filesystem a reboot empties, unless allow_volatile."""
    boot = host.get("boot") or {}
    if boot.get("unmounted"):
        lines = ", ".join("%s (%s) on %s" % (u["source"], u["fstype"], u["mount_point"]) for u in boot["unmounted"])
        fstab, first = boot.get("fstab_path") or "/etc/fstab", boot["unmounted"][0]["mount_point"]
        raise Refusal("data_root: %s mounts %s, which is not mounted now: the engine sees the bare directory beneath "
                      "while that device holds its data; mount it (mount %s) and run again, or remove the line if the "
                      "device is gone; nothing was changed" % (fstab, lines, first))
    if boot.get("volatile") and not params.get("allow_volatile"):
        raise Refusal("data_root: %s is on %s, which a reboot empties: every image, container and volume would be "
                      "lost; set allow_volatile: true if that is meant; nothing was changed" % (root, boot["volatile"]))


def plan_boot(host, params, target, mounting, actions):
    """The boot half of the change: the data root's mount persisted in fstab (where a mount made by hand is not)
    and docker.service made to require it (RequiresMountsFor), so a reboot never starts the engine on the bare
    directory under its data root."""
    boot = host.get("boot")
    if not boot:
        return
    root = target[2]
    check_boot(host, params, root)
    mount = boot.get("mount")
    planned = any(a.kind == "write_fstab" and a.args.get("mount_point") == (mount or {}).get("mount_point") for a in actions)
    if mount and not boot.get("persisted") and not mounting and not boot.get("volatile") and not planned:
        actions.append(Action("write_fstab", "persist the mount of %s (%s) on %s in %s: it is not there, so a reboot would "
                              "start the engine on the bare directory" % (mount["source"], mount["fstype"], mount["mount_point"],
                                                                          boot["fstab_path"]),
                              path=boot["fstab_path"], mount_point=mount["mount_point"], src=mount["source"],
                              fstype=mount["fstype"], opts=mount["opts"]))
    dropin = boot.get("dropin")
    if dropin is None or not (mount or mounting) or boot.get("volatile"):
        return
    text = require_mount_text(root)
    if dropin.get("text") != text:
        # before the restart, so the engine the change starts already depends on its mount
        at = next((i for i, a in enumerate(actions) if a.kind in ("validate", "write_config", "restart")), len(actions))
        actions.insert(at, Action("require_mount", "make docker.service require the mount of %s (RequiresMountsFor in %s)"
                                  % (root, dropin["path"]), path=dropin["path"], text=text, old_text=dropin.get("text")))


def apply_policy(host, params, now, target, leaving, actions, saved=None, already=(), unknown=None, mounting=None,
                 pool=None, before_stop=(), wipe=True, record=None):
    """``on_driver_change`` for every way a change moves data out of the engine's view (a driver or data root
    switch, a mount on the data root, a devicemapper pool change), in one place.

    ``leaving`` holds what would leave the engine's view (``images``, ``containers``, ``volumes``, ``driver_data``);
    ``saved`` what the running engine shows, which migrate saves and wipe removes. Appends the actions of the policy
    (stop_containers and save_images for migrate, then ``before_stop``, then wipe_engine) or raises Refusal: fail
    names every item; migrate needs the engine running to save. ``record`` (a dict) receives :func:`out_of_view`."""
    policy = params["on_driver_change"]
    saved = saved if saved is not None else leaving
    if record is not None:
        covered = mounting and not (now and now[2].rstrip("/") != target[2].rstrip("/"))  # else left in the old root
        record.update(out_of_view(leaving, policy, now, target, (host.get("mount") or {}).get("aside") if covered else None,
                                  pool))
    if policy == "fail" and any(leaving.get(k) for k in ("images", "containers", "volumes", "driver_data")):
        raise _refusal(now, target, _parts(leaving["images"], leaving["containers"], leaving.get("driver_data"),
                                           leaving.get("volumes") or ()), leaving, mounting=mounting, pool=pool)
    if policy == "migrate":
        if saved["images"] and now is None:
            raise Refusal("on_driver_change: migrate needs the engine running on its current %s to save its images; it is "
                          "stopped (start it, or use preserve)" % ("pool" if pool else "data root" if mounting else "driver"))
        if saved["images"]:
            _plan_save(host, params, saved, now, actions, target, movable=not mounting and not pool)
        elif (already or unknown) and now is None:
            raise Refusal("on_driver_change: migrate needs the engine running on its current driver to save "
                          "images; it is stopped and %s hold images it cannot see (use preserve to start anyway)"
                          % ", ".join(sorted(set(i["driver"] for i in already)) + sorted(unknown or {})))
    actions.extend(before_stop)
    if policy == "wipe" and wipe and now is not None and (saved["images"] or saved["containers"]):
        actions.append(Action("wipe_engine", "remove %d container(s) and %d image(s) of %s%s" % (
            len(saved["containers"]), len(saved["images"]), now[0],
            "; volumes %s are kept" % ", ".join(leaving["volumes"]) if leaving.get("volumes") and not mounting else ""),
            containers=[c["name"] for c in saved["containers"]], images=[i["id"] for i in saved["images"]]))


def out_of_view(leaving, policy, now, target, aside=None, pool=None):
    """Where each item that leaves the engine's view ends up, for the plan, check mode and the result:
    ``{"images", "containers", "volumes"}``, each row ``{"name", ..., "fate", "where", "how"}``; ``fate`` is
    ``hidden`` (kept on disk, out of the engine's view) or ``deleted`` (wipe). Migrated images and carried volumes
    are not here: they stay in view (``storage.migration``)."""
    out = {"images": [], "containers": [], "volumes": []}
    if policy == "fail":
        return out
    old_driver = now[0] if now else None
    old_root = (now[2] if now else target[2]).rstrip("/") or "/"
    base = aside or old_root
    back = "switch back to %s%s to reach it" % (old_driver or "the previous driver", "" if base != old_root or old_root == target[2].rstrip("/")
                                                else " with data_root %s" % old_root)
    if aside:
        back = "it is under %s, outside the engine's view; mount that content back on %s to reach it" % (aside, target[2])
    if pool:
        back = "it is in the pool %s's data (set aside); switch back to that pool to reach it" % pool["from"]
    for c in leaving.get("containers") or []:
        row = {"name": c.get("name"), "id": c.get("id"), "state": c.get("state")}
        if policy == "wipe":
            row.update(fate="deleted", where=None, how="removed with its writable layer (on_driver_change: wipe)")
        else:
            row.update(fate="hidden", where="%s/containers/%s" % (base, c.get("id")),
                       how="containers are not migrated: recreate it on the new storage from its configuration there "
                           "(image, command, mounts), or %s" % back)
        out["containers"].append(row)
    for v in leaving.get("volumes") or []:
        if policy == "migrate":
            continue
        if policy == "wipe" and aside:
            out["volumes"].append({"name": v, "fate": "deleted", "where": None, "how": "removed with %s (on_driver_change: wipe)" % aside})
        else:
            out["volumes"].append({"name": v, "fate": "hidden", "where": "%s/volumes/%s/_data" % (base, v),
                                   "how": "a new volume of that name would start empty: copy this data into it, or use "
                                          "on_driver_change: migrate, which carries volumes; or %s" % back})
    for i in leaving.get("images") or []:
        if policy == "migrate" and not i["name"].startswith("<none>"):
            continue
        row = {"name": i["name"], "id": i.get("id"), "driver": i.get("driver") or old_driver}
        if policy == "wipe":
            row.update(fate="deleted", where=None, how="removed (on_driver_change: wipe)")
        else:
            row.update(fate="hidden", where="%s/image/%s" % (base, row["driver"]),
                       how=("untagged images are not saved by migrate (tag it to carry it); " if policy == "migrate" else "") + back)
        out["images"].append(row)
    return out


def _carry(names, src, dst):
    return Action("carry_volumes", "carry volumes %s from %s to %s (renamed on the same filesystem, else copied and "
                  "verified by content hash, the original kept)" % (", ".join(names), src, dst), names=list(names), src=src, dst=dst)


def plan_mkfs(host, mount, wanted):
    """mount.mkfs: the ``make_filesystem`` action, or None when the device carries the filesystem already; raises
    Refusal for a device in use (always), with signatures (without mount.wipe_signatures) or without the mkfs tool."""
    fstype, device = wanted["fstype"], mount.get("device") or {}
    refuse_unusable(dict(device, path=wanted["src"]), "mount", "a filesystem")
    if carries(device, fstype):
        return None
    found = refuse_signatures(dict(device, path=wanted["src"]), wanted.get("wipe_signatures"), "mount.wipe_signatures",
                              "a %s filesystem" % fstype)
    tool = "mkfs." + fstype
    if not (host.get("binaries") or {}).get(tool):
        raise Refusal("mount: mkfs: %s is not installed on this host; install it (the backend role does, with "
                      "backend_manage_packages) or make the filesystem beforehand; nothing was changed" % tool,
                      missing_tools=[tool])
    argv = mkfs_argv(fstype, wanted.get("mkfs_opts"), device["real"])
    return Action("make_filesystem", "make a %s filesystem on %s (%s)%s" % (
        fstype, wanted["src"], " ".join(argv), "; its signatures erased first: %s" % found if found else ""),
        src=wanted["src"], fstype=fstype, opts=wanted.get("mkfs_opts") or "", wipe=bool(found))


def _plan_pool_change(host, params, now, target, pool, actions, record=None):
    """devicemapper moving to another pool (loop-lvm -> direct-lvm): the images live in the old pool, so this is a
    driver change in disguise. The old pool's data (its loop files, metadata and image store) is set aside, reachable,
    or removed (wipe); migrate carries the images over by ID."""
    root = target[2].rstrip("/") or "/"
    if now is not None:
        items = in_view(host)
    else:
        store = (host.get("stores") or {}).get("devicemapper") or {}
        items = {"images": images_of(store), "containers": [c for c in host.get("disk_containers") or []
                                                            if c.get("driver") == "devicemapper"]}
    policy = params["on_driver_change"]
    apply_policy(host, params, now, target, dict(items, driver_data={}), actions, pool=pool, wipe=False, record=record)
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


STAGE_DIR = ".cow-storage-stage"


def migration_path(host, now, target, movable=True):
    """How migrate moves the images: ``("staged", why)`` where a second engine can build the new store beside the
    running one, on the data root's own filesystem, for a rename into place (the images stay usable until the one
    restart; no archive), else ``("archive", why)``: save, switch, load."""
    driver = target[0]
    if not movable:
        return "archive", "a mount or a thin pool change moves the store to other storage"
    if now[1] != "graphdriver" or target[1] != "graphdriver":
        return "archive", "the containerd image store is not staged"
    if now[2].rstrip("/") != target[2].rstrip("/"):
        return "archive", "the data root moves to %s" % target[2]
    if not DRIVERS[driver].stageable:
        return "archive", "%s keeps its store outside plain directories of the data root" % driver
    if ((host.get("prior") or {}).get(driver) or {}).get("entries") or (host.get("stores") or {}).get(driver):
        return "archive", "the data root holds %s data already" % driver
    if not (host.get("binaries") or {}).get("dockerd"):
        return "archive", "dockerd is not on the PATH of the module (a second engine cannot be started)"
    return "staged", ("a second engine on %s builds the %s store while the engine serves; the one restart renames it into "
                      "place" % (target[2], driver))


def _plan_save(host, params, items, now, actions, target, movable=True):
    busy = [c for c in items["containers"] if c.get("state") == "running"]
    if busy and not params.get("stop_containers"):
        raise Refusal("on_driver_change: migrate refuses while containers run: %s; stop them or set "
                      "stop_containers: true" % _names(busy))
    if busy:
        actions.append(Action("stop_containers", "stop running containers %s" % ", ".join(c["name"] for c in busy),
                              names=[c["name"] for c in busy]))
    tagged = [i for i in items["images"] if not i["name"].startswith("<none>")]
    if not tagged:
        return
    path, why = migration_path(host, now, target, movable)
    if params.get("migrate_method") == "archive":
        path, why = "archive", "migrate_method: archive"
    if path == "staged":
        root = target[2].rstrip("/") or "/"
        check_space(host, target[0], archive=False)
        actions.append(Action("stage_images", "stream %d tagged image(s) from the running engine into a second engine on %s "
                              "(%s) under %s/%s, while the engine serves" % (len(tagged), target[0], root, root, STAGE_DIR),
                              images=tagged, driver=target[0], root=root, stage="%s/%s" % (root, STAGE_DIR), why=why))
        return
    where = check_migrate_dir(host, params, now)
    check_space(host, params.get("driver"))
    actions.append(Action("save_images", "save %d tagged image(s) to a private directory (0700, root's) made under %s"
                          % (len(tagged), where), images=tagged, dir=where, why=why))


def space_needed(space, store_on_root=True, archive=True):
    """``[(filesystem, bytes needed, bytes free)]`` a migration needs on each filesystem that receives data, from the
    running store's size S on disk (an estimate: a copy-on-write target needs about as much, vfs more): the archive S
    on migrate_path's filesystem, docker load's staging S and (``store_on_root``: not for devicemapper, whose store
    is its thin pool) the new store S on the data root's (a new mount's is not known before it is made).
    Filesystems shared by both are summed."""
    if not space or not space.get("store_bytes"):
        return []
    size = space["store_bytes"]
    needs = {}
    for where, amount in ((space.get("migrate") if archive else None, size), (space.get("target"), (2 if store_on_root else 1) * size)):
        if where:
            entry = needs.setdefault(where["device"], [where["path"], 0, where["free"]])
            entry[1] += amount
    return [tuple(v) for k, v in sorted(needs.items())]


def check_space(host, driver=None, archive=True):
    """Refuses a migration whose archive, new store and load staging do not fit, before any change, naming the
    filesystem and the bytes (a migrate switched the engine, then failed the load with "no space left")."""
    short = [(path, need, free) for path, need, free in space_needed(host.get("space"), driver != "devicemapper", archive) if need > free]
    if short:
        raise Refusal("on_driver_change: migrate needs room the host does not have: %s (the running store holds %d bytes: "
                      "%s); %s; nothing was changed"
                      % ("; ".join("%d bytes on the filesystem of %s, %d free" % (need, path, free) for path, need, free in short),
                         host["space"]["store_bytes"],
                         "the archive, the new store and docker load's staging each take about as much" if archive else
                         "the staged store and docker load's staging each take about as much, on the data root's filesystem",
                         "free space or give migrate_path on another filesystem" if archive else "free space on it"))


def check_migrate_dir(host, params, now):
    """The real directory the archive goes under; raises Refusal for one another user controls, one that is not a
    directory, or one inside a data root (the engine's, or the one a mount covers)."""
    seen = host.get("migrate_dir") or {}
    given = params.get("migrate_path") or DEFAULT_MIGRATE_PATH
    if seen.get("problem"):
        raise Refusal("migrate_path: %s; nothing was changed (another user could swap the archive between save and "
                      "load; give a directory only root can write to)" % seen["problem"])
    if seen.get("exists_as") not in (None, "dir"):
        raise Refusal("migrate_path: %s exists and is not a directory (%s); nothing was changed" % (given, seen["exists_as"]))
    real = seen.get("real") or given
    for root in sorted(set(r for r in (now[2] if now else None, host.get("target_data_root"), host.get("data_root")) if r)):
        root = (host.get("real_roots") or {}).get(root, root)
        if real == root or real.startswith(root.rstrip("/") + "/"):
            raise Refusal("migrate_path: %s%s lies inside the data root %s, which the change covers or hands to another "
                          "driver; give a directory outside it; nothing was changed"
                          % (given, "" if real == given else " (-> %s)" % real, root))
    return real


def plan(host, params):
    """Observed ``host`` + ``params`` -> ``(actions, facts)``; raises Refusal for every refusal.

    ``facts`` carries the resolved driver, the reason, the switch decision and the new config.
    """
    validate_params(params, host)
    store, store_reason = resolve_image_store(host, params)
    params = dict(params, image_store=store)
    if (host.get("binaries") or {}).get("docker") is False:
        # without it the engine cannot be checked after a restart (nor images listed, saved or loaded)
        raise Refusal("the docker CLI is not installed on this host (Debian 13 and later ship it in the docker-cli "
                      "package, apart from docker.io); install it first, nothing was changed")
    driver, reason = params["driver"], "requested"
    if driver == "auto":
        driver, reason = resolve_auto(host, params)
    problems = DRIVERS[driver]().check(host, dict(params, driver=driver))
    if problems:
        raise Refusal(problems[0] if len(problems) == 1 else "; ".join(problems))
    if params.get("options") is None:
        stale = [k for k in sorted(options_dict(host["config"].get("storage-opts")))
                 if not _has_prefix(k, DRIVERS[driver].option_prefixes)]
        if stale:
            raise Refusal("options: %s has storage-opts %s that the %s driver does not accept; pass options "
                          "(an empty dict removes them)" % (params["config_path"], ", ".join(stale), driver))

    new_config = desired_config(host["config"], params, driver, host.get("version"))
    check_engine_flags(host, params, new_config)
    config_changes = new_config != host["config"]
    now = current_storage(host)
    target = target_storage(driver, params, host)
    running = now is not None
    policy = params["on_driver_change"]
    actions = []
    record = {}
    mounting = bool(host.get("mount")) and plan_mount(host, params, now, target, actions, record)
    pool = None if mounting or driver != "devicemapper" else Devicemapper.pool_change(host, params)
    switching = running and (tuple(now) != tuple(target) or mounting or bool(pool))
    state = hidden_after(host, params, target, driver)
    facts = {"driver": driver, "reason": reason, "image_store": store, "image_store_reason": store_reason,
             "target": target, "switching": switching, "mounting": mounting, "pool_change": pool,
             "config": new_config, "config_changes": config_changes, "hidden": state,
             "missing_tools": missing_tools(host, params, driver)}

    starting = not running and bool(params.get("restart"))
    if pool:
        _plan_pool_change(host, params, now, target, pool, actions, record)
    elif not mounting:
        # images the engine shows now, hidden by the switch; images already hidden on disk, kept hidden by a start;
        # volumes and containers left in the old data root when it changes
        items = in_view(host) if switching else {"images": [], "containers": []}
        ids = set(i["id"] for i in items["images"])
        already = [i for i in state["images"] if i["id"] not in ids] if (switching or starting) else []
        unknown = state["driver_data"] if starting else {}
        moving = bool(running and now[2] and target[2] and now[2].rstrip("/") != target[2].rstrip("/"))
        volumes = list(host.get("volumes") or []) if moving else []
        if (items["images"] or items["containers"] or volumes or already or unknown) and (config_changes or switching or starting):
            leaving = {"images": items["images"] + already, "containers": items["containers"], "volumes": volumes,
                       "driver_data": unknown}
            apply_policy(host, params, now, target, leaving, actions, saved=items, already=already, unknown=unknown,
                         record=record)
            if policy == "migrate" and volumes:
                # the engine stops first, so nothing writes to a volume while it moves; the restart starts it
                conflict = sorted(set(volumes) & set(host.get("target_volumes") or []))
                if conflict:
                    raise Refusal("on_driver_change: migrate: the data root %s has volumes of the same name already: %s; "
                                  "nothing was changed (move or remove one of each pair first)" % (target[2], ", ".join(conflict)))
                if host.get("target_volumes"):
                    raise Refusal("on_driver_change: migrate: the data root %s has volumes of its own (%s); carrying %s "
                                  "into it would replace its volume database; nothing was changed"
                                  % (target[2], ", ".join(host["target_volumes"]), ", ".join(volumes)))
                actions.append(Action("stop_engine", "stop the engine before carrying its volumes to %s" % target[2]))
                actions.append(_carry(volumes, "%s/volumes" % now[2].rstrip("/"), "%s/volumes" % target[2].rstrip("/")))
            if policy == "wipe":
                root = target[2].rstrip("/") or "/"
                for d in sorted(set(i["driver"] for i in already)) + sorted(unknown):
                    # the driver's layers and its image store (else its images would stay listed as hidden)
                    for path in ((host.get("prior") or {}).get(d, {}).get("path"),
                                 "%s/image/%s" % (root, d) if d in (host.get("stores") or {}) else None):
                        if path:
                            actions.append(Action("remove_driver_data", "remove %s" % path, path=path))

    plan_boot(host, params, target, mounting, actions)
    if config_changes:
        if params.get("validate") and _has_validate(host.get("version")):
            actions.append(Action("validate", "dockerd --validate the new %s" % params["config_path"], config=new_config))
        actions.append(Action("write_config", "write %s (%s)" % (params["config_path"], ", ".join(_changed_keys(host["config"], new_config))),
                              config=new_config))
    staged = next((a for a in actions if a.kind == "stage_images"), None)
    if staged is not None:
        at = next((i for i, a in enumerate(actions) if a.kind in ("validate", "write_config")), len(actions))
        insert = [Action("swap_stores", "rename the staged %s store (%s/%s, %s/image/%s) into the data root %s" % (
            staged.args["driver"], staged.args["stage"], staged.args["driver"], staged.args["stage"], staged.args["driver"],
            staged.args["root"]), driver=staged.args["driver"], root=staged.args["root"], stage=staged.args["stage"])]
        if not any(a.kind == "stop_engine" for a in actions):
            insert.insert(0, Action("stop_engine", "stop the engine (the images are unavailable from here to the restart)"))
        # validate first: the engine is stopped only for a configuration it takes
        if at < len(actions) and actions[at].kind == "validate":
            at += 1
        actions[at:at] = insert
    facts["migration_path"] = next(({"path": "staged" if a.kind == "stage_images" else "archive", "why": a.args["why"]}
                                    for a in actions if a.kind in ("stage_images", "save_images")), None)
    facts["out_of_view"] = record or {"images": [], "containers": [], "volumes": []}
    needs_restart = config_changes or switching
    if params.get("restart") and (needs_restart or not running):
        stopped = any(a.kind == "stop_engine" for a in actions)
        actions.append(Action("restart", "%s the engine and verify it runs %s" % ("restart" if running and not stopped else "start", target[0]),
                              driver=target[0], image_store=target[1], start=bool(stopped or not running)))
        for action in list(actions):
            if action.kind == "save_images":
                actions.append(Action("load_images", "load the archive saved under %s and verify %d image ID(s) against the "
                                      "journal" % (action.args["dir"], len(action.args["images"])),
                                      images=action.args["images"], dir=action.args["dir"]))
            if action.kind == "stage_images":
                actions.append(Action("verify_images", "verify %d image ID(s) on %s against the journal" % (
                    len(action.args["images"]), action.args["driver"]), images=action.args["images"]))
                left = facts["out_of_view"]
                old_store = ["%s/%s" % (action.args["root"], sub) for sub in (now[0], "image/%s" % now[0])]
                if policy == "preserve" or left["images"] or left["containers"]:
                    facts["migration_path"]["old_store"] = "kept: %s" % (
                        "the untagged images and containers it holds are not migrated (storage.out_of_view)"
                        if left["images"] or left["containers"] else "preserve")
                else:
                    facts["migration_path"]["old_store"] = "removed once every image is verified on %s" % action.args["driver"]
                    actions.append(Action("remove_old_store", "remove the previous %s store (%s), every image being verified "
                                          "on %s" % (now[0], ", ".join(old_store), action.args["driver"]),
                                          paths=old_store, driver=now[0]))
    if params.get("enabled") and host.get("enabled") is False:
        actions.append(Action("enable_engine", "enable the engine at boot (systemctl enable docker.service)"))
    return actions, facts


def missing_tools(host, params, driver=None):
    """The programs the backend needs (``drivers.needed_tools``) that the host lacks: what a role installs before
    it prepares the device, without a probe of its own."""
    have = host.get("binaries") or {}
    return [t for t in needed_tools(driver or params.get("driver"), params) if not have.get(t)]


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
