# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The driver registry and the planner of docker_storage_backend, on host facts built from output captured on
the lab hosts (docker info on vfs/ext4, overlay2/xfs, btrfs; xfs_info; image ls; ps -a; journal of a failed start).
The parsers added to host for the planner are tested here too."""

from __future__ import annotations

import json

import pytest

from ansible_collections.cow.storage.plugins.module_utils._docker import parse as dpa
from ansible_collections.cow.storage.plugins.module_utils._docker import plan as dp
from ansible_collections.cow.storage.plugins.module_utils._docker import drivers as drv

__metaclass__ = type  # pylint: disable=invalid-name

from ansible_collections.cow.storage.tests.unit.plugins.module_utils._docker.conftest import (
    CONTAINERS,
    IMAGES,
    fixture,
    host,
    kinds,
    params,
)


# --- parsers ---------------------------------------------------------------------------------------

def test_lab_docker_info_fixtures():
    vfs = dpa.parse_docker_info(fixture("info-20.10-vfs-lab.json"))
    assert (vfs["driver"], vfs["version"], vfs["running"]) == ("vfs", "20.10.24+dfsg1", True)
    xfs = dpa.parse_docker_info(fixture("info-20.10-overlay2-lab.json"))
    assert (xfs["driver"], xfs["backing_filesystem"], xfs["d_type"]) == ("overlay2", "xfs", True)
    btrfs = dpa.parse_docker_info(fixture("info-20.10-btrfs-lab.json"))
    assert btrfs["driver"] == "btrfs" and btrfs["backing_filesystem"] is None


def test_xfs_info_ftype():
    assert dpa.parse_xfs_info_ftype(fixture("xfs_info-ftype1.txt")) is True
    assert dpa.parse_xfs_info_ftype(fixture("xfs_info-ftype0.txt")) is False
    assert dpa.parse_xfs_info_ftype("nothing") is None


def test_image_and_container_listing():
    assert [i["name"] for i in IMAGES] == ["cowtest:1", "cowtest:2", "cowtest:alias"]
    assert IMAGES[0]["id"] == IMAGES[2]["id"] and IMAGES[0]["id"].startswith("sha256:")
    assert [(c["name"], c["state"]) for c in CONTAINERS] == [("c1", "running"), ("c2", "created")]


def test_engine_error_from_journal():
    error = dpa.engine_error_from_journal(fixture("journal-20.10-start-failed.txt"))
    assert error == 'failed to start daemon: error initializing graphdriver: strconv.ParseBool: parsing "maybe": invalid syntax'
    assert dpa.engine_error_from_journal("") is None
    assert dpa.engine_error_from_journal("a\nb\n") == "b"


def test_daemon_json_cases():
    config = dpa.parse_daemon_json(fixture("daemon-dm-other-keys.json"))
    assert config["storage-driver"] == "devicemapper" and config["live-restore"] is True
    assert dpa.parse_daemon_json(fixture("daemon-empty.json")) == {}
    with pytest.raises(ValueError, match="not valid JSON"):
        dpa.parse_daemon_json(fixture("daemon-trailing-comma.json"))
    with pytest.raises(ValueError, match="not an object"):
        dpa.parse_daemon_json(fixture("daemon-not-object.json"))
    assert dpa.parse_du_bytes("4096\t/var/lib/docker/vfs\n") == 4096
    assert dpa.parse_du_bytes("") == 0


# --- registry --------------------------------------------------------------------------------------

def test_registry_covers_choices():
    for name in drv.CHOICES:
        if name != "auto":
            assert drv.DRIVERS[name].name == name
    assert drv.DRIVERS["fuse-overlayfs"].option_prefixes == ()
    assert drv.DRIVERS["overlay2"].snapshotter == "overlayfs" and drv.DRIVERS["vfs"].snapshotter == "native"


def test_version_tuple():
    assert drv.version_tuple("20.10.24+dfsg1") == (20, 10, 24)
    assert drv.version_tuple("Docker version 25.0.3, build 4debf41") == (25, 0, 3)
    assert drv.version_tuple(None) is None


@pytest.mark.parametrize("name,version,removed", [
    ("devicemapper", "20.10.24", False), ("devicemapper", "24.0.9", False), ("devicemapper", "25.0.0", True),
    ("aufs", "23.0.6", False), ("aufs", "24.0.0", True), ("overlay", "27.1.1", True), ("overlay2", "29.0.0", False),
])
def test_removed_drivers(name, version, removed):
    problems = drv.DRIVERS[name]().check(host(version=version), params(driver=name, options={"dm.thinpooldev": "/dev/x"}))
    assert any("the %s storage-driver has been deprecated and removed" % name in p for p in problems) == removed


def test_option_prefixes():
    assert drv.Overlay2().option_problems({"overlay2.size": "1G", "overlay2.override_kernel_check": "true"}) == []
    assert drv.Devicemapper().option_problems({"dm.basesize": "20G"}) == []
    problems = drv.FuseOverlayfs().option_problems({"overlay2.size": "1G"})
    assert problems == ["options: overlay2.size is not an option of the fuse-overlayfs driver (it accepts: none)"]
    assert drv.Btrfs().option_problems({"btrfs.min_space": "1G", "zfs.fsname": "x"})[0].startswith("options: zfs.fsname")


def test_backing_filesystem_and_d_type():
    assert drv.Btrfs().check(host(backing="xfs"), params(driver="btrfs"))[0].startswith("driver: btrfs needs its data root on btrfs")
    assert drv.Btrfs().check(host(backing="btrfs"), params(driver="btrfs")) == []
    assert "not supported over btrfs" in drv.Overlay2().check(host(backing="btrfs"), params())[0]
    assert "ftype=1" in drv.Overlay2().check(host(backing="xfs", d_type=False), params())[0]
    assert drv.Vfs().check(host(backing="xfs", d_type=False), params(driver="vfs")) == []


def test_kernel_and_binaries():
    assert "not in /proc/filesystems" in drv.Zfs().check(host(backing="zfs"), params(driver="zfs"))[0]
    problems = drv.FuseOverlayfs().check(host(binaries={}), params(driver="fuse-overlayfs"))
    assert problems == ["driver: fuse-overlayfs needs the fuse-overlayfs program, which is not installed"]
    assert drv.FuseOverlayfs().check(host(dev_fuse=False), params(driver="fuse-overlayfs")) == [
        "driver: fuse-overlayfs needs /dev/fuse, which this host lacks (load the fuse module; in a container, give it the device)"]
    assert drv.FuseOverlayfs().check(host(dev_fuse=True), params(driver="fuse-overlayfs")) == []


def test_size_options_need_pquota():
    opts = {"overlay2.size": "10G"}
    assert drv.Overlay2().check(host(backing="xfs"), params(options=opts))[0].startswith("options: overlay2.size needs")
    assert drv.Overlay2().check(host(backing="xfs", mount_options=["rw", "prjquota"]), params(options=opts)) == []
    assert drv.Overlay2().check(host(backing="ext4", mount_options=["rw", "prjquota"]), params(options=opts))


def test_devicemapper_thin_pool():
    dm = drv.Devicemapper()
    assert dm.check(host(), params(driver="devicemapper", options={}))[0].startswith("options: devicemapper needs a thin pool")
    pool = {"dm.thinpooldev": "/dev/mapper/docker-thinpool"}
    assert "not a thin pool" in dm.check(host(thinpool={"target": "linear"}), params(driver="devicemapper", options=pool))[0]
    assert dm.check(host(thinpool={"target": "thin-pool"}), params(driver="devicemapper", options=pool)) == []
    assert "no such" in dm.check(host(thinpool={"error": "no such device"}), params(driver="devicemapper", options=pool))[0]


# --- auto --------------------------------------------------------------------------------------------

def test_auto_follows_the_engine_order():
    name, why = drv.resolve_auto(host(backing="ext4"), params(driver="auto"))
    assert name == "overlay2" and "btrfs,zfs,overlay2" in why and "skipped: btrfs" in why
    assert drv.resolve_auto(host(backing="btrfs"), params(driver="auto"))[0] == "btrfs"
    # 25.0: overlay2 first, refused over btrfs; fuse-overlayfs next when installed
    assert drv.resolve_auto(host(backing="btrfs", version="25.0.3"), params(driver="auto"))[0] == "fuse-overlayfs"
    assert drv.resolve_auto(host(backing="btrfs", version="25.0.3", binaries={}), params(driver="auto"))[0] == "btrfs"
    assert drv.resolve_auto(host(backing="xfs", d_type=False, binaries={}), params(driver="auto"))[0] == "vfs"


def test_auto_honours_prior_driver_data():
    prior = {"btrfs": {"path": "/var/lib/docker/btrfs", "entries": 1, "layers": 3}, "vfs": {"path": "/v", "entries": 2, "layers": 2}}
    name, why = drv.resolve_auto(host(backing="btrfs", version="25.0.3", prior=prior), params(driver="auto"))
    assert name == "btrfs" and "prior driver data" in why
    with pytest.raises(drv.Refusal, match="several valid graphdrivers: btrfs, overlay2"):
        drv.resolve_auto(host(backing="ext4", prior=dict(prior, overlay2={"entries": 1})), params(driver="auto"))
    with pytest.raises(drv.Refusal, match="prior driver data of btrfs"):
        drv.resolve_auto(host(backing="ext4", prior=prior), params(driver="auto"))


# --- config ------------------------------------------------------------------------------------------

def test_desired_config_keeps_other_keys_in_order():
    config = dpa.parse_daemon_json(fixture("daemon-dm-other-keys.json"))
    new = dp.desired_config(config, params(options={}), "overlay2", "24.0.9")
    assert list(new) == ["log-driver", "log-opts", "storage-driver", "live-restore", "features"]
    assert new["storage-driver"] == "overlay2" and new["features"] == {"buildkit": True}
    assert config["storage-driver"] == "devicemapper"  # not modified in place
    snap = dp.desired_config(config, params(options={}, image_store="containerd"), "overlay2", "27.0.0")
    assert snap["storage-driver"] == "overlayfs" and snap["features"] == {"buildkit": True, "containerd-snapshotter": True}
    back = dp.desired_config(snap, params(), "overlay2", "27.0.0")
    assert back["features"]["containerd-snapshotter"] is False
    rooted = dp.desired_config({"graph": "/old"}, params(data_root="/srv/docker", options={"overlay2.size": "1G"}), "overlay2", None)
    assert rooted == {"storage-driver": "overlay2", "storage-opts": ["overlay2.size=1G"], "data-root": "/srv/docker"}


# --- plan --------------------------------------------------------------------------------------------

def test_fresh_stopped_engine_is_configured_and_started():
    actions, facts = dp.plan(host(info=None, config={}), params(driver="vfs"))
    assert kinds(actions) == ["write_config", "restart"]
    assert facts["config"] == {"storage-driver": "vfs"} and not facts["switching"]


def test_idempotent():
    actions, facts = dp.plan(host(), params(driver="vfs"))
    assert actions == [] and not facts["config_changes"]


def test_stopped_engine_with_right_config_is_started_only_when_restart():
    assert kinds(dp.plan(host(info=None, config={"storage-driver": "vfs"}), params(driver="vfs"))[0]) == ["restart"]
    assert dp.plan(host(info=None, config={"storage-driver": "vfs"}), params(driver="vfs", restart=False))[0] == []


def test_default_policy_lists_what_would_be_hidden():
    with pytest.raises(drv.Refusal) as err:
        dp.plan(host(images=IMAGES, containers=CONTAINERS), params())
    msg = str(err.value)
    assert msg.startswith("on_driver_change: switching vfs")
    assert "cowtest:1 (sha256:6adc95242fae)" in msg and "cowtest:alias" in msg and "c1 (running)" in msg
    assert err.value.details["would_hide"]["images"] == IMAGES


def test_empty_engine_switches_without_policy():
    actions, facts = dp.plan(host(), params())
    assert kinds(actions) == ["write_config", "restart"] and facts["switching"]


def test_migrate():
    with pytest.raises(drv.Refusal, match="refuses while containers run: c1"):
        dp.plan(host(images=IMAGES, containers=CONTAINERS), params(on_driver_change="migrate"))
    actions, dummy = dp.plan(host(images=IMAGES, containers=CONTAINERS), params(on_driver_change="migrate", stop_containers=True))
    assert kinds(actions) == ["stop_containers", "save_images", "write_config", "restart", "load_images"]
    assert actions[0].args["names"] == ["c1"]
    assert actions[1].args["dir"] == "/var/lib/cow-storage/migrate" and "path" not in actions[1].args
    assert actions[4].args["images"] == IMAGES
    with pytest.raises(drv.Refusal, match="^on_driver_change: migrate needs restart"):
        dp.plan(host(images=IMAGES), params(on_driver_change="migrate", restart=False))


STAGER = {"fuse-overlayfs": True, "zfs": False, "dockerd": True}


def test_migrate_stages_the_new_store_while_the_engine_serves():
    # issue 27: a second engine builds the new store on the data root's filesystem; the one stop is followed by a
    # rename, no archive, and the IDs are verified on the restarted engine
    actions, facts = dp.plan(host(images=IMAGES, binaries=STAGER), params(on_driver_change="migrate"))
    assert kinds(actions) == ["stage_images", "stop_engine", "swap_stores", "write_config", "restart", "verify_images",
                              "remove_old_store"]
    assert actions[6].args["paths"] == ["/var/lib/docker/vfs", "/var/lib/docker/image/vfs"]
    assert facts["migration_path"]["old_store"].startswith("removed once every image is verified")
    stage = actions[0].args
    assert (stage["driver"], stage["root"], stage["stage"]) == ("overlay2", "/var/lib/docker", "/var/lib/docker/.cow-storage-stage")
    assert stage["images"] == IMAGES and actions[5].args["images"] == IMAGES
    assert actions[4].args["start"] is True
    assert facts["migration_path"]["path"] == "staged"
    # on an engine with --validate, the configuration is validated before the engine stops
    actions, dummy = dp.plan(host(images=IMAGES, binaries=STAGER, version="25.0.5"), params(on_driver_change="migrate"))
    assert kinds(actions)[:4] == ["stage_images", "validate", "stop_engine", "swap_stores"]
    # the staged store and load's staging on the data root's filesystem, no archive: refused up front when short
    short = {"store_bytes": 1000, "target": {"path": "/var/lib/docker", "device": 1, "free": 1500}, "migrate": None}
    with pytest.raises(drv.Refusal, match=r"2000 bytes on the filesystem of /var/lib/docker, 1500 free .* the staged store"):
        dp.plan(host(images=IMAGES, binaries=STAGER, space=short), params(on_driver_change="migrate"))
    # a container of the old driver keeps the old store (its layers are there), and the result says why
    stopped = [dict(CONTAINERS[1])]
    actions, facts = dp.plan(host(images=IMAGES, containers=stopped, binaries=STAGER), params(on_driver_change="migrate"))
    assert "remove_old_store" not in kinds(actions) and facts["migration_path"]["old_store"].startswith("kept: the untagged")


@pytest.mark.parametrize("case, observed, wanted, why", [
    ("no dockerd", dict(binaries={"fuse-overlayfs": True, "zfs": False}), {}, "dockerd is not on the PATH"),
    ("the target's data there", dict(prior={"overlay2": {"path": "/var/lib/docker/overlay2", "entries": 3}}), {},
     "the data root holds overlay2 data already"),
    ("a new data root", {}, dict(data_root="/srv/docker"), "the data root moves to /srv/docker"),
    ("fuse-overlayfs", {}, dict(driver="fuse-overlayfs"), "fuse-overlayfs keeps its store outside plain directories"),
])
def test_migrate_keeps_the_archive_path_where_staging_cannot_work_and_says_why(case, observed, wanted, why):
    actions, facts = dp.plan(host(images=IMAGES, **dict({"binaries": STAGER}, **observed)), params(on_driver_change="migrate", **wanted))
    assert "stage_images" not in kinds(actions) and "save_images" in kinds(actions), case
    assert facts["migration_path"]["path"] == "archive" and facts["migration_path"]["why"].startswith(why)


def test_preserve_and_wipe():
    assert kinds(dp.plan(host(images=IMAGES), params(on_driver_change="preserve"))[0]) == ["write_config", "restart"]
    with pytest.raises(drv.Refusal, match="^on_driver_change: wipe .* needs force: true"):
        dp.plan(host(images=IMAGES), params(on_driver_change="wipe"))
    actions, dummy = dp.plan(host(images=IMAGES, containers=CONTAINERS), params(on_driver_change="wipe", force=True))
    assert kinds(actions) == ["wipe_engine", "write_config", "restart"]
    assert actions[0].args["containers"] == ["c1", "c2"]


def test_stopped_engine_with_foreign_driver_data():
    prior = {"vfs": {"path": "/var/lib/docker/vfs", "size": 8002782, "entries": 2, "layers": 4}}
    stopped = host(info=None, config={"storage-driver": "vfs"}, prior=prior)
    with pytest.raises(drv.Refusal, match="driver data: /var/lib/docker/vfs .8002782 bytes"):
        dp.plan(stopped, params())
    with pytest.raises(drv.Refusal, match="engine running"):
        dp.plan(stopped, params(on_driver_change="migrate"))
    assert kinds(dp.plan(stopped, params(on_driver_change="wipe", force=True))[0]) == ["remove_driver_data", "write_config", "restart"]


def test_validate_only_where_the_engine_has_it():
    new = host(version="25.0.3", config={"storage-driver": "vfs"})
    assert kinds(dp.plan(new, params())[0]) == ["validate", "write_config", "restart"]
    assert kinds(dp.plan(new, params(validate=False))[0]) == ["write_config", "restart"]
    assert dp.validation_note(params(), host()).startswith("skipped: dockerd 20.10.24+dfsg1 has no --validate")


@pytest.mark.parametrize("kw,hostkw,start", [
    ({"data_root": "var/lib/docker"}, {}, "data_root:"),
    ({"driver": "devicemapper", "options": {}}, {}, "options: devicemapper needs a thin pool"),
    ({"driver": "devicemapper", "options": {"dm.thinpooldev": "/dev/mapper/p"}}, {"version": "25.0.3"}, "driver: the devicemapper storage-driver"),
    ({"options": {"vfs.size": "1G"}}, {}, "options: vfs.size is not an option of the overlay2 driver"),
    ({"image_store": "containerd"}, {}, "image_store: containerd needs Docker Engine 24.0"),
    ({}, {"config": {"storage-driver": "devicemapper", "storage-opts": ["dm.basesize=20G"]}}, "options: /etc/docker/daemon.json has storage-opts dm.basesize"),
])
def test_bad_input_names_the_parameter(kw, hostkw, start):
    with pytest.raises(drv.Refusal) as err:
        dp.plan(host(**hostkw), params(**kw))
    assert str(err.value).startswith(start), str(err.value)


def test_containerd_image_store_on_new_engine():
    new = host(version="27.1.1", config={"storage-driver": "vfs", "log-level": "warn"})
    actions, facts = dp.plan(new, params(image_store="containerd"))
    assert facts["target"] == ("overlayfs", "containerd", "/var/lib/docker")
    assert json.loads(dp.render_config(facts["config"])) == {
        "storage-driver": "overlayfs", "log-level": "warn", "features": {"containerd-snapshotter": True}}
    assert kinds(actions)[-1] == "restart" and actions[-1].args == {"driver": "overlayfs", "image_store": "containerd", "start": False}


def test_containerd_image_store_devmapper_needs_no_dm_thinpooldev_and_outlives_the_graph_driver():
    # Docker 27 removed the devicemapper graph driver, but with the containerd image store the engine uses
    # containerd's devmapper snapshotter, whose pool is in containerd's config.toml (containerd_snapshotter).
    new = host(version="27.1.1", config={"storage-driver": "vfs"})
    actions, facts = dp.plan(new, params(driver="devicemapper", image_store="containerd", options={}))
    assert facts["target"] == ("devmapper", "containerd", "/var/lib/docker")
    assert json.loads(dp.render_config(facts["config"]))["storage-driver"] == "devmapper"
    assert kinds(actions)[-1] == "restart"
    # the graph driver itself stays refused on that engine
    with pytest.raises(drv.Refusal, match="^driver: the devicemapper storage-driver"):
        dp.plan(new, params(driver="devicemapper", options={"dm.thinpooldev": "/dev/mapper/p"}))


def test_missing_docker_cli_is_refused_before_any_change():
    # Debian 13's docker.io has no CLI (docker-cli): restarting would wait for an engine nobody can ask about.
    stopped = host(config={})
    stopped["engine"] = {"running": False, "reason": "docker CLI not installed"}
    stopped["binaries"] = dict(stopped["binaries"], docker=False)
    with pytest.raises(drv.Refusal, match="^the docker CLI is not installed on this host"):
        dp.plan(stopped, params())


# ---------------------------------------------------------------- the data root's filesystem, hidden data as a state

ID_A = "sha256:" + "a" * 64
ID_B = "sha256:" + "b" * 64


def mount_facts(**kw):
    out = {"wanted": {"src": "/dev/vdb", "fstype": "xfs", "opts": "defaults", "fstab": "/etc/fstab"},
           "src_real": "/dev/vdb", "src_exists": True, "fstab_path": "/etc/fstab", "fstab_text": "", "root_exists": True,
           "in_place": False, "fstab_ok": False, "other": None, "entries": [], "aside": "/var/lib/docker.cow-storage-old",
           "contents": {"images": [], "containers": [], "volumes": [], "driver_data": {}}, "d_type": True}
    out.update(kw)
    return out


def mount_params(**kw):
    return params(mount={"src": "/dev/vdb", "fstype": "xfs", "opts": "defaults", "fstab": "/etc/fstab"},
                  migrate_path="/var/lib/cow-storage/migrate", enabled=True, **kw)


def test_mount_over_a_data_root_with_images_is_refused_by_default():
    contents = {"images": [{"name": "cowtest:1", "id": ID_A, "driver": "vfs"}], "containers": [], "volumes": [],
                "driver_data": {"vfs": {"path": "/var/lib/docker/vfs", "size": 10, "layers": 1}}}
    running = host(images=IMAGES, mount=mount_facts(contents=contents, entries=["image", "vfs"]))
    with pytest.raises(drv.Refusal, match="^on_driver_change: mounting /dev/vdb .xfs. on /var/lib/docker would hide images"):
        dp.plan(running, mount_params())


def test_mount_with_migrate_saves_first_and_moves_the_old_content_aside():
    running = host(images=IMAGES, mount=mount_facts(entries=["image", "vfs"]))
    actions, facts = dp.plan(running, mount_params(on_driver_change="migrate"))
    assert kinds(actions) == ["save_images", "try_mount", "stop_engine", "move_aside", "mount_data_root", "write_fstab",
                              "write_config", "restart", "load_images"]
    assert actions[0].args["dir"] == "/var/lib/cow-storage/migrate"
    assert actions[3].args == {"path": "/var/lib/docker", "aside": "/var/lib/docker.cow-storage-old"}
    assert actions[-2].args["start"] is True
    assert facts["mounting"] and facts["switching"]


def test_mount_with_preserve_keeps_the_old_content_reachable_and_wipe_removes_it():
    running = host(images=IMAGES, mount=mount_facts(entries=["image", "vfs"]))
    assert kinds(dp.plan(running, mount_params(on_driver_change="preserve"))[0]) == [
        "try_mount", "stop_engine", "move_aside", "mount_data_root", "write_fstab", "write_config", "restart"]
    wiped = dp.plan(running, mount_params(on_driver_change="wipe", force=True))[0]
    # the trial mount before anything irreversible
    assert kinds(wiped)[:5] == ["try_mount", "wipe_engine", "stop_engine", "move_aside", "remove_driver_data"]


def test_mount_on_an_empty_data_root_of_a_stopped_engine():
    fresh = host(info=None, config={}, mount=mount_facts())
    actions = dp.plan(fresh, mount_params())[0]
    assert kinds(actions) == ["try_mount", "mount_data_root", "write_fstab", "write_config", "restart"]


def test_mount_in_place_missing_from_fstab_is_persisted_only():
    done = host(config={"storage-driver": "vfs"}, mount=mount_facts(in_place=True), enabled=True)
    actions = dp.plan(done, mount_params(driver="vfs"))[0]
    assert kinds(actions) == ["write_fstab"]
    assert dp.plan(host(config={"storage-driver": "vfs"}, mount=mount_facts(in_place=True, fstab_ok=True), enabled=True),
                   mount_params(driver="vfs"))[0] == []


def test_mount_refusals_name_the_parameter():
    other = mount_facts(other={"source": "/dev/vdc", "fstype": "xfs", "root": "/"})
    with pytest.raises(drv.Refusal, match="^mount: /var/lib/docker is already a mount of /dev/vdc"):
        dp.plan(host(mount=other), mount_params())
    with pytest.raises(drv.Refusal, match="^mount: src /dev/vdb does not exist"):
        dp.plan(host(mount=mount_facts(src_exists=False)), mount_params())
    with pytest.raises(drv.Refusal, match="^mount: mounting a filesystem on the data root needs restart: true"):
        dp.plan(host(mount=mount_facts()), mount_params(restart=False))
    with pytest.raises(drv.Refusal, match="^mount: src dev/vdb must be an absolute"):
        dp.plan(host(mount=mount_facts()), dict(mount_params(), mount={"src": "dev/vdb", "fstype": "xfs"}))


BLANK_DEV = {"path": "/dev/vdb", "exists": True, "real": "/dev/vdb", "is_block": True, "disk": "/dev/vdb", "mounted": [],
             "holders": [], "signatures": []}


def mkfs_params(**kw):
    mount = {"src": "/dev/vdb", "fstype": "xfs", "opts": "defaults", "fstab": "/etc/fstab", "mkfs": True, "mkfs_opts": "",
             "wipe_signatures": False}
    mount.update(kw.pop("mount", {}))
    return params(mount=mount, migrate_path="/var/lib/cow-storage/migrate", enabled=True, **kw)


def mkfs_host(device=None, wanted=None, binaries=None, **kw):
    """A fresh host asked for ``wanted`` (the module's parameters; its mount is what the module observes)."""
    have = {"docker": True, "mkfs.xfs": True}
    have.update(binaries or {})
    mount = mount_facts(device=device or BLANK_DEV, wanted=(wanted or mkfs_params())["mount"], **kw.pop("mount", {}))
    return host(**dict(dict(info=None, config={}), binaries=have, mount=mount, **kw))


def mkfs_plan(device=None, binaries=None, **kw):
    wanted = mkfs_params(**kw)
    return dp.plan(mkfs_host(device, wanted, binaries), wanted)


def test_mkfs_formats_a_blank_device_in_the_change_and_not_one_that_carries_it():
    actions, facts = mkfs_plan()
    assert kinds(actions) == ["make_filesystem", "try_mount", "mount_data_root", "write_fstab", "write_config", "restart"]
    assert actions[0].args == {"src": "/dev/vdb", "fstype": "xfs", "opts": "", "wipe": False}
    assert "mkfs.xfs -n ftype=1 /dev/vdb" in actions[0].description
    assert facts["missing_tools"] == []
    made = dict(BLANK_DEV, signatures=[{"type": "xfs", "offset": "0x0", "uuid": "u", "label": None}])
    assert kinds(mkfs_plan(made)[0]) == ["try_mount", "mount_data_root", "write_fstab", "write_config", "restart"]


def test_mkfs_runs_after_the_save_and_before_the_engine_stops():
    wanted = mkfs_params(on_driver_change="migrate")
    running = mkfs_host(wanted=wanted, info="info-20.10-vfs-lab.json", config=None, images=IMAGES, mount={"entries": ["image", "vfs"]})
    actions = dp.plan(running, wanted)[0]
    assert kinds(actions)[:5] == ["save_images", "make_filesystem", "try_mount", "stop_engine", "move_aside"]
    # the default policy refuses before anything is formatted, naming the images
    with pytest.raises(drv.Refusal, match="^on_driver_change: mounting /dev/vdb .xfs. on /var/lib/docker would hide images"):
        dp.plan(running, mkfs_params())


@pytest.mark.parametrize("device, match", [
    (dict(BLANK_DEV, mounted=["/mnt"]), "^mount: /dev/vdb .*is mounted on /mnt; a filesystem is never made on a device in use"),
    (dict(BLANK_DEV, holders=["dm-0 holds vdb"]), "^mount: /dev/vdb .*is in use by dm-0 holds vdb"),
    (dict(BLANK_DEV, is_block=False), "^mount: /dev/vdb is not a block device"),
    (dict(BLANK_DEV, signatures=[{"type": "ext4", "offset": "0x438"}]),
     r"^mount.wipe_signatures: /dev/vdb \(/dev/vdb\) carries signatures \(ext4 at 0x438\); set mount.wipe_signatures: true"),
])
def test_mkfs_refuses_a_device_in_use_or_with_signatures(device, match):
    with pytest.raises(drv.Refusal, match=match):
        mkfs_plan(device)


def test_mkfs_wipe_signatures_erases_another_filesystem_first():
    ext4 = dict(BLANK_DEV, signatures=[{"type": "ext4", "offset": "0x438"}])
    actions = mkfs_plan(ext4, mount={"wipe_signatures": True})[0]
    assert actions[0].kind == "make_filesystem" and actions[0].args["wipe"] is True
    assert actions[0].description.endswith("its signatures erased first: ext4 at 0x438")
    # a device in use stays refused even with wipe_signatures
    with pytest.raises(drv.Refusal, match="never made on a device in use, even with wipe_signatures"):
        mkfs_plan(dict(ext4, mounted=["/srv"]), mount={"wipe_signatures": True})


def test_mkfs_without_its_tool_is_refused_and_names_it():
    with pytest.raises(drv.Refusal, match="^mount: mkfs: mkfs.xfs is not installed on this host") as err:
        mkfs_plan(binaries={"mkfs.xfs": False})
    assert err.value.details == {"missing_tools": ["mkfs.xfs"]}


def test_mkfs_parameters_are_checked():
    with pytest.raises(drv.Refusal, match="^mount: mkfs makes btrfs, ext4, xfs filesystems; fstype zfs is not one"):
        mkfs_plan(mount={"fstype": "zfs"})
    with pytest.raises(drv.Refusal, match="^mount: mkfs_opts and wipe_signatures are for mkfs: true"):
        mkfs_plan(mount={"mkfs": False, "wipe_signatures": True})


def test_missing_tools_follow_the_driver_and_the_device():
    fresh = host(info=None, config={}, binaries={"docker": True, "fuse-overlayfs": False, "btrfs": True})
    assert dp.missing_tools(fresh, params()) == []
    assert dp.missing_tools(fresh, params(driver="fuse-overlayfs")) == ["fuse-overlayfs"]
    assert dp.missing_tools(fresh, mount_params()) == ["mkfs.xfs"]
    assert dp.missing_tools(fresh, mount_params(driver="btrfs")) == ["mkfs.btrfs"]
    assert dp.missing_tools(fresh, params(driver="zfs")) == ["zfs"]


def test_stopped_engine_would_start_blind_to_another_store():
    stores = {"overlay2": {"ids": [ID_A], "tags": {"cowtest:3": ID_A}}, "vfs": {"ids": [ID_B], "tags": {"cowtest:1": ID_B}}}
    stopped = host(info=None, config={"storage-driver": "vfs"}, stores=stores)
    with pytest.raises(drv.Refusal, match="switching the stopped engine to vfs .* would hide images: cowtest:3") as err:
        dp.plan(stopped, params(driver="vfs"))
    assert err.value.details["would_hide"]["images"] == [{"name": "cowtest:3", "id": ID_A, "driver": "overlay2"}]
    # preserve starts it anyway; the facts keep saying what is hidden
    actions, facts = dp.plan(stopped, params(driver="vfs", on_driver_change="preserve"))
    assert kinds(actions) == ["restart"] and facts["hidden"]["images"][0]["name"] == "cowtest:3"


def test_migrated_images_are_not_hidden():
    stores = {"overlay2": {"ids": [ID_A], "tags": {"cowtest:1": ID_A}}, "vfs": {"ids": [ID_A], "tags": {"cowtest:1": ID_A}}}
    stopped = host(info=None, config={"storage-driver": "overlay2"}, stores=stores,
                   prior={"vfs": {"path": "/var/lib/docker/vfs", "size": 10, "entries": 1, "layers": 1}})
    actions, facts = dp.plan(stopped, params())
    assert kinds(actions) == ["restart"] and facts["hidden"]["images"] == []


def test_null_option_values_are_refused():
    with pytest.raises(drv.Refusal, match="^options: overlay2.size has no value"):
        dp.plan(host(), params(options={"overlay2.size": None}))


def test_engine_enabled_at_boot_when_asked():
    actions = dp.plan(host(config={"storage-driver": "vfs"}, enabled=False), params(driver="vfs", enabled=True))[0]
    assert kinds(actions) == ["enable_engine"]
    assert dp.plan(host(config={"storage-driver": "vfs"}, enabled=None), params(driver="vfs", enabled=True))[0] == []


def test_wipe_removes_the_hidden_driver_data_and_its_image_store():
    stores = {"overlay2": {"ids": [ID_A], "tags": {"cowtest:3": ID_A}}}
    prior = {"overlay2": {"path": "/var/lib/docker/overlay2", "size": 10, "entries": 2, "layers": 1}}
    stopped = host(info=None, config={"storage-driver": "vfs"}, stores=stores, prior=prior)
    actions = dp.plan(stopped, params(driver="vfs", on_driver_change="wipe", force=True))[0]
    assert [a.args.get("path") for a in actions if a.kind == "remove_driver_data"] == [
        "/var/lib/docker/overlay2", "/var/lib/docker/image/overlay2"]
    assert kinds(actions)[-1] == "restart"


def test_mount_on_a_new_data_root_hides_the_engines_images_on_the_old_one():
    # data_root moves to an empty directory and a device is mounted there: the running engine's images stay behind
    moving = host(images=IMAGES, config={"storage-driver": "vfs"}, mount=mount_facts())
    with pytest.raises(drv.Refusal, match="^on_driver_change: mounting /dev/vdb .xfs. on /srv/docker would hide images"):
        dp.plan(moving, mount_params(data_root="/srv/docker", driver="vfs"))
    actions = dp.plan(moving, mount_params(data_root="/srv/docker", driver="vfs", on_driver_change="migrate"))[0]
    assert kinds(actions) == ["save_images", "try_mount", "stop_engine", "mount_data_root", "write_fstab", "write_config",
                              "restart", "load_images"]


def test_mkfs_opts_naming_another_device_is_refused_before_any_action():
    # the reproduction: "-f /dev/vdc" would have made mkfs.btrfs format vdc as well as vdd
    wanted = mkfs_params(on_driver_change="migrate", mount={"src": "/dev/vdd", "fstype": "btrfs", "mkfs_opts": "-f /dev/vdc"})
    running = mkfs_host(wanted=wanted, info="info-20.10-vfs-lab.json", config=None, images=IMAGES,
                        binaries={"mkfs.btrfs": True}, mount={"entries": ["image", "vfs"]})
    with pytest.raises(drv.Refusal, match="^mount.mkfs_opts: '-f' is a flag mkfs.btrfs is not allowed here"):
        dp.plan(running, wanted)


@pytest.mark.parametrize("seen, match", [
    ({"path": "/srv/mig", "real": "/srv/mig", "exists_as": "dir", "problem": "/srv/mig is owned by alice (uid 1000)"},
     r"^migrate_path: /srv/mig is owned by alice \(uid 1000\); nothing was changed \(another user could swap"),
    ({"path": "/tmp/mig", "real": "/tmp/mig", "exists_as": None, "problem": "/tmp is writable by every user (sticky)"},
     r"^migrate_path: /tmp is writable by every user \(sticky\)"),
    ({"path": "/srv/mig", "real": "/srv/mig", "exists_as": "file", "problem": None},
     r"^migrate_path: /srv/mig exists and is not a directory \(file\)"),
    ({"path": "/srv/mig", "real": "/var/lib/docker/mig", "exists_as": "dir", "problem": None},
     r"^migrate_path: /srv/mig \(-> /var/lib/docker/mig\) lies inside the data root /var/lib/docker"),
])
def test_migrate_path_another_user_controls_or_inside_the_data_root_is_refused_before_any_action(seen, match):
    with pytest.raises(drv.Refusal, match=match):
        dp.plan(host(images=IMAGES, migrate_dir=seen), params(on_driver_change="migrate", migrate_path=seen["path"]))


def test_migrate_path_inside_the_root_a_mount_covers_is_refused():
    # the reproduction: the archive sat under the new mount, "the archive is gone" on every re-run
    seen = {"path": "/var/lib/docker/m", "real": "/var/lib/docker/m", "exists_as": None, "problem": None}
    running = host(images=IMAGES, mount=mount_facts(entries=["image", "vfs"]), migrate_dir=seen)
    with pytest.raises(drv.Refusal, match="^migrate_path: /var/lib/docker/m lies inside the data root /var/lib/docker"):
        dp.plan(running, dict(mount_params(on_driver_change="migrate"), migrate_path="/var/lib/docker/m"))


# --- the host's data beyond images: volumes and containers (issue 24) ---------------------------------------

VOLUME_CONTENTS = {"images": [{"name": "cowtest:1", "id": ID_A, "driver": "vfs"}], "containers": [], "volumes": ["probevol"],
                   "driver_data": {"vfs": {"path": "/var/lib/docker/vfs", "size": 10, "layers": 1}}}


def test_mount_with_migrate_carries_the_volumes_and_names_the_containers_left_behind():
    running = host(images=IMAGES, containers=CONTAINERS, mount=mount_facts(contents=VOLUME_CONTENTS, entries=["image", "vfs", "volumes"]))
    actions, facts = dp.plan(running, mount_params(on_driver_change="migrate", stop_containers=True))
    assert kinds(actions) == ["stop_containers", "save_images", "try_mount", "stop_engine", "move_aside", "mount_data_root",
                              "carry_volumes", "write_fstab", "write_config", "restart", "load_images"]
    carry = actions[6]
    assert carry.args == {"names": ["probevol"], "src": "/var/lib/docker.cow-storage-old/volumes", "dst": "/var/lib/docker/volumes"}
    assert "volumes probevol with it" in actions[4].description
    left = facts["out_of_view"]["containers"]
    assert [(c["name"], c["fate"], c["where"]) for c in left] == [
        (c["name"], "hidden", "/var/lib/docker.cow-storage-old/containers/%s" % c["id"]) for c in CONTAINERS]
    assert facts["out_of_view"]["volumes"] == []  # carried, so still in view


def test_mount_with_preserve_names_each_volume_and_where_it_goes():
    running = host(images=IMAGES, mount=mount_facts(contents=VOLUME_CONTENTS, entries=["image", "vfs", "volumes"]))
    actions, facts = dp.plan(running, mount_params(on_driver_change="preserve"))
    assert "carry_volumes" not in kinds(actions)
    assert facts["out_of_view"]["volumes"] == [{
        "name": "probevol", "fate": "hidden", "where": "/var/lib/docker.cow-storage-old/volumes/probevol/_data",
        "how": facts["out_of_view"]["volumes"][0]["how"]}]
    assert "would start empty" in facts["out_of_view"]["volumes"][0]["how"]
    assert [i["fate"] for i in facts["out_of_view"]["images"]] == ["hidden"] * len(facts["out_of_view"]["images"])


def test_mount_with_wipe_names_the_volumes_it_deletes():
    running = host(images=IMAGES, mount=mount_facts(contents=VOLUME_CONTENTS, entries=["image", "vfs", "volumes"]))
    actions, facts = dp.plan(running, mount_params(on_driver_change="wipe", force=True))
    removal = [a for a in actions if a.kind == "remove_driver_data"][0]
    assert removal.description == "remove /var/lib/docker.cow-storage-old (volumes probevol with it)"
    assert facts["out_of_view"]["volumes"][0]["fate"] == "deleted"
    with pytest.raises(drv.Refusal, match="volumes: probevol"):
        dp.plan(running, mount_params())


def test_a_new_data_root_with_volumes_is_refused_by_default_and_migrate_carries_them():
    running = host(images=IMAGES, volumes=["probevol"], target_volumes=[])
    with pytest.raises(drv.Refusal, match=r"would hide images: .*; volumes: probevol"):
        dp.plan(running, params(driver="vfs", data_root="/srv/docker"))
    actions, facts = dp.plan(running, params(driver="vfs", data_root="/srv/docker", on_driver_change="migrate"))
    assert kinds(actions) == ["save_images", "stop_engine", "carry_volumes", "write_config", "restart", "load_images"]
    assert actions[2].args == {"names": ["probevol"], "src": "/var/lib/docker/volumes", "dst": "/srv/docker/volumes"}
    assert actions[4].args["start"] is True
    # preserve: the volume stays in the old root, named with where it is
    actions, facts = dp.plan(running, params(driver="vfs", data_root="/srv/docker", on_driver_change="preserve"))
    assert [(v["name"], v["where"]) for v in facts["out_of_view"]["volumes"]] == [("probevol", "/var/lib/docker/volumes/probevol/_data")]
    # a target root with volumes of its own is never merged into
    with pytest.raises(drv.Refusal, match="volumes of the same name already: probevol"):
        dp.plan(host(images=IMAGES, volumes=["probevol"], target_volumes=["probevol"]),
                params(driver="vfs", data_root="/srv/docker", on_driver_change="migrate"))


def test_a_driver_switch_on_the_same_root_keeps_volumes_in_view():
    actions, facts = dp.plan(host(images=IMAGES, volumes=["probevol"]), params(on_driver_change="migrate"))
    assert "carry_volumes" not in kinds(actions) and facts["out_of_view"]["volumes"] == []


def test_every_step_kind_the_planner_emits_is_in_the_step_table():
    from ansible_collections.cow.storage.plugins.module_utils._docker import change as dc
    emitted = set()
    cases = [
        (host(images=IMAGES, containers=CONTAINERS, mount=mount_facts(contents=VOLUME_CONTENTS, entries=["image", "vfs", "volumes"])),
         mount_params(on_driver_change="migrate", stop_containers=True)),
        (host(images=IMAGES, containers=CONTAINERS, mount=mount_facts(contents=VOLUME_CONTENTS, entries=["image", "vfs"])),
         mount_params(on_driver_change="wipe", force=True)),
        (host(images=IMAGES, volumes=["v"], target_volumes=[], enabled=False),
         params(driver="vfs", data_root="/srv/d", on_driver_change="migrate", enabled=True)),
        (host(images=IMAGES, version="24.0.7"), params(on_driver_change="preserve")),
        (host(images=IMAGES, binaries=STAGER, version="25.0.5"), params(on_driver_change="migrate")),
    ]
    for observed, wanted in cases:
        emitted |= set(kinds(dp.plan(observed, wanted)[0]))
    emitted |= set(kinds(mkfs_plan()[0]))
    assert emitted - set(dc.STEPS) == set()
    # and every kind the table names is a step the change can run, with its undo where it has one
    for kind, step in dc.STEPS.items():
        assert callable(getattr(dc.Change, kind)), kind
        assert step.undo is None or callable(getattr(dc.Change, step.undo)), kind
    assert {"validate", "enable_engine", "carry_volumes", "stop_containers", "wipe_engine", "stage_images", "swap_stores",
            "verify_images"} <= emitted


def test_a_mount_on_a_new_data_root_carries_the_old_roots_volumes():
    running = host(images=IMAGES, containers=CONTAINERS, volumes=["probevol"],
                   mount=mount_facts(contents={"images": [], "containers": [], "volumes": [], "driver_data": {}}, entries=[]))
    wanted = dict(mount_params(on_driver_change="migrate", stop_containers=True), data_root="/srv/btrfsroot")
    actions, facts = dp.plan(dict(running, data_root="/var/lib/docker"), wanted)
    carry = [a for a in actions if a.kind == "carry_volumes"]
    assert [a.args for a in carry] == [{"names": ["probevol"], "src": "/var/lib/docker/volumes", "dst": "/srv/btrfsroot/volumes"}]
    # the containers stay in the old root (no content is set aside), and say so
    assert set(c["where"] for c in facts["out_of_view"]["containers"]) == set(
        "/var/lib/docker/containers/%s" % c["id"] for c in CONTAINERS)


def test_a_data_root_with_a_trailing_slash_is_the_same_root():
    # the reproduction: data-root "/var/lib/docker/" in daemon.json restarted the engine for nothing
    observed = host(config={"storage-driver": "vfs", "data-root": "/var/lib/docker/"})
    actions, facts = dp.plan(observed, params(driver="vfs"))
    assert actions == [] and facts["switching"] is False


# --- boot is part of the change ------------------------------------------------------------------------------------

DROPIN = "/etc/systemd/system/docker.service.d/cow-storage-data-root.conf"


def boot(**kw):
    out = {"mount": {"mount_point": "/var/lib/docker", "source": "/dev/vdb", "fstype": "xfs", "opts": "defaults"},
           "persisted": False, "volatile": None, "unmounted": [], "fstab_path": "/etc/fstab",
           "dropin": {"path": DROPIN, "text": None}}
    out.update(kw)
    return out


def test_a_data_root_mount_made_by_hand_is_persisted_and_required_by_the_engine():
    # the reboot: a lab host's data root mount is not in fstab, the engine came back on the bare directory
    actions, dummy = dp.plan(host(boot=boot()), params(driver="vfs"))
    assert kinds(actions) == ["write_fstab", "require_mount"]
    assert actions[0].args == {"path": "/etc/fstab", "mount_point": "/var/lib/docker", "src": "/dev/vdb", "fstype": "xfs",
                               "opts": "defaults"}
    assert actions[1].args["text"].endswith("[Unit]\nRequiresMountsFor=/var/lib/docker\n")
    # converged: nothing more
    done = boot(persisted=True, dropin={"path": DROPIN, "text": actions[1].args["text"]})
    assert dp.plan(host(boot=done), params(driver="vfs"))[0] == []
    # the root filesystem needs neither; a host without systemd gets fstab only
    assert dp.plan(host(boot=boot(mount=None, persisted=True)), params(driver="vfs"))[0] == []
    assert kinds(dp.plan(host(boot=boot(dropin=None)), params(driver="vfs"))[0]) == ["write_fstab"]


def test_the_require_mount_step_comes_before_the_restart():
    actions, dummy = dp.plan(host(boot=boot(persisted=True)), params(driver="overlay2", options={}))
    assert kinds(actions) == ["require_mount", "write_config", "restart"]


def test_an_unmounted_fstab_data_root_and_a_volatile_one_are_refused_before_any_change():
    unmounted = boot(mount=None, unmounted=[{"source": "/dev/vdb", "mount_point": "/var/lib/docker", "fstype": "xfs"}])
    with pytest.raises(drv.Refusal, match=r"^data_root: /etc/fstab mounts /dev/vdb \(xfs\) on /var/lib/docker, which is not "
                                          r"mounted now: the engine sees the bare directory"):
        dp.plan(host(boot=unmounted), params(driver="vfs"))
    volatile = boot(mount={"mount_point": "/var/lib/docker", "source": "tmpfs", "fstype": "tmpfs", "opts": "defaults"},
                    volatile="tmpfs")
    with pytest.raises(drv.Refusal, match="^data_root: /var/lib/docker is on tmpfs, which a reboot empties.*allow_volatile: true"):
        dp.plan(host(boot=volatile), params(driver="vfs"))
    assert dp.plan(host(boot=volatile), params(driver="vfs", allow_volatile=True))[0] == []


# --- engine configuration outside daemon.json ----------------------------------------------------------------------

def test_a_storage_driver_flag_is_refused_naming_its_file_and_line():
    flags = {"storage-driver": [{"value": "vfs", "flag": "--storage-driver", "source": "/etc/default/docker:13"}]}
    with pytest.raises(drv.Refusal, match=r"^driver: /etc/default/docker:13 sets --storage-driver vfs on dockerd's command "
                                          r"line and /etc/docker/daemon.json sets storage-driver too"):
        dp.plan(host(engine_flags=flags), params(driver="overlay2"))


def test_a_data_root_flag_is_the_data_root_and_conflicts_with_data_root():
    flags = {"data-root": [{"value": "/srv/d", "flag": "--data-root", "source": "/etc/systemd/system/docker.service.d/x.conf:3"}]}
    # nothing asks for a data root: the flag's is kept (the observer reads it as the data root)
    assert dp.plan(host(engine_flags=flags), params(driver="vfs"))[0] == []
    with pytest.raises(drv.Refusal, match=r"^data_root: /etc/systemd/system/docker.service.d/x.conf:3 sets --data-root /srv/d "
                                          r"on dockerd's command line and /etc/docker/daemon.json would set data-root too"):
        dp.plan(host(engine_flags=flags), params(driver="vfs", data_root="/srv/e"))


def test_a_config_file_flag_elsewhere_is_refused():
    flags = {"config-file": [{"value": "/etc/docker/other.json", "flag": "--config-file", "source": "/lib/systemd/system/docker.service:14"}]}
    with pytest.raises(drv.Refusal, match=r"^config_path: the engine reads /etc/docker/other.json \(/lib/systemd/system/docker"):
        dp.plan(host(engine_flags=flags), params(driver="vfs"))


def test_a_migration_that_does_not_fit_is_refused_naming_the_filesystem_and_bytes():
    # the case: 1.6 GB of vfs images to overlay2 on a 3.9 GB data root (2.3 GB free), archive elsewhere
    gb = 10 ** 9
    space = {"store_bytes": int(1.6 * gb), "migrate": {"path": "/var/lib/cow-storage", "device": 1, "free": 20 * gb},
             "target": {"path": "/var/lib/docker", "device": 2, "free": int(2.3 * gb)}}
    with pytest.raises(drv.Refusal, match=r"^on_driver_change: migrate needs room the host does not have: 3200000000 bytes "
                                          r"on the filesystem of /var/lib/docker, 2300000000 free"):
        dp.plan(host(images=IMAGES, space=space), params(on_driver_change="migrate"))
    # the archive on the same filesystem adds up
    same = dict(space, migrate=dict(space["target"], free=int(4.5 * gb)), target=dict(space["target"], free=int(4.5 * gb)))
    with pytest.raises(drv.Refusal, match="4800000000 bytes on the filesystem of /var/lib/docker, 4500000000 free"):
        dp.plan(host(images=IMAGES, space=same), params(on_driver_change="migrate"))
    roomy = dict(space, target=dict(space["target"], free=4 * gb))
    assert kinds(dp.plan(host(images=IMAGES, space=roomy), params(on_driver_change="migrate"))[0])[0] == "save_images"


def test_a_mount_in_place_is_persisted_once_with_the_requested_options():
    # the module's own mount param and the boot check see the same mount: one fstab line, the user's options
    wanted_mount = {"src": "/dev/vdb", "fstype": "xfs", "opts": "noatime", "fstab": "/etc/fstab"}
    observed = host(config={"storage-driver": "vfs"}, mount=mount_facts(in_place=True, wanted=wanted_mount), enabled=True,
                    boot=boot(dropin={"path": DROPIN, "text": None}))
    wanted = dict(mount_params(driver="vfs"), mount=wanted_mount)
    actions = dp.plan(observed, wanted)[0]
    assert kinds(actions) == ["write_fstab", "require_mount"]
    assert actions[0].args["opts"] == "noatime"


def test_a_devicemapper_target_keeps_its_store_in_the_pool_not_on_the_data_root():
    space = {"store_bytes": 1000, "migrate": {"path": "/var/lib", "device": 1, "free": 10 ** 6},
             "target": {"path": "/var/lib", "device": 1, "free": 10 ** 6}}
    assert dp.space_needed(space) == [("/var/lib", 3000, 10 ** 6)]
    assert dp.space_needed(space, store_on_root=False) == [("/var/lib", 2000, 10 ** 6)]
    assert dp.space_needed(dict(space, store_bytes=None)) == []
