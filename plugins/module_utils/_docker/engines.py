# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each Docker Engine release does with storage drivers, as data read from moby's own sources.

Every row names the tag it was read at (https://github.com/moby/moby, tags ``vNN.N.N`` up to 28 and
``docker-vNN.N.N`` from 29) and each column the file and function it comes from:

- ``priority``: ``daemon/graphdriver/driver_linux.go``, ``priority`` (the order of the automatic choice).
- ``removed``: ``daemon/graphdriver/driver.go``, ``checkRemoved()`` (a configured removed driver stops the daemon:
  "the %s storage-driver has been deprecated and removed").
- ``deprecated``: ``daemon/graphdriver/driver.go``, ``isDeprecated()``.
- ``skips_deprecated``: ``New()`` skips deprecated drivers in the automatic choice (from v23.0.0; v20.10 tries
  them in priority order, devicemapper before vfs).
- ``refuses_prior_deprecated``: ``New()`` refuses to start on prior data of a deprecated driver that is not configured
  ("prior storage driver %s is deprecated", v23.0.0 to v24.0.x).
- ``containerd_default``: ``daemon/image_store_choice.go``, ``determineImageStoreChoice()`` (docker-v29.0.0): the
  containerd image store is the default unless ``features.containerd-snapshotter`` is set, the configured
  ``storage-driver`` is a graph driver name it treats as explicit (vfs, overlay2, btrfs), or prior graph driver data
  is under the data root (``graphdriver.HasPriorDriver``, vfs not counted). Any other configured name is taken as a
  containerd snapshotter.
- ``validate``: ``dockerd --validate`` (cmd/dockerd, v23.0.0). ``containerd_store``: ``features.containerd-snapshotter``
  (v24.0.0).

Pure data and lookups: no command, no file. Unit tests check every row against the rules above.
"""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import re

# Graph driver names that make the choice explicit on an engine with the containerd store by default
# (docker-v29.0.0 daemon/image_store_choice.go: `case "vfs", "overlay2"` and `case "btrfs"`).
EXPLICIT_GRAPHDRIVERS = ("vfs", "overlay2", "btrfs")


class Engine:
    """One Docker Engine release line: from ``since`` until the next row."""

    def __init__(self, since, tag, priority, removed=(), deprecated=(), skips_deprecated=True,
                 refuses_prior_deprecated=False, containerd_default=False):
        self.since = since
        self.tag = tag
        self.priority = tuple(priority.split(","))
        self.removed = tuple(removed)
        self.deprecated = tuple(deprecated)
        self.skips_deprecated = skips_deprecated
        self.refuses_prior_deprecated = refuses_prior_deprecated
        self.containerd_default = containerd_default
        self.validate = since >= (23, 0, 0)
        self.containerd_store = since >= (24, 0, 0)


ENGINES = (
    Engine((20, 10, 0), "v20.10.0", "btrfs,zfs,overlay2,fuse-overlayfs,aufs,overlay,devicemapper,vfs",
           deprecated=("aufs", "devicemapper", "overlay"), skips_deprecated=False),
    Engine((23, 0, 0), "v23.0.0", "overlay2,fuse-overlayfs,btrfs,zfs,aufs,overlay,devicemapper,vfs",
           deprecated=("aufs", "devicemapper", "overlay"), refuses_prior_deprecated=True),
    Engine((24, 0, 0), "v24.0.0", "overlay2,fuse-overlayfs,btrfs,zfs,devicemapper,vfs",
           removed=("aufs", "overlay"), deprecated=("devicemapper",), refuses_prior_deprecated=True),
    Engine((25, 0, 0), "v25.0.0", "overlay2,fuse-overlayfs,btrfs,zfs,vfs",
           removed=("aufs", "devicemapper", "overlay")),
    # v26.0.0, v27.0.1, v28.0.0 and v28.5.2: the same priority and checkRemoved() as v25.0.0
    Engine((29, 0, 0), "docker-v29.0.0", "overlay2,fuse-overlayfs,btrfs,zfs,vfs",
           removed=("aufs", "devicemapper", "overlay"), containerd_default=True),
)

# What replaces a removed driver, for the refusal.
REPLACEMENTS = {"aufs": "overlay2", "overlay": "overlay2", "devicemapper": "overlay2, or the containerd image store "
                "with the devmapper snapshotter (image_store: containerd) for block-level copy-on-write"}


def version_tuple(version):
    """``"20.10.24+dfsg1"`` / ``"Docker version 25.0.3, build 4debf41"`` -> ``(20, 10, 24)``; None when unknown."""
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", version or "")
    if not match:
        return None
    return tuple(int(g or 0) for g in match.groups())


def engine(version):
    """The row for ``version`` (a string); an unknown version reads as the newest release known here."""
    vt = version_tuple(version)
    if vt is None:
        return ENGINES[-1]
    row = ENGINES[0]
    for candidate in ENGINES:
        if vt >= candidate.since:
            row = candidate
    return row


def removed_in(name):
    """``(tag, since)`` of the first release that removed driver ``name``, or None."""
    for row in ENGINES:
        if name in row.removed:
            return row.tag, row.since
    return None


def cite(row):
    return "moby %s" % row.tag
