# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files the modules read and rewrite: one text read, one check of a file a module will rewrite, and one atomic
write (temporary file in the same directory, fsync, rename, fsync of the directory), so a run killed at any
point leaves the old file or the new one, never a torn one, and a symlinked file keeps its link."""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import grp
import hashlib
import os
import pwd
import shutil
import stat
import tempfile
import time

from ansible_collections.cow.storage.plugins.module_utils._errors import Refusal


class FileRefusal(Refusal):
    """A file a module was given cannot be used; the message starts with the parameter."""


def read_text(path, missing_ok=False):
    """The text of ``path`` (undecodable bytes kept as surrogates); ``""`` for a missing file with ``missing_ok``."""
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "surrogateescape")
    except (IOError, OSError):
        if missing_ok and not os.path.lexists(path):
            return ""
        raise


def real_target(path):
    """The file a write to ``path`` must replace: symlinks followed (a link to a missing file gives that file)."""
    return os.path.realpath(path)


def check_rewritable(path, param):
    """Refusals for a file the module will rewrite, raised before any change: a relative path, a directory, a
    path under a regular file, a read-only file or directory. Returns the real target (symlinks followed)."""
    if not os.path.isabs(path):
        raise FileRefusal("%s: %s is relative; give an absolute path" % (param, path))
    target = real_target(path)
    if os.path.isdir(target):
        raise FileRefusal("%s: %s is a directory, not a file" % (param, path + ("" if target == path else " (-> %s)" % target)))
    if os.path.exists(target) and not os.path.isfile(target):
        raise FileRefusal("%s: %s is not a regular file" % (param, target))
    directory = os.path.dirname(target) or "/"
    probe = directory
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise FileRefusal("%s: %s cannot be created: %s is not a directory" % (param, target, probe))
    if not os.access(probe, os.W_OK | os.X_OK) or (os.path.exists(target) and not os.access(target, os.W_OK)):
        raise FileRefusal("%s: %s is not writable (read-only file or directory %s)" % (param, target, probe))
    if _read_only_mount(probe):
        raise FileRefusal("%s: %s is on a read-only filesystem" % (param, target))
    return target


def _read_only_mount(path):
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (AttributeError, OSError):
        return False


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def backup_path(path, now=None):
    """Where :func:`write_atomic` keeps the previous file with ``backup``: ``PATH.<pid>.<YYYY-mm-dd@HH:MM:SS>~``,
    the form ansible.builtin.copy uses."""
    stamp = time.strftime("%Y-%m-%d@%H:%M:%S", time.localtime(now))
    return "%s.%d.%s~" % (path, os.getpid(), stamp)


def write_atomic(path, data, mode=0o644, backup=False, module=None):
    """Replace ``path`` (its symlink target) with ``data`` (str or bytes) atomically and durably.

    The previous file's mode is kept (``mode`` for a new file); the temporary file is removed on any error.
    Returns the backup's path (``backup=True`` and a previous file existed), else None."""
    target = real_target(path)
    directory = os.path.dirname(target) or "/"
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    saved = None
    if backup and os.path.exists(target):
        saved = backup_path(target)
        shutil.copy2(target, saved)
    if os.path.exists(target):
        mode = os.stat(target).st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(target), dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if module is not None:
            module.atomic_move(tmp, target)  # keeps owner and SELinux context of the file it replaces
        else:
            os.rename(tmp, target)
        fsync_dir(directory)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return saved


def remove_durably(path):
    """Remove ``path`` (if there) and fsync its directory."""
    if os.path.lexists(path):
        os.unlink(path)
        fsync_dir(os.path.dirname(path) or "/")


def _user(uid):
    try:
        return "%s (uid %d)" % (pwd.getpwuid(uid).pw_name, uid)
    except KeyError:
        return "uid %d" % uid


def _group(gid):
    try:
        return "%s (gid %d)" % (grp.getgrgid(gid).gr_name, gid)
    except KeyError:
        return "gid %d" % gid


def _chain(path):
    """``/a/b/c`` -> ``["/", "/a", "/a/b", "/a/b/c"]``."""
    out, here = ["/"], "/"
    for part in [p for p in os.path.normpath(path).split("/") if p]:
        here = os.path.join(here, part)
        out.append(here)
    return out


def foreign_control(path, lstat=os.lstat):
    """Why another user than root could plant, swap or remove something at ``path`` (None when no one can): ``path``
    or one of its existing parents (each symlink's target too) owned by a non-root user, writable by every user
    (sticky directories included: a planted name is still planted) or by a group other than root's."""
    me = os.geteuid() if hasattr(os, "geteuid") else 0
    seen = set()
    todo = [os.path.normpath(path)]
    while todo:
        path = todo.pop()
        for here in _chain(path):
            if here in seen:
                continue
            seen.add(here)
            try:
                st = lstat(here)
            except (IOError, OSError):
                break  # the rest does not exist yet; it is made by root
            if st.st_uid not in (0, me):
                return "%s is owned by %s" % (here, _user(st.st_uid))
            if stat.S_ISLNK(st.st_mode):
                todo.append(os.path.realpath(here))
                continue
            if st.st_mode & stat.S_IWOTH:
                return "%s is writable by every user%s" % (here, " (sticky)" if st.st_mode & stat.S_ISVTX else "")
            if st.st_mode & stat.S_IWGRP and st.st_gid != 0:
                return "%s is writable by the group %s" % (here, _group(st.st_gid))
    return None


def private_dir(path, param, tighten=True):
    """Make (or check) ``path`` a directory only root can use (made 0700, root's, no other user in control of it or
    a parent), for the lock, the journal and the migration archive. ``tighten`` takes group and other permissions
    off an existing one (cow.storage's own directories; not a user's migrate_path, under which the archive gets a
    mkdtemp directory of its own). Returns ``path``; raises FileRefusal naming ``param`` and the owner of whatever
    another user planted."""
    problem = foreign_control(path)
    if problem:
        raise FileRefusal("%s: %s; nothing was changed (another user could plant or swap what cow.storage writes and "
                          "reads there)" % (param, problem))
    if os.path.lexists(path) and not os.path.isdir(path) or os.path.islink(path):
        raise FileRefusal("%s: %s exists and is not a directory" % (param, path))
    if not os.path.isdir(path):
        os.makedirs(path, 0o700)
    st = os.lstat(path)
    if tighten and stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, 0o700)
    return path


def tree_digest(top):
    """One sha256 over a directory tree: every entry's relative path, type, mode, owner and (files) content or
    (symlinks) target, in a fixed order; two trees with the same digest hold the same data. Returns
    ``(hex digest, files, bytes)``."""
    digest = hashlib.sha256()
    files = size = 0
    for here, dirs, names in os.walk(top):
        dirs.sort()
        for name in sorted(dirs + names):
            path = os.path.join(here, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, top)
            digest.update(("%s\0%o\0%d:%d\0" % (rel, st.st_mode, st.st_uid, st.st_gid)).encode("utf-8", "surrogateescape"))
            if stat.S_ISLNK(st.st_mode):
                digest.update(os.readlink(path).encode("utf-8", "surrogateescape"))
            elif stat.S_ISREG(st.st_mode):
                files += 1
                with open(path, "rb") as handle:
                    for block in iter(lambda h=handle: h.read(1 << 20), b""):
                        digest.update(block)
                        size += len(block)
            digest.update(b"\0")
    return digest.hexdigest(), files, size
