# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cow.storage.driver_info: the registry's facts as roles and reports read them."""

from __future__ import annotations

from ansible_collections.cow.storage.plugins.filter.driver_info import FilterModule
from ansible_collections.cow.storage.plugins.module_utils._docker import drivers as drv

__metaclass__ = type  # pylint: disable=invalid-name

driver_info = FilterModule().filters()["driver_info"]


def test_one_driver():
    facts = driver_info("overlay2")
    assert facts["snapshotter"] == "overlayfs" and facts["kernel_fs"] == "overlay" and facts["device"] == "xfs"
    assert facts["needs_d_type"] and facts["target"] and facts["removed_in"] is None


def test_removed_drivers_say_when():
    assert driver_info("aufs")["removed_in"] == "24.0" and driver_info("aufs")["target"] is False
    assert [k for k, v in driver_info("all").items() if not v["copy_on_write"]] == ["vfs"]
    assert driver_info("devicemapper")["removed_in"] == "25.0" and driver_info("devicemapper")["device"] == "thinpool"


def test_all_is_the_registry_and_auto_is_no_driver():
    assert sorted(driver_info("all")) == sorted(drv.DRIVERS)
    assert sorted(k for k, v in driver_info("all").items() if v["device"]) == ["btrfs", "devicemapper", "overlay2", "zfs"]
    assert driver_info("auto") == {}


def test_derived_lists():
    assert drv.CHOICES[-1] == "auto" and set(drv.CHOICES[:-1]) == set(drv.DRIVERS)
    assert drv.DRIVER_DIRS == tuple(drv.DRIVERS)
    assert drv.BINARIES == ("docker", "dockerd", "fuse-overlayfs", "zfs")
