# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The subvolume planner of _subvolume (btrfs_subvol): plain dicts in, Actions out (no mocks)."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal
from ansible_collections.cow.storage.plugins.module_utils import _subvolume as b

MNT = {"mount_point": "/mnt/b", "devno": "0:39", "fstype": "btrfs", "source": "/dev/vdb"}
SV = {"id": 256, "uuid": "u-256", "parent_uuid": None, "readonly": False, "top_level": 5, "generation": 9}
SRC = {"path": "/mnt/b/@data", "exists": True, "dev": "0:39",
       "subvolume": {"id": 257, "uuid": "u-257", "parent_uuid": None, "readonly": False}}


def params(**kw):
    base = {"path": "/mnt/b/@sv", "state": "present", "snapshot_of": None, "snapshot_conflict": "keep", "readonly": None,
            "recursive": False, "default": None, "quota": None}
    base.update(kw)
    return base


def current(exists=True, sub=None, **kw):
    cur = {"path": "/mnt/b/@sv", "exists": exists, "is_dir": exists, "parent_exists": True, "mount": MNT, "fstype": "btrfs",
           "subvolume": copy.deepcopy(sub if sub is not None else SV) if exists else None, "mounted": {5: ["/mnt/b"]},
           "default_id": 5, "quota_enabled": False, "qgroup": None, "children": []}
    cur.update(kw)
    return cur


def kinds(actions):
    return [a.kind for a in actions]


def test_new_subvolume_with_nothing_else():
    actions = b.plan(current(exists=False), params())
    assert kinds(actions) == ["create_subvolume"]
    assert actions[0].args == {"path": "/mnt/b/@sv"}


def test_existing_subvolume_is_left_alone():
    assert b.plan(current(), params()) == []


def test_new_readonly_subvolume():
    assert kinds(b.plan(current(exists=False), params(readonly=True))) == ["create_subvolume", "set_readonly"]


def test_readonly_toggles_only_when_different():
    assert kinds(b.plan(current(), params(readonly=True))) == ["set_readonly"]
    assert b.plan(current(), params(readonly=False)) == []
    ro = dict(SV, readonly=True)
    assert b.plan(current(sub=ro), params(readonly=True)) == []
    assert b.plan(current(sub=ro), params(readonly=False))[0].args["readonly"] is False


def test_readonly_snapshot_taken_readonly():
    actions = b.plan(current(exists=False, source=SRC), params(snapshot_of="/mnt/b/@data", readonly=True))
    assert kinds(actions) == ["snapshot"]
    assert actions[0].args == {"path": "/mnt/b/@sv", "source": "/mnt/b/@data", "readonly": True}


def test_existing_snapshot_of_source_is_kept_whatever_the_conflict_policy():
    snap = dict(SV, parent_uuid="u-257")
    for conflict in ("keep", "replace", "fail"):
        assert b.plan(current(sub=snap, source=SRC), params(snapshot_of="/mnt/b/@data", snapshot_conflict=conflict)) == []


def test_snapshot_conflict_keep_replace_fail():
    p = params(snapshot_of="/mnt/b/@data")
    assert b.plan(current(source=SRC), p) == []
    assert kinds(b.plan(current(source=SRC), dict(p, snapshot_conflict="replace"))) == ["delete_subvolume", "snapshot"]
    with pytest.raises(Refusal, match="^snapshot_conflict: "):
        b.plan(current(source=SRC), dict(p, snapshot_conflict="fail"))


def test_replace_with_children_needs_recursive():
    p = params(snapshot_of="/mnt/b/@data", snapshot_conflict="replace")
    with pytest.raises(Refusal, match="^recursive: "):
        b.plan(current(source=SRC, children=[300]), p)
    assert kinds(b.plan(current(source=SRC, children=[300]), dict(p, recursive=True))) == ["delete_subvolume_id", "delete_subvolume", "snapshot"]


@pytest.mark.parametrize("source, message", [
    (None, "^snapshot_of: /mnt/b/@data is not a btrfs subvolume"),
    ({"path": "/mnt/b/@data", "exists": False, "dev": "0:39", "subvolume": None}, "does not exist"),
    ({"path": "/mnt/b/@data", "exists": True, "dev": "0:39", "subvolume": None}, "^snapshot_of: .* is not a btrfs subvolume$"),
    (dict(SRC, dev="0:50"), "^snapshot_of: .*not on the same btrfs filesystem"),
])
def test_snapshot_of_refused(source, message):
    with pytest.raises(Refusal, match=message):
        b.plan(current(exists=False, source=source), params(snapshot_of="/mnt/b/@data"))


def test_bad_location():
    with pytest.raises(Refusal, match="^path: parent directory /mnt/b/x of /mnt/b/x/sv does not exist"):
        b.plan(current(exists=False, parent_exists=False, path="/mnt/b/x/sv"), params(path="/mnt/b/x/sv"))
    assert b.plan(current(exists=False, parent_exists=False), params(state="absent")) == []
    ext4 = {"mount_point": "/", "devno": "254:0", "fstype": "ext4", "source": "/dev/vda"}
    with pytest.raises(Refusal, match="^path: /mnt/b/@sv is on a ext4 filesystem"):
        b.plan(current(exists=False, mount=ext4, fstype="ext4"), params())
    with pytest.raises(Refusal, match="^path: /mnt/b/@sv exists and is not a btrfs subvolume"):
        b.plan(current(exists=True, sub={}), params())


def test_absent():
    assert b.plan(current(exists=False), params(state="absent")) == []
    assert kinds(b.plan(current(), params(state="absent"))) == ["delete_subvolume"]


@pytest.mark.parametrize("overrides, message", [
    ({"subvolume": dict(SV, id=5)}, "^path: .*top-level subvolume \\(id 5\\)"),
    ({"mounted": {256: ["/var/lib/docker"]}}, "^path: .*is mounted at /var/lib/docker"),
    ({"default_id": 256}, "^path: .*is the default subvolume"),
    ({"children": [258, 257]}, "^recursive: .*2 nested subvolume"),
])
def test_absent_refusals(overrides, message):
    with pytest.raises(Refusal, match=message):
        b.plan(current(**overrides), params(state="absent"))


def test_absent_recursive_deletes_children_first_and_refuses_mounted_child():
    actions = b.plan(current(children=[258, 257]), params(state="absent", recursive=True))
    assert kinds(actions) == ["delete_subvolume_id", "delete_subvolume_id", "delete_subvolume"]
    assert [a.args.get("subvol_id") for a in actions] == [258, 257, None]
    with pytest.raises(Refusal, match="^recursive: nested subvolume id 257 .* mounted"):
        b.plan(current(children=[258, 257], mounted={257: ["/x"]}), params(state="absent", recursive=True))


def test_quota_enable_and_limit():
    actions = b.plan(current(), params(quota={"limit": "2G", "exclusive": False}))
    assert kinds(actions) == ["enable_quota", "limit_qgroup"]
    assert actions[1].args == {"path": "/mnt/b/@sv", "limit": 2 * 1024 ** 3, "exclusive": False}
    assert kinds(b.plan(current(), params(quota={"limit": None, "exclusive": False}))) == ["enable_quota"]
    assert b.plan(current(), params(quota={"limit": "none", "exclusive": False})) == [b.Action("enable_quota", "", mount="/mnt/b")]


def test_quota_compares_bytes_with_the_right_limit():
    qgroup = {"qgroupid": "0/256", "max_referenced": 2147483648, "max_exclusive": None}
    cur = current(quota_enabled=True, qgroup=qgroup)
    assert b.plan(cur, params(quota={"limit": "2GiB", "exclusive": False})) == []
    assert b.plan(cur, params(quota={"limit": "2147483648", "exclusive": False})) == []
    assert kinds(b.plan(cur, params(quota={"limit": "2G", "exclusive": True}))) == ["limit_qgroup"]
    assert b.plan(cur, params(quota={"limit": "none", "exclusive": True})) == []
    assert b.plan(cur, params(quota={"limit": "none", "exclusive": False}))[0].args["limit"] is None


def test_invalid_quota_is_refused_before_anything_else():
    with pytest.raises(Refusal, match="^quota.limit: invalid size '12X'"):
        b.plan(current(exists=False, parent_exists=False), params(quota={"limit": "12X", "exclusive": False}))


def test_default():
    assert kinds(b.plan(current(), params(default=True))) == ["set_default"]
    assert b.plan(current(default_id=256), params(default=True)) == []
    assert kinds(b.plan(current(default_id=256), params(default=False))) == ["set_default_toplevel"]
    assert b.plan(current(), params(default=False)) == []
    assert kinds(b.plan(current(exists=False), params(default=True))) == ["create_subvolume", "set_default"]


def test_describe_and_predict_agree_with_the_observed_after_state():
    before = b.describe(current(exists=False, source=SRC), "/mnt/b/@data")
    assert before == {"exists": False, "readonly": False, "default": False, "quota_limit_referenced": None,
                      "quota_limit_exclusive": None, "snapshot_of": None}
    p = params(snapshot_of="/mnt/b/@data", readonly=True, default=True, quota={"limit": "1G", "exclusive": False})
    actions = b.plan(current(exists=False, source=SRC), p)
    assert kinds(actions) == ["snapshot", "enable_quota", "limit_qgroup", "set_default"]
    predicted = b.predict(before, actions)
    observed = b.describe(current(sub=dict(SV, parent_uuid="u-257", readonly=True), source=SRC, default_id=256, quota_enabled=True,
                                  qgroup={"qgroupid": "0/256", "max_referenced": 1073741824, "max_exclusive": None}), "/mnt/b/@data")
    assert predicted == observed
    assert b.predict(observed, b.plan(current(sub=dict(SV, parent_uuid="u-257", readonly=True), source=SRC, default_id=256, quota_enabled=True,
                                              qgroup={"qgroupid": "0/256", "max_referenced": 1073741824, "max_exclusive": None}), p)) == observed


def test_predict_absent():
    cur = current()
    assert b.predict(b.describe(cur), b.plan(cur, params(state="absent")))["exists"] is False


def test_facts():
    cur = current(quota_enabled=True, qgroup={"qgroupid": "0/256", "referenced": 10, "exclusive": 5, "max_referenced": None, "max_exclusive": 7})
    f = b.facts(cur)
    assert f["id"] == 256 and f["path"] == "/mnt/b/@sv" and f["mount"] == "/mnt/b"
    assert f["qgroup"] == {"qgroupid": "0/256", "referenced": 10, "exclusive": 5, "limit_referenced": None, "limit_exclusive": 7}
    assert b.facts(current(exists=False)) == {}
