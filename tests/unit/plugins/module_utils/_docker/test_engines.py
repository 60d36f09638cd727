# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine table (moby's own rules per release) and what the planner derives from it: the automatic choice,
removed drivers, deprecated prior data, the image store an engine starts with, and daemon.json for Docker 29."""

from __future__ import annotations

import pytest

from ansible_collections.cow.storage.plugins.module_utils._docker import plan as dp
from ansible_collections.cow.storage.plugins.module_utils._docker import drivers as drv
from ansible_collections.cow.storage.plugins.module_utils._docker import engines as eng

from ansible_collections.cow.storage.tests.unit.plugins.module_utils._docker.conftest import host, params

__metaclass__ = type  # pylint: disable=invalid-name


def test_rows_are_ordered_and_cite_a_tag():
    assert [r.since for r in eng.ENGINES] == sorted(r.since for r in eng.ENGINES)
    for row in eng.ENGINES:
        assert row.tag.startswith(("v", "docker-v")) and eng.version_tuple(row.tag) == row.since
        # every driver the engine knows is a class of the registry; removed drivers leave the priority list
        assert set(row.priority) <= set(drv.DRIVERS)
        assert not set(row.removed) & set(row.priority)


@pytest.mark.parametrize("version, first, last, n", [
    ("20.10.24+dfsg1", "btrfs", "vfs", 8),
    ("23.0.6", "overlay2", "vfs", 8),
    ("24.0.9", "overlay2", "vfs", 6),
    ("26.1.5+dfsg1", "overlay2", "vfs", 5),
    ("28.5.2+dfsg1", "overlay2", "vfs", 5),
    ("29.1.0", "overlay2", "vfs", 5),
    (None, "overlay2", "vfs", 5),
])
def test_priority_per_release(version, first, last, n):
    order = list(eng.engine(version).priority)
    assert (order[0], order[-1], len(order)) == (first, last, n)


def test_removed_in_and_replacement():
    assert eng.removed_in("aufs") == ("v24.0.0", (24, 0, 0))
    assert eng.removed_in("overlay") == ("v24.0.0", (24, 0, 0))
    assert eng.removed_in("devicemapper") == ("v25.0.0", (25, 0, 0))
    assert eng.removed_in("overlay2") is None
    text = drv.removal("aufs")
    assert "24.0" in text and "moby v24.0.0" in text and "use overlay2" in text


@pytest.mark.parametrize("name", ["aufs", "overlay"])
def test_removed_drivers_are_refused_as_targets_with_release_and_replacement(name):
    with pytest.raises(drv.Refusal) as exc:
        dp.plan(host(), params(driver=name))
    msg = str(exc.value)
    assert msg.startswith("driver: the %s storage-driver has been deprecated and removed in Docker Engine 24.0" % name)
    assert "use overlay2" in msg


def test_devicemapper_removed_on_25_names_the_release():
    problems = drv.DRIVERS["devicemapper"]().check(host(version="26.1.5+dfsg1"), params(driver="devicemapper"))
    assert problems and "removed in Docker Engine 25.0 (moby v25.0.0" in problems[0]
    assert "this engine is 26.1.5+dfsg1" in problems[0]


def test_20_10_auto_does_not_skip_deprecated_drivers_but_23_does():
    # a data root where neither btrfs/zfs nor overlay2 nor fuse-overlayfs can run: 20.10 tries aufs, overlay and
    # devicemapper (the engine does), 23.0 skips them as deprecated; cow.storage never converges to aufs/overlay
    h = host(backing="overlay", filesystems=["ext4", "overlay"], binaries={"fuse-overlayfs": False, "zfs": False})
    name, why = drv.resolve_auto(h, params(driver="auto"))
    assert name == "vfs"
    assert "aufs: the aufs storage-driver has been deprecated and removed" in why
    assert "devicemapper: devicemapper needs a thin pool" in why
    name, why = drv.resolve_auto(dict(h, version="23.0.6"), params(driver="auto"))
    assert name == "vfs" and "devicemapper: deprecated, never chosen automatically by this engine" in why
    assert "moby v23.0.0" in why


@pytest.mark.parametrize("version, refused", [("20.10.24", False), ("23.0.6", True), ("24.0.9", True)])
def test_prior_deprecated_devicemapper(version, refused):
    h = host(version=version, prior={"devicemapper": {"path": "/var/lib/docker/devicemapper", "entries": 3}},
             thinpool={"target": "thin-pool"})
    p = params(driver="auto", options={"dm.thinpooldev": "/dev/mapper/docker-thinpool"})
    if refused:
        with pytest.raises(drv.Refusal, match="refuses to start on a deprecated prior driver"):
            drv.resolve_auto(h, p)
    else:
        assert drv.resolve_auto(h, p)[0] == "devicemapper"


def test_prior_removed_driver_data_on_20_10_is_not_converged_to():
    h = host(prior={"overlay": {"path": "/var/lib/docker/overlay", "entries": 2}})
    with pytest.raises(drv.Refusal, match="prior driver data of overlay .* would keep using it"):
        drv.resolve_auto(h, params(driver="auto"))


def stopped(version, config=None, prior=None):
    return host(info=None, version=version, config=config or {}, prior=prior or {})


@pytest.mark.parametrize("h, store, why", [
    (host(), "graphdriver", "kept: the engine runs the graphdriver image store"),
    (stopped("28.5.2"), "graphdriver", "the default of Docker Engine 28.5.2"),
    (stopped("29.1.0"), "containerd", "the default of Docker Engine 29.1.0 on a data root without graph driver data"),
    (stopped("29.1.0", prior={"overlay2": {"entries": 4}}), "graphdriver", "prior graph driver data (overlay2)"),
    (stopped("29.1.0", prior={"vfs": {"entries": 4}}), "containerd", "without graph driver data"),
    (stopped("29.1.0", config={"storage-driver": "overlay2"}), "graphdriver", "reads storage-driver overlay2 as a graph driver"),
    (stopped("29.1.0", config={"storage-driver": "zfs"}), "containerd", "reads storage-driver zfs as a containerd snapshotter"),
    (stopped("29.1.0", config={"features": {"containerd-snapshotter": False}}), "graphdriver", "containerd-snapshotter=false"),
    (stopped("26.1.5", config={"features": {"containerd-snapshotter": True}}), "containerd", "containerd-snapshotter=true"),
])
def test_image_store_left_out_is_kept(h, store, why):
    got, reason = dp.resolve_image_store(h, params(image_store=None))
    assert got == store and why in reason


def test_requested_image_store_wins():
    assert dp.resolve_image_store(stopped("29.1.0"), params(image_store="graphdriver")) == ("graphdriver", "requested")


def test_fresh_29_host_is_not_flipped_to_the_graph_driver():
    h = stopped("29.1.0")
    actions, facts = dp.plan(h, params(image_store=None, driver="overlay2"))
    assert facts["target"][:2] == ("overlayfs", "containerd")
    assert facts["config"]["storage-driver"] == "overlayfs"
    assert any(a.kind == "restart" for a in actions)


@pytest.mark.parametrize("driver, written", [("zfs", False), ("fuse-overlayfs", False), ("overlay2", None), ("vfs", None)])
def test_29_graph_driver_needs_the_feature_off_unless_the_name_is_explicit(driver, written):
    new = dp.desired_config({}, params(driver=driver), driver, "29.1.0")
    assert new["storage-driver"] == driver
    assert (new.get("features") or {}).get("containerd-snapshotter") is written
    # 28 and earlier read every storage-driver as a graph driver
    assert "features" not in dp.desired_config({}, params(driver=driver), driver, "28.5.2")


def test_containerd_store_needs_24():
    with pytest.raises(drv.Refusal, match="image_store: containerd needs Docker Engine 24.0"):
        dp.plan(host(), params(image_store="containerd"))
