# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backend role takes what it knows of a driver from the driver registry (plugins/module_utils/_docker/drivers.py,
through cow.storage.driver_info): its choices are the registry's, no driver name is written in its logic, and the
registry answers every question the role asks of a driver (packages per OS family, who prepares the device, when the
change is planned, the mount the module makes). A new graph driver is one class, one engines row, its doc choice."""

from __future__ import annotations

import os
import re

import yaml

from ansible_collections.cow.storage.plugins.filter.driver_info import driver_info
from ansible_collections.cow.storage.plugins.module_utils._docker.drivers import CHOICES, DRIVERS

__metaclass__ = type  # pylint: disable=invalid-name

ROLE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles", "backend"))


def read(*parts):
    with open(os.path.join(ROLE, *parts), encoding="utf-8") as handle:
        return handle.read()


def test_the_roles_driver_choices_are_the_registrys_targets():
    spec = yaml.safe_load(read("meta", "argument_specs.yml"))["argument_specs"]["main"]["options"]["backend_driver"]
    targets = [name for name, cls in DRIVERS.items() if cls.target]
    assert spec["choices"] == targets + ["auto"]
    assert set(spec["choices"]) <= set(CHOICES)


def test_no_driver_name_in_the_roles_vars_and_package_logic():
    # tasks/backend_<driver>.yml and thinpool*.yml are the drivers' own preparations; everything else asks the registry
    shared = [name for name in sorted(os.listdir(os.path.join(ROLE, "tasks"))) if not name.startswith(("backend_", "thinpool"))]
    assert "main.yml" in shared and "device.yml" in shared
    for text in [read("vars", "main.yml")] + [read("tasks", name) for name in shared]:
        code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        compared = re.findall(r"backend_driver\s*(?:==|!=|not in|in)\s*[\[\'\"][^\n]*", code)
        assert compared == [], compared
    assert not os.path.exists(os.path.join(ROLE, "vars", "Debian.yml"))


def test_the_registry_answers_what_the_role_asks():
    for name, cls in DRIVERS.items():
        facts = driver_info(name)
        if not cls.target:
            continue
        # the role installs what the driver and its device preparation run, on each OS family it knows
        if cls.binaries or cls.device_tools:
            assert set(facts["packages"]) == {"Debian", "RedHat", "Suse"}, name
        assert facts["role_prepares"] in (None, "always", "device"), name
        assert facts["device_plan"] in (None, "ahead", "after"), name
        # a role that prepares the device itself has a task file for it
        if facts["role_prepares"]:
            assert os.path.exists(os.path.join(ROLE, "tasks", "backend_%s.yml" % name)), name
        if facts["device"] in ("xfs", "btrfs"):
            assert facts["role_prepares"] != "always", name
    assert driver_info("auto") == {}
