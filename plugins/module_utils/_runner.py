# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One way to run commands, and one converge protocol for every module that changes a host.

Every module of cow.storage runs external tools through :class:`Runner`
(argv lists, never a shell, ``LC_ALL=C``, binaries resolved once with
``get_bin_path(required=True)``, failures reported with the command, rc,
stdout and stderr) and converges through :class:`Converge`: check the
parameters, take the host's lock, recover an interrupted change, observe,
plan, describe, predict, apply, observe again, return. :meth:`Converge.run`
is the single place where check mode is honoured: nothing is applied in it.
"""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import os
import subprocess
import tempfile
import time

from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal
from ansible_collections.cow.storage.plugins.module_utils._txn import HostLock, LockHeld, failpoint


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

    def pipe(self, producer, consumer, progress=None, every=2.0, chunk=1 << 20):
        """``producer | consumer`` (two argv lists, no shell, ``LC_ALL=C``), the bytes passing through this process so
        that ``progress(bytes)`` hears of them every ``every`` seconds. Returns ``(rc_producer, rc_consumer, bytes,
        stderr_text)``; nothing is written to disk on the way."""
        env = dict(os.environ, LC_ALL="C", LANG="C", LANGUAGE="C")
        # run_command runs one command to its end; a pipe whose bytes are counted as they pass needs both processes
        with tempfile.TemporaryFile() as err1, tempfile.TemporaryFile() as err2:
            first = subprocess.Popen(  # pylint: disable=consider-using-with,ansible-bad-function
                [self.bin(producer[0])] + [str(a) for a in producer[1:]], stdout=subprocess.PIPE, stderr=err1, env=env)
            second = subprocess.Popen(  # pylint: disable=consider-using-with,ansible-bad-function
                [self.bin(consumer[0])] + [str(a) for a in consumer[1:]], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                stderr=err2, env=env)
            moved, last = 0, 0.0  # the first chunk is reported at once
            try:
                while True:
                    data = first.stdout.read(chunk)
                    if not data:
                        break
                    second.stdin.write(data)
                    moved += len(data)
                    if progress is not None and time.time() - last >= every:
                        progress(moved)
                        last = time.time()
            except (IOError, OSError):
                first.kill()
            finally:
                first.stdout.close()
                try:
                    second.stdin.close()
                except (IOError, OSError):
                    pass
            rc1, rc2 = first.wait(), second.wait()
            err1.seek(0)
            err2.seek(0)
            text = (err1.read() + err2.read()).decode("utf-8", "replace").strip()
        if progress is not None:
            progress(moved)
        return rc1, rc2, moved, text


class Converge:
    """The converge of one module run. A module subclasses it, fills the steps it needs and calls :meth:`run`.

    ``lock``: the module's name, for every module that changes a host's storage: the host's lock
    (``/run/cow-storage/lock``) is taken before the first observation, in check mode too, so no plan is made from
    a host another cow.storage run is changing, and a second run is refused naming the first.

    Steps, in the order :meth:`run` calls them (each may raise :class:`Refusal`, which fails the task with its
    message and ``details`` and changes nothing):

    - ``check()``: parameters refused before anything is read;
    - ``recover()``: an interrupted change of this module finished (or undone) first; its record, or None;
    - ``observe()``: the host as it is (a dict);
    - ``plan(current)``: the list of :class:`Action`;
    - ``describe(current)``: the state the diff shows, before (and after, from the observation after the change);
    - ``predict(current, before, actions)``: that state as the plan leaves it (check mode's ``after``);
    - ``handlers(current)``: action kind -> callable(action), which ``apply`` runs in the plan's order, each step
      between the test suite's fail points (``_txn.failpoint``); with ``self.journal`` (a ``_txn.Journal``) set, the
      change is recorded there first (``journal_record(current, actions)``), each step marked done as it ends, and the
      record removed once every step ran, so that ``recover`` of the next run finds a change killed half-way; Docker's
      journaled change overrides ``apply`` instead. The plan is ``self.actions`` there;
    - ``result(current, final, actions, after)``: the module's own return keys (``final`` is the observation after
      the change, or ``current`` when nothing was applied; ``after`` the described state, predicted in check mode).
    """

    lock = None
    # The diff's "after" once the change is applied: "observed" (described from the observation after it) or
    # "predicted" (as check mode says it, where the kernel adds what the module does not set, such as mount options)
    diff_after = "observed"

    def __init__(self, module, runner=None):
        self.module = module
        self.runner = runner or Runner(module)
        self.params = module.params
        self.recovered = None
        self.actions = []
        self.journal = None

    def check(self):
        """Refuse parameters before anything is read."""

    def recover(self):
        return None

    def observe(self):
        raise NotImplementedError

    def plan(self, current):
        raise NotImplementedError

    def describe(self, current):
        return {}

    def predict(self, current, before, actions):
        return before

    def handlers(self, current):
        return {}

    def journal_record(self, current, actions):
        """What the journal keeps of a change besides its steps (what ``recover`` needs to finish or undo it)."""
        return {}

    def apply(self, current, actions):
        table = self.handlers(current)
        if self.journal is not None:
            self.journal.begin(module=self.lock, description="; ".join(a.description for a in actions),
                               steps=[a.kind for a in actions], **self.journal_record(current, actions))
        for action in actions:
            failpoint(action.kind, "before")
            table[action.kind](action)
            if self.journal is not None:
                self.journal.mark(action.kind)
            failpoint(action.kind, "after")
        if self.journal is not None:
            self.journal.finish()

    def refused(self, exc, current):
        """The failure result's keys besides ``msg`` for a refused plan (``current`` is None before the observation)."""
        return dict(exc.details)

    def result(self, current, final, actions, after):
        return {}

    def fail(self, msg, **details):
        details.setdefault("changed", bool(self.recovered))
        if self.recovered:
            details.setdefault("recovered", self.recovered)
        self.module.fail_json(msg=msg, **details)

    def run(self):
        """The protocol; exits the module (``exit_json``/``fail_json``). The host's lock is released on the way out
        (emptied: the holder's record goes with it), and by the kernel when the process is killed."""
        lock = None
        try:
            try:
                self.check()
                if self.lock:
                    lock = HostLock(self.lock).acquire()
            except (Refusal, LockHeld) as exc:
                self.fail(str(exc), **getattr(exc, "details", {}))
            self._converge()
        finally:
            if lock is not None:
                lock.release()

    def _converge(self):
        module = self.module
        current, actions, before, after = None, [], None, None
        try:
            self.recovered = self.recover()
            current = self.observe()
            actions = self.plan(current)
            before = self.describe(current)
            after = self.predict(current, before, actions) if actions else before
        except Refusal as exc:
            self.fail(str(exc), **self.refused(exc, current))
        final = current
        self.actions = actions
        if actions and not module.check_mode:
            self.apply(current, actions)
            final = self.observe()
            if self.diff_after == "observed":
                after = self.describe(final)
        out = dict(changed=bool(actions) or bool(self.recovered), actions=[a.to_dict() for a in actions])
        if before is not None:
            out["diff"] = dict(before=before, after=after)
        if self.recovered:
            out["recovered"] = self.recovered
        out.update(self.result(current, final, actions, after))
        module.exit_json(**out)
