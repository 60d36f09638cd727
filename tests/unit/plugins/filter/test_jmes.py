# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json
import os

import jmespath.functions
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.cow.storage.plugins.filter.jmes import jmes
from ansible_collections.cow.storage.plugins.module_utils._docker.parse import parse_docker_info

FIX = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "docker")


def test_selects_from_captured_docker_info():
    with open(os.path.join(FIX, "info-20.10-overlay2.json"), encoding="utf-8") as f:
        facts = parse_docker_info(f.read())
    assert jmes(facts, 'driver_status."Backing Filesystem"') == "extfs"
    assert jmes([{"storage": {"engine": facts}}], "[].storage.engine.driver") == ["overlay2"]


def test_invalid_query_is_a_clear_error():
    with pytest.raises(AnsibleFilterError, match="invalid query"):
        jmes({}, "[?")


def test_no_match_is_none():
    assert jmes(json.loads('{"a": 1}'), "b") is None


def test_subclasses_of_dict_and_str_are_objects_and_strings():
    class TaggedDict(dict):
        pass

    class TaggedStr(str):
        pass

    data = TaggedDict(prior=TaggedDict(btrfs={"size": 1}), name=TaggedStr("x"))
    assert jmes(data, "keys(prior)") == ["btrfs"]
    assert jmes(data, "length(name)") == 1


def test_jmespaths_global_type_tables_are_left_alone():
    # the reason this filter exists beside community.general.json_query, which widens these tables on every call
    before = dict(jmespath.functions.REVERSE_TYPES_MAP)
    for dummy in range(3):
        assert jmes({"a": [{"b": "x"}]}, "a[?starts_with(b, 'x')].b") == ["x"]
    assert jmespath.functions.REVERSE_TYPES_MAP == before
