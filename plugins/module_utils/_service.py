# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A container engine's service on the host - dockerd's or containerd's: start, stop, restart, wait until it answers
or fails, enable at boot, its state, and its journal since a point in time. Every command goes through the runner.

systemd runs the lab hosts and every fleet host this collection targets; where it does not (a container without an
init, a SysV host), ``service NAME VERB`` is used and there is no state, boot setting or journal to read.
"""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import os
import time


class Service:
    """One engine service: ``name`` (the unit is ``<name>.service``) and the socket units stopped with it."""

    def __init__(self, module, runner, name, sockets=()):
        self.module = module
        self.runner = runner
        self.name = name
        self.unit_name = name + ".service"
        self.sockets = tuple(sockets)
        self.systemd = os.path.isdir("/run/systemd/system")
        self.state = None

    def control(self, verb):
        """``start``, ``stop`` (with its sockets, so socket activation cannot start it again) or ``restart``;
        a unit that failed before is reset first, else systemd refuses to start it within its burst limit."""
        if not self.systemd:
            return self.runner.run(["service", self.name, verb], check_rc=False)
        units = [s + ".socket" for s in self.sockets] + [self.unit_name] if verb == "stop" else [self.unit_name]
        self.runner.run(["systemctl", "reset-failed", self.unit_name], check_rc=False)
        return self.runner.run(["systemctl", verb] + units, check_rc=False)

    def show(self):
        """The unit as systemd sees it (one ``systemctl show`` answers whether it runs and whether it starts at boot;
        the answer is kept for :meth:`enabled`)."""
        dummy, out, dummy2 = self.runner.run(["systemctl", "show", "-p", "LoadState,ActiveState,UnitFileState", self.unit_name],
                                             check_rc=False)
        self.state = dict(line.partition("=")[::2] for line in out.splitlines())
        return self.state

    def active(self):
        """Whether systemd runs the unit (None when the unit is unknown, or systemd does not run the host)."""
        if not self.systemd:
            return None
        state = self.show()
        if state.get("LoadState") != "loaded":
            return None
        return state.get("ActiveState") in ("active", "activating", "reloading")

    def enabled(self):
        """Whether the unit starts at boot (None where systemd does not run the host)."""
        if not self.systemd:
            return None
        state = self.state if self.state is not None else self.show()
        return state.get("UnitFileState") in ("enabled", "enabled-runtime", "alias", "static", "indirect", "generated")

    def enable(self):
        return self.runner.run(["systemctl", "enable", self.unit_name], what="enabling %s at boot" % self.unit_name)

    def failed(self):
        return self.systemd and self.runner.run(["systemctl", "is-failed", self.unit_name], check_rc=False)[0] == 0

    def wait(self, answers, timeout, until_failed=True):
        """Poll ``answers()`` once a second until it is true (True), ``timeout`` seconds pass or, with
        ``until_failed``, systemd gives the unit up (False)."""
        deadline = time.time() + timeout
        while True:
            if answers():
                return True
            if time.time() > deadline or (until_failed and self.failed()):
                return False
            time.sleep(1)

    def wait_gone(self, answers, timeout):
        """Poll until ``answers()`` is false (True) or ``timeout`` seconds pass (False)."""
        deadline = time.time() + timeout
        while answers():
            if time.time() > deadline:
                return False
            time.sleep(1)
        return True

    def journal(self, since=None, lines=60, output="cat"):
        """The unit's journal (``output``: cat or json), the last ``lines`` since ``since`` (epoch seconds); None
        where there is no journal."""
        if not (self.systemd and self.module.get_bin_path("journalctl")):
            return None
        argv = ["journalctl", "-u", self.name, "--no-pager", "-n", str(lines), "-o", output]
        if since:
            argv[4:4] = ["--since", "@%d" % int(since)]
        return self.runner.run(argv, check_rc=False)[1]
