# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest
from ansible_collections.cow.storage.tests.unit.conftest import fixture

from ansible_collections.cow.storage.plugins.module_utils import _blockdev as B
from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal

BLANK = {"path": "/dev/vdb", "exists": True, "real": "/dev/vdb", "is_block": True, "mounted": [], "holders": [], "signatures": []}


def test_parse_wipefs_captured():
    assert B.parse_wipefs(fixture("lvm/wipefs_captured_empty.json")) == []
    assert B.parse_wipefs("") == []
    ext4 = B.parse_wipefs(fixture("lvm/wipefs_captured_ext4.json"))
    assert ext4 == [{"type": "ext4", "offset": "0x438", "uuid": "da855872-b4dc-47f3-a7cb-88056200857a", "label": None}]
    assert [s["type"] for s in B.parse_wipefs(fixture("lvm/wipefs_captured_lvm2_member.json"))] == ["LVM2_member"]
    assert [s["type"] for s in B.parse_wipefs(fixture("lvm/wipefs_handwritten_gpt.json"))] == ["gpt", "gpt", "PMBR"]


@pytest.mark.parametrize("change, words", [
    ({"exists": False}, "mount: /dev/vdb does not exist"),
    ({"is_block": False}, "mount: /dev/vdb is not a block device"),
    ({"mounted": ["/mnt"]}, "is mounted on /mnt; a filesystem is never made on a device in use, even with wipe_signatures"),
    ({"holders": ["dm-0 holds vdb"]}, "is in use by dm-0 holds vdb; a filesystem is never made"),
])
def test_refuse_unusable_names_the_parameter_and_the_use(change, words):
    with pytest.raises(Refusal) as err:
        B.refuse_unusable(dict(BLANK, **change), "mount", "a filesystem")
    assert words in str(err.value)


def test_refuse_unusable_takes_a_blank_device():
    B.refuse_unusable(BLANK, "mount", "a filesystem")


def test_signatures_need_the_wipe_flag():
    ext4 = dict(BLANK, signatures=B.parse_wipefs(fixture("lvm/wipefs_captured_ext4.json")))
    assert B.refuse_signatures(BLANK, False, "mount.wipe_signatures", "xfs") == ""
    with pytest.raises(Refusal) as err:
        B.refuse_signatures(ext4, False, "mount.wipe_signatures", "xfs")
    assert str(err.value).startswith("mount.wipe_signatures: /dev/vdb (/dev/vdb) carries signatures (ext4 at 0x438); "
                                     "set mount.wipe_signatures: true")
    assert B.refuse_signatures(ext4, True, "mount.wipe_signatures", "xfs") == "ext4 at 0x438"
