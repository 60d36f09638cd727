# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One way to run commands, and one way to plan and apply changes.

Every module of cow.storage runs external tools through :class:`Runner`
(argv lists, never a shell, ``LC_ALL=C``, binaries resolved once with
``get_bin_path(required=True)``, failures reported with the command, rc,
stdout and stderr) and changes the host only through :func:`apply_plan`,
which is the single place where check mode is honoured.
"""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name


class Action:
    """One planned change: a machine-readable ``kind``, a human ``description``
    and the arguments its handler needs."""

    def __init__(self, kind, description, **args):
        self.kind = kind
        self.description = description
        self.args = args

    def __eq__(self, other):
        return isinstance(other, Action) and (self.kind, self.args) == (other.kind, other.args)

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(self.kind)

    def __repr__(self):
        return "Action(%r, %r)" % (self.kind, self.args)

    def to_dict(self):
        return {"action": self.kind, "description": self.description}


class Runner:
    """Runs commands for a module: argv lists, C locale, clear failures."""

    def __init__(self, module):
        self.module = module
        self._bins = {}

    def bin(self, name):
        if name not in self._bins:
            self._bins[name] = self.module.get_bin_path(name, required=True)
        return self._bins[name]

    def run(self, argv, check_rc=True, data=None, what=None, binary_data=False):
        """Run ``argv`` (a list; ``argv[0]`` is a tool name resolved on PATH).

        Returns ``(rc, stdout, stderr)``. With ``check_rc`` a non-zero exit
        fails the module with ``msg`` naming ``what`` was attempted.
        """
        cmd = [self.bin(argv[0])] + [str(a) for a in argv[1:]]
        rc, out, err = self.module.run_command(
            cmd,
            data=data,
            binary_data=binary_data,
            environ_update={"LC_ALL": "C", "LANG": "C", "LANGUAGE": "C"},
        )
        if check_rc and rc != 0:
            self.module.fail_json(
                msg="%s failed (rc=%d): %s" % (what or "command", rc, (err or out).strip()),
                cmd=cmd,
                rc=rc,
                stdout=out,
                stderr=err,
            )
        return rc, out, err


def apply_plan(module, actions, handlers):
    """Carry out ``actions`` unless in check mode.

    ``handlers`` maps an action kind to a callable taking the action. This
    is the only place in the collection where check mode is tested: in check
    mode the plan is the result.
    """
    if module.check_mode:
        return
    for action in actions:
        handlers[action.kind](action)
