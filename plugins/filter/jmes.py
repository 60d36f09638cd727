# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Select from JSON facts with a JMESPath expression (``docker info``, ``lvs --reportformat json``, module results).

Why not community.general.json_query (a declared dependency): json_query makes jmespath accept Ansible's values by
appending the class names of ansible-core internals (``_AnsibleTaggedStr``, ``_AnsibleLazyTemplateDict``, ...) to
jmespath's global type tables, on every call (community.general 11.4: the tuples grow each time), so it breaks
when ansible-core renames those classes and changes jmespath for every other user in the process. ``jmes``
converts its input to plain Python containers and scalars first (hostvars and lazy templates included) and leaves
jmespath's globals alone; its errors name the filter and the query."""

from __future__ import annotations

DOCUMENTATION = r"""
name: jmes
author: cow.storage developers (@cow-storage)
version_added: 1.0.0
short_description: Select from JSON facts with a JMESPath query
description:
  - Applies a JMESPath expression to a structure, so roles and reports select from JSON facts in one
    readable query instead of long Jinja filter chains.
  - Needs the C(jmespath) Python library on the controller.
options:
  _input:
    description: The data to query.
    type: raw
    required: true
  query:
    description: The JMESPath expression.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: One line per host from the storage facts of a fleet
  ansible.builtin.debug:
    msg: >-
      {{ ansible_play_hosts | map('extract', hostvars, '__facts') | list
         | cow.storage.jmes('[].{driver: storage.engine.driver, fs: storage.engine.backing_filesystem}') }}

- name: Data space of a devicemapper engine from docker info's DriverStatus
  ansible.builtin.debug:
    msg: "{{ __facts.storage.engine | cow.storage.jmes('driver_status.\"Data Space Used\"') }}"
"""

RETURN = r"""
_value:
  description: What the query selects (null when nothing matches).
  type: raw
"""

from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError

try:
    import jmespath
    HAS_JMESPATH = True
except ImportError:
    HAS_JMESPATH = False


def _plain(value):
    """Plain Python containers and scalars: jmespath checks exact types, and Ansible hands filters
    its own (tagged) subclasses of dict, list and str, and lazy mappings such as hostvars."""
    if isinstance(value, Mapping):
        return dict((_plain(k), _plain(value[k])) for k in value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Sequence):
        return [_plain(v) for v in value]
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def jmes(data, query):
    if not HAS_JMESPATH:
        raise AnsibleFilterError("cow.storage.jmes needs the jmespath Python library on the controller (pip install jmespath)")
    try:
        return jmespath.search(str(query), _plain(data))
    except jmespath.exceptions.JMESPathError as exc:
        raise AnsibleFilterError("cow.storage.jmes: invalid query %r: %s" % (query, exc)) from exc


class FilterModule:
    """JMESPath selection for cow.storage roles and reports."""

    def filters(self):
        return {"jmes": jmes}
