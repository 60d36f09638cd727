# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name


class ModuleDocFragment:
    """Shared attribute text for cow.storage modules."""

    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: linux
    details:
      - Linux hosts only; the storage these modules manage (overlayfs, btrfs, LVM thin pools, device-mapper, and the
        Docker and containerd configuration on them) is Linux's.
"""

    # Modules that support check mode, diff mode and idempotency fully.
    FULL = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - The module plans every change before applying any; in check mode the plan is returned as C(actions).
  diff_mode:
    support: full
  idempotent:
    support: full
"""

    # Modules that change a host's storage: the host's lock (_runner.Converge).
    HOST_LOCK = r"""
options: {}
notes:
  - One cow.storage run changes a host's storage at a time. This module takes the host's lock
    (C(/run/cow-storage/lock), a root-only directory, shared by every cow.storage module that changes a host) before it
    reads anything, in check mode too; while another run holds it, the task fails at once naming that run's pid, module
    and start time, and changes nothing. A killed run leaves no stale lock (the kernel releases it).
"""
