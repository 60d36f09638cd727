# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""devicemapper's pool as part of the storage: loop-lvm flagged as not for production, and a move to another pool
(loop-lvm -> direct-lvm) planned as the driver change in disguise it is - its images live in the old pool."""

from __future__ import annotations

import pytest

from ansible_collections.cow.storage.plugins.module_utils._docker import plan as dp
from ansible_collections.cow.storage.plugins.module_utils._docker import drivers as drv
from ansible_collections.cow.storage.tests.unit.plugins.module_utils._docker.conftest import host, params

__metaclass__ = type  # pylint: disable=invalid-name

ROOT = "/var/lib/docker"
LOOPS = [ROOT + "/devicemapper/devicemapper/data", ROOT + "/devicemapper/devicemapper/metadata"]
POOL = "/dev/mapper/docker-thinpool"
ASIDES = {ROOT + "/devicemapper": ROOT + "/devicemapper.cow-storage-old",
          ROOT + "/image/devicemapper": ROOT + "/image/devicemapper.cow-storage-old"}
IMAGES = [{"name": "cowloop:1", "id": "sha256:" + "a" * 64}]


def loop_host(version="20.10.24+dfsg1", images=None, **extra):
    engine = {"running": True, "version": version, "driver": "devicemapper", "image_store": "graphdriver",
              "data_root": ROOT, "driver_status": {"Pool Name": "docker-254:1-1180-pool", "Data loop file": LOOPS[0],
                                                   "Metadata loop file": LOOPS[1]}}
    out = host(info=None, version=version, engine=engine, config={"storage-driver": "devicemapper"},
               prior={"devicemapper": {"path": ROOT + "/devicemapper", "entries": 2, "layers": 2}},
               thinpool={"path": POOL, "target": "thin-pool"}, images=IMAGES if images is None else images,
               dm_loop_files=LOOPS, dm_asides=ASIDES)
    out.update(extra)
    return out


def dm_params(**kw):
    return params(driver="devicemapper", options={"dm.thinpooldev": POOL}, **kw)


def test_loop_lvm_is_flagged_with_the_way_off():
    flag = drv.loop_lvm(loop_host())
    assert flag["loop_files"] == LOOPS and flag["production"] is False
    assert "direct-lvm" in flag["message"] and "on_driver_change=migrate" in flag["message"]


def test_loop_lvm_on_an_engine_without_devicemapper_names_overlay2():
    stopped = host(info=None, version="26.1.5+dfsg1", config={}, dm_loop_files=LOOPS,
                   prior={"devicemapper": {"path": ROOT + "/devicemapper", "entries": 2}})
    flag = drv.loop_lvm(stopped)
    assert flag and "removed in Docker Engine 25.0" in flag["message"] and "overlay2" in flag["message"]


def test_direct_lvm_is_not_flagged_and_is_not_a_pool_change():
    h = loop_host()
    h["engine"]["driver_status"] = {"Pool Name": "docker-thinpool", "Data file": "", "Metadata file": ""}
    assert drv.loop_lvm(h) is None
    assert drv.Devicemapper.pool_change(h, dm_params()) is None


def test_loop_to_direct_lvm_with_the_default_policy_refuses_naming_the_images_and_the_loop_files():
    with pytest.raises(drv.Refusal) as exc:
        dp.plan(loop_host(), dm_params())
    msg = str(exc.value)
    assert msg.startswith("on_driver_change: moving devicemapper from the pool docker-254:1-1180-pool (loop files %s" % LOOPS[0])
    assert "to %s would hide images: cowloop:1" % POOL in msg


def test_loop_to_direct_lvm_migrate_saves_sets_the_old_pool_aside_and_loads():
    actions, facts = dp.plan(loop_host(), dm_params(on_driver_change="migrate"))
    kinds = [a.kind for a in actions]
    assert kinds == ["save_images", "stop_engine", "move_aside", "move_aside", "write_config", "restart", "load_images"]
    assert [a.args["aside"] for a in actions if a.kind == "move_aside"] == sorted(ASIDES.values())
    assert facts["switching"] and facts["pool_change"]["to"] == POOL
    assert actions[5].args["start"] is True  # started, not restarted: it was stopped to set the data aside


def test_an_empty_loop_pool_is_set_aside_without_a_refusal():
    actions, dummy = dp.plan(loop_host(images=[]), dm_params())
    assert [a.kind for a in actions][:3] == ["stop_engine", "move_aside", "move_aside"]


def test_wipe_removes_the_old_pool_data():
    actions, dummy = dp.plan(loop_host(), dm_params(on_driver_change="wipe", force=True))
    assert [a.args["path"] for a in actions if a.kind == "remove_driver_data"] == sorted(ASIDES)


def test_a_stopped_engine_configured_on_another_pool_is_a_pool_change():
    h = host(info=None, config={"storage-driver": "devicemapper", "storage-opts": ["dm.thinpooldev=/dev/mapper/old-pool"]},
             prior={"devicemapper": {"path": ROOT + "/devicemapper", "entries": 2}}, thinpool={"path": POOL, "target": "thin-pool"},
             stores={"devicemapper": {"ids": [IMAGES[0]["id"]], "tags": {"cowloop:1": IMAGES[0]["id"]}}}, dm_asides=ASIDES)
    change = drv.Devicemapper.pool_change(h, dm_params())
    assert change == {"from": "old-pool", "to": POOL, "loop_files": []}
    with pytest.raises(drv.Refusal, match="moving devicemapper from the pool old-pool to %s would hide images: cowloop:1" % POOL):
        dp.plan(h, dm_params())
    with pytest.raises(drv.Refusal, match="migrate needs the engine running on its current pool"):
        dp.plan(h, dm_params(on_driver_change="migrate"))
    actions, dummy = dp.plan(h, dm_params(on_driver_change="preserve"))
    assert [a.kind for a in actions][:2] == ["move_aside", "move_aside"]
