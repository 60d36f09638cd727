# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parsers of what containerd and its tools print (``ctr plugins ls``, a plugin's load error,
``containerd --version``), tested against captured output."""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import re


def parse_plugins(text):
    """``ctr plugins ls`` -> {"<type>/<id>": status}."""
    result = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 3 or fields[0] == "TYPE":
            continue
        result["%s/%s" % (fields[0], fields[1])] = fields[-1]
    return result


def parse_plugin_error(text):
    """``ctr plugins ls --detailed id==devmapper`` -> the plugin's init error message, or None."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.strip().startswith("Error:"):
            rest = line.split("Error:", 1)[1].strip()
            if rest:
                return rest
            for follow in lines[index + 1:]:
                match = re.match(r"^\s*Message:\s*(.*)$", follow)
                if match:
                    return match.group(1).strip()
    return None


def parse_containerd_version(text):
    """``containerd --version`` -> "1.6.20" (upstream part of the version), or None."""
    match = re.search(r"\s(v?\d+\.\d+\.\d+)", text or "")
    return match.group(1).lstrip("v") if match else None
