# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation and planner of _overlay_mount, against mountinfo and fstab captured from real
overlay mounts (Debian 12, kernel 6.18, util-linux 2.38.1; see tests/unit/fixtures/mounts)."""

from __future__ import annotations

import pytest
from ansible_collections.cow.storage.tests.unit.conftest import fixture

from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal
from ansible_collections.cow.storage.plugins.module_utils import _overlay as m
from ansible_collections.cow.storage.plugins.module_utils import _overlay_mount as om

__metaclass__ = type  # pylint: disable=invalid-name

T = "/tmp/ovlcap/fs"
DEFAULTS = m.kernel_defaults_from_params({"index": "N\n", "metacopy": "N\n", "nfs_export": "N\n",
                                          "redirect_dir": "N\n", "redirect_always_follow": "Y\n"})


def params(**kw):
    base = {"path": "/srv/merged", "mount_point": "/srv/merged", "lower": ["/srv/a/l1", "/srv/a/l2"], "upper": "/srv/a/up",
            "work": "/srv/a/wk", "options": [], "state": "mounted", "fstab": "/etc/fstab", "create_dirs": True}
    base.update(kw)
    return base


# ------------------------------------------------------------------ validation


def fact(exists=True, isdir=True, dev=1, fstype="xfs", entries=None, has_origin=False):
    return {"exists": exists, "isdir": isdir, "dev": dev, "fstype": fstype, "fs_mount": "/srv/a", "entries": entries or {},
            "has_origin": has_origin}


def good_facts(p):
    return dict((x, fact()) for x in p["lower"] + [p["upper"], p["work"], p["path"]] if x)


def errors(p, current=None, facts=None, **over):
    facts = facts if facts is not None else good_facts(p)
    facts.update(over)
    return om.validate(p, current or {"mount": None, "mounts": [], "fstab_entries": [], "defaults": DEFAULTS}, facts)


def test_valid_request():
    assert errors(params()) == []
    assert errors(params(upper=None, work=None)) == []


@pytest.mark.parametrize("p, over, name, text", [
    (params(), {"/srv/a/l1": fact(exists=False)}, "lower", "does not exist"),
    (params(), {"/srv/a/l2": fact(isdir=False)}, "lower", "not a directory"),
    (params(work=None), {}, "work", "together"),
    (params(upper=None), {}, "upper", "together"),
    (params(), {"/srv/a/wk": fact(dev=2, fstype="ext4")}, "work", "different filesystem"),
    (params(), {"/srv/a/wk": fact(entries={"junk": {"isdir": False}})}, "work", "not empty"),
    (params(), {"/srv/a/wk": fact(entries={"work": {"isdir": True, "names": ["x"]}})}, "work", "not empty"),
    (params(), {"/srv/a/wk": fact(entries={"work": {"isdir": True, "names": ["incompat"]}})}, "work", "volatile"),
    (params(), {"/srv/a/up": fact(fstype="overlay")}, "upper", "overlay"),
    (params(lower=["/srv/a/c,omma", "/srv/a/l2"]), {}, "lower", "','"),
    (params(upper="/srv/a/u,p"), {}, "upper", "','"),
    (params(lower=[]), {}, "lower", "at least one"),
    (params(lower=["/srv/a/l1"], upper=None, work=None), {}, "lower", "at least 2"),
    (params(lower=["/srv/a/l1", "/srv/a/l1"]), {}, "lower", "twice"),
    (params(lower=["rel/l1", "/srv/a/l2"]), {}, "lower", "absolute"),
    (params(work="/srv/a/up/wk"), {}, "work", "inside"),
    (params(options=["upperdir=/x"]), {}, "options", "layer"),
    (params(create_dirs=False), {"/srv/a/up": fact(exists=False, isdir=False)}, "upper", "create_dirs"),
    (params(create_dirs=False), {"/srv/merged": fact(exists=False, isdir=False)}, "path", "create_dirs"),
    (params(lower=["/srv/a/" + "x" * 200 + str(i) for i in range(30)]), {}, "lower", "longer"),
])
def test_bad_input_names_the_parameter(p, over, name, text):
    errs = errors(p, **over)
    assert errs, (p, over)
    assert errs[0].startswith(name + ":"), errs
    assert text in errs[0], errs


@pytest.mark.parametrize("p, name, text", [
    # the reproduction: an upper (and work) inside the overlay's own lower layer, which the kernel mounts
    (params(upper="/srv/a/l1/up", work="/srv/a/l1/wk"), "upper", "inside the lower layer /srv/a/l1"),
    (params(work="/srv/a/l2/wk"), "work", "inside the lower layer /srv/a/l2"),
    (params(upper="/srv/a/l2"), "upper", "inside the lower layer /srv/a/l2"),
    # a lower inside upper or work: the kernel refuses it (ELOOP), but only after the module created directories
    (params(lower=["/srv/a/up/l", "/srv/a/l2"]), "lower", "inside the upper directory /srv/a/up"),
    (params(lower=["/srv/a/l1", "/srv/a/wk/l"]), "lower", "inside the work directory /srv/a/wk"),
    # a mount point on or in the upper or work directory hides it, and the next run finds upper or work on overlayfs
    (params(path="/srv/a/wk/m", mount_point="/srv/a/wk/m"), "path", "inside the work directory"),
    (params(path="/srv/a/wk", mount_point="/srv/a/wk"), "path", "inside the work directory"),
    (params(path="/srv/a/up", mount_point="/srv/a/up"), "path", "inside the upper directory"),
    (params(path="/srv/a/up/m", mount_point="/srv/a/up/m"), "path", "inside the upper directory"),
])
def test_overlapping_layers_refused_naming_the_parameter(p, name, text):
    errs = errors(p)
    assert errs and errs[0].startswith(name + ":") and text in errs[0], errs


def test_overlap_hidden_behind_a_symlink_is_refused():
    p = params(upper="/srv/up-link", work="/srv/wk")
    facts = good_facts(p)
    facts["/srv/up-link"] = dict(fact(), real="/srv/a/l1/up")
    errs = errors(p, facts=facts)
    assert errs and errs[0].startswith("upper: /srv/up-link is inside the lower layer /srv/a/l1"), errs


def test_mount_point_on_or_in_a_lower_layer_is_allowed():
    # the layers are resolved before the mount covers them (checked on the kernel: mount over lowerdir works)
    assert errors(params(path="/srv/a/l1", mount_point="/srv/a/l1")) == []
    assert errors(params(path="/srv/a/l1/m", mount_point="/srv/a/l1/m")) == []
    assert errors(params(lower=["/srv/a/l1", "/srv/a/l2"], upper="/srv/a/l10", work="/srv/a/wk")) == []  # a prefix is not a parent


def test_work_with_kernel_leftovers_is_fine():
    assert errors(params(), **{"/srv/a/wk": fact(entries={"work": {"isdir": True, "names": []}, "index": {"isdir": True, "names": ["x"]}})}) == []


def test_work_in_use_by_our_own_live_mount_is_fine():
    live = {"fstype": "overlay", "mount_point": "/srv/merged", "lower": ["/srv/a/l1"], "upper": "/srv/a/up", "work": "/srv/a/wk",
            "mount_options": ["rw"], "overlay_options": []}
    current = {"mount": live, "mounts": [live], "fstab_entries": [], "defaults": DEFAULTS}
    assert errors(params(), current=current, **{"/srv/a/wk": fact(entries={"work": {"isdir": True, "names": ["#7"]}})}) == []


def test_upper_or_work_of_another_overlay_is_refused():
    other = {"fstype": "overlay", "mount_point": "/srv/other", "lower": ["/x"], "upper": "/srv/a/up", "work": "/srv/a/wk"}
    current = {"mount": None, "mounts": [other], "fstab_entries": [], "defaults": DEFAULTS}
    errs = errors(params(), current=current)
    assert errs[0].startswith("upper:") and "/srv/other" in errs[0]
    assert errs[1].startswith("work:")


def test_index_bound_upper_refuses_new_top_layer():
    live = {"fstype": "overlay", "mount_point": "/srv/merged", "lower": ["/srv/a/l1", "/srv/a/l2"], "upper": "/srv/a/up", "work": "/srv/a/wk",
            "mount_options": ["rw"], "overlay_options": ["index=on"]}
    current = {"mount": live, "mounts": [live], "fstab_entries": [], "defaults": DEFAULTS}
    p = params(lower=["/srv/a/l2", "/srv/a/l1"], options=["index=on"])
    errs = errors(p, current=current, **{"/srv/a/up": fact(has_origin=True)})
    assert errs and errs[0].startswith("lower:") and "index=on" in errs[0]
    assert errors(dict(p, options=[]), current=current, **{"/srv/a/up": fact(has_origin=True)}) == []


def test_non_overlay_at_path_is_refused():
    xfs = {"fstype": "xfs", "mount_point": "/srv/merged"}
    current = {"mount": xfs, "mounts": [xfs], "fstab_entries": [], "defaults": DEFAULTS}
    for state in ("mounted", "unmounted", "absent"):
        assert errors(params(state=state), current=current)[0].startswith("path:")
    with pytest.raises(Refusal):
        om.plan(current, params())


def test_absent_refuses_to_remove_a_foreign_fstab_entry():
    entry = m.overlay_fstab("/dev/vdb /srv/merged xfs defaults 0 0\n")[0][1]
    current = {"mount": None, "mounts": [], "fstab_entries": [entry], "defaults": DEFAULTS}
    assert errors(params(state="absent"), current=current)[0].startswith("path:")


def test_unmounted_and_absent_need_no_layers():
    assert errors(params(state="unmounted", lower=None, upper=None, work=None), facts={}) == []
    assert errors(params(state="absent", lower=None, upper=None, work=None), facts={}) == []


# ------------------------------------------------------------------ planner


def state_of(mountinfo, fstab, p, missing=()):
    current = om.current_state(mountinfo, fstab, p, DEFAULTS)
    current["missing"] = list(missing)
    return current


def kinds(actions):
    return [a.kind for a in actions]


LIVE = fixture("mounts/mountinfo_overlays.txt")
P1 = params(path=T + "/m1", mount_point=T + "/m1", lower=[T + "/l1", T + "/l2", T + "/l3"], upper=T + "/up", work=T + "/wk")


def test_plan_fresh_mount():
    p = params()
    actions = om.plan(state_of("", "", p, missing=["/srv/a/up", "/srv/a/wk", "/srv/merged"]), p)
    assert kinds(actions) == ["mkdir", "mkdir", "mkdir", "mount", "fstab"]
    assert actions[3].args["options"] == "lowerdir=/srv/a/l1:/srv/a/l2,upperdir=/srv/a/up,workdir=/srv/a/wk"
    assert actions[4].args["line"] == m.fstab_line(p)


def test_plan_nothing_to_do_when_live_and_fstab_match():
    assert om.plan(state_of(LIVE, m.fstab_line(P1), P1), P1) == []


def test_plan_fstab_only_when_live_matches():
    actions = om.plan(state_of(LIVE, fixture("mounts/fstab_debian.txt"), P1), P1)
    assert kinds(actions) == ["fstab"]
    assert actions[0].description.startswith("add ")


def test_plan_layer_change_unmounts_first():
    p = dict(P1, lower=[T + "/l2", T + "/l1", T + "/l3"])
    actions = om.plan(state_of(LIVE, m.fstab_line(P1), p), p)
    assert kinds(actions) == ["unmount", "mount", "fstab"]
    assert actions[0].args["reason"] == "lower"
    assert "change lower" in actions[0].description


def test_plan_option_change_remounts_but_kernel_extras_do_not():
    p = dict(P1, options=["noatime"])
    assert kinds(om.plan(state_of(LIVE, m.fstab_line(p), p), p)) == ["unmount", "mount"]
    p = dict(P1, options=["rw", "relatime", "uuid=on", "index=off"])
    assert om.plan(state_of(LIVE, m.fstab_line(p), p), p) == []


def test_plan_read_only_and_escaped_mounts_are_recognised():
    p = params(path=T + "/m2", mount_point=T + "/m2", lower=[T + "/l1", T + "/l2"], upper=None, work=None)
    assert om.plan(state_of(LIVE, m.fstab_line(p), p), p) == []
    p = params(path=T + "/mnt sp", mount_point=T + "/mnt sp", lower=[T + "/with space", T + "/l:colon"], upper=T + "/up2", work=T + "/wk2",
               options=["noatime"])
    assert om.plan(state_of(LIVE, m.fstab_line(p), p), p) == []


def test_plan_present_never_touches_live_mount():
    p = dict(P1, state="present", lower=[T + "/l3"] * 2)
    assert kinds(om.plan(state_of(LIVE, "", p), p)) == ["fstab"]
    p = dict(P1, state="present")
    assert om.plan(state_of(LIVE, m.fstab_line(p), p), p) == []


def test_plan_unmounted_keeps_fstab():
    p = dict(P1, state="unmounted")
    assert kinds(om.plan(state_of(LIVE, m.fstab_line(P1), p), p)) == ["unmount"]
    p2 = dict(p, path="/srv/merged", mount_point="/srv/merged")
    assert om.plan(state_of(LIVE, fixture("mounts/fstab_debian.txt"), p2), p2) == []


def test_plan_absent():
    p = dict(P1, state="absent")
    assert kinds(om.plan(state_of(LIVE, m.fstab_line(P1), p), p)) == ["unmount", "fstab"]
    p2 = params(state="absent")
    actions = om.plan(state_of("", fixture("mounts/fstab_debian.txt"), p2), p2)
    assert kinds(actions) == ["fstab"] and actions[0].args["line"] is None
    assert om.plan(state_of("", "", p2), p2) == []


def test_plan_duplicate_fstab_entries_are_a_change():
    line = m.fstab_line(P1)
    assert kinds(om.plan(state_of(LIVE, line + line, P1), P1)) == ["fstab"]


# ------------------------------------------------------------------ describe / predict


def test_describe_before_and_predicted_after():
    p = dict(P1, lower=[T + "/l2", T + "/l1"], options=["noatime", "nofail"])
    current = state_of(LIVE, "", p)
    actions = om.plan(current, p)
    before = om.describe(current["mount"], current["fstab_entries"], p["path"])
    after = om.describe(*om.predict(current, p, actions), path=p["path"])
    assert before == {"path": T + "/m1", "mounted": True, "in_fstab": False, "lower": [T + "/l1", T + "/l2", T + "/l3"],
                      "upper": T + "/up", "work": T + "/wk", "options": ["rw", "relatime", "uuid=on"]}
    assert after == {"path": T + "/m1", "mounted": True, "in_fstab": True, "lower": [T + "/l2", T + "/l1"],
                     "upper": T + "/up", "work": T + "/wk", "options": ["noatime"]}
    gone = dict(p, state="absent")
    current = state_of(LIVE, m.fstab_line(P1), gone)
    after = om.describe(*om.predict(current, gone, om.plan(current, gone)), path=p["path"])
    assert after["mounted"] is False and after["in_fstab"] is False and after["lower"] == []
