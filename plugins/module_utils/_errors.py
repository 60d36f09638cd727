# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one refusal of cow.storage.

A planner or validator that will not carry out a request raises :class:`Refusal`
before anything on the host is changed; the module turns it into ``fail_json``.
"""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name


class Refusal(Exception):
    """A refused request: the message starts with the parameter it is about;
    ``details`` (keyword arguments) go into the failure result."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.details = details


def require_absolute(param, path):
    """Refuse a relative path, naming the parameter."""
    if path and not str(path).startswith("/"):
        raise Refusal("%s: %s is relative; give an absolute path" % (param, path))
