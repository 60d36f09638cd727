# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Former home of the mount table parsers, kept only for the modules not switched yet.

The mount table and fstab live in :mod:`._mountinfo`, overlay mounts in :mod:`._overlay`.
``_docker_daemon`` and ``_docker_change`` still import these three names from here;
delete this file once they import them from ``_mountinfo``.
"""

from __future__ import annotations

from ansible_collections.cow.storage.plugins.module_utils._mountinfo import find_mount, parse_mountinfo, update_fstab

__metaclass__ = type  # pylint: disable=invalid-name

__all__ = ["find_mount", "parse_mountinfo", "update_fstab"]
