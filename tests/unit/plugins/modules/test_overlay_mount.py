# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module's thin layer: parameters are normalised (documentation vs argument spec: ansible-test validate-modules).
Behaviour is proven on real mounts (molecule/overlay), not with a mocked run_command."""

from __future__ import annotations

from ansible_collections.cow.storage.plugins.modules import overlay_mount as mod

__metaclass__ = type  # pylint: disable=invalid-name


def test_normalise():
    params = mod.normalise({"path": "/tmp/x//m/", "lower": ["/a/", "/b/../c"], "upper": "/u/", "work": "/w", "options": [" noatime", "noatime", ""],
                            "state": "mounted", "fstab": "/etc/fstab", "create_dirs": True})
    assert params["path"] == "/tmp/x/m"
    assert params["lower"] == ["/a", "/c"]
    assert params["upper"] == "/u" and params["work"] == "/w"
    assert params["options"] == ["noatime"]
    ro = mod.normalise(dict(params, upper=None, work=None, lower=None))
    assert ro["upper"] is None and ro["lower"] == []
