# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dmsetup parsers of _dmsetup, against output captured on the thinpool VM lab host (tests/unit/fixtures/lvm)."""

from __future__ import annotations

from ansible_collections.cow.storage.tests.unit.conftest import fixture

from ansible_collections.cow.storage.plugins.module_utils import _dmsetup as D

__metaclass__ = type  # pylint: disable=invalid-name


def test_parse_dmsetup_table_and_status():
    # Once LVM thin volumes exist, <vg>-<pool> is a linear device over <vg>-<pool>-tpool, which holds the thin-pool target.
    table = D.parse_dmsetup(fixture("lvm/dmsetup_table_captured_pool_with_lvm_thins.txt"))
    assert table["docker-thinpool"] == [{"start": 0, "length": 4186112, "target": "linear", "params": "253:2 0"}]
    assert table["docker-thinpool-tpool"][0]["target"] == "thin-pool"
    assert table["docker-thinpool-tpool"][0]["params"].split() == ["253:0", "253:1", "1024", "817", "1", "skip_block_zeroing"]
    assert table["docker-thin1"][0]["target"] == "thin" and table["docker-snap1"][0]["params"] == "253:2 2"
    status = D.parse_dmsetup(fixture("lvm/dmsetup_status_captured_pool_with_lvm_thins.txt"))
    assert status["docker-thinpool_tdata"][0]["params"] == ""
    parsed = D.parse_thin_pool_status(status["docker-thinpool-tpool"][0]["params"])
    assert parsed["transaction_id"] == 2 and parsed["metadata_used_blocks"] == 1656 and parsed["metadata_total_blocks"] == 16384
    assert parsed["data_used_blocks"] == 859 and parsed["data_total_blocks"] == 4088
    assert parsed["mode"] == "rw" and parsed["discard_passdown"] is True and parsed["no_space_policy"] == "queue" and parsed["needs_check"] is False
    only = D.parse_dmsetup(fixture("lvm/dmsetup_table_captured_pool_only.txt"))
    assert only["docker-thinpool"][0]["target"] == "thin-pool" and "docker-thinpool-tpool" not in only
    assert D.parse_dmsetup(fixture("lvm/dmsetup_table_captured_none.txt")) == {}
    assert D.parse_thin_pool_status("Fail") == {"failed": True}


def test_parse_dmsetup_device_reads_one_named_device():
    # `dmsetup table NAME` prints the segments without the "<name>: " prefix
    table = D.parse_dmsetup(fixture("lvm/dmsetup_table_captured_pool_only.txt"))["docker-thinpool"]
    line = fixture("lvm/dmsetup_table_captured_pool_only.txt").splitlines()[0].partition(": ")[2]
    assert D.parse_dmsetup_device(line + "\n") == table[:1]
    assert D.parse_dmsetup_device(line)[0]["target"] == "thin-pool"
    assert D.parse_dmsetup_device("") == []


def test_parse_dmsetup_targets():
    assert D.parse_dmsetup_targets(fixture("lvm/dmsetup_targets_captured_pool_active.txt"))["thin-pool"] == "1.22.0"
    no_thin = sorted(D.parse_dmsetup_targets(fixture("lvm/dmsetup_targets_handwritten_no_thin.txt")))
    assert no_thin == ["error", "linear", "snapshot", "snapshot-merge", "snapshot-origin", "striped"]
    assert D.parse_dmsetup_targets("") == {}
