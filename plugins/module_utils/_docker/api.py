# -*- coding: utf-8 -*-
# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only GET requests to the Docker Engine API over its unix socket, from the standard library.

The docker CLI is a Go program: each ``docker info`` / ``image ls`` / ``ps`` costs a process start
of tens of milliseconds of CPU, several times per module run and per host. The engine answers the
same questions over its socket in a few milliseconds. Only reads go this way; everything that
changes the engine still runs the docker CLI through the runner.

:func:`socket_path` decides whether the socket may be used the way the CLI would connect; where it
may not (a ``tcp://`` or ``ssh://`` DOCKER_HOST, a docker context, TLS settings), callers use the CLI.
"""

from __future__ import annotations

__metaclass__ = type  # pylint: disable=invalid-name

import http.client as http_client
import json
import os
import socket


DEFAULT_SOCKET = "/var/run/docker.sock"
# A read of /info may wait for a busy engine; the CLI waits without limit, we wait this long.
TIMEOUT_SECONDS = 60


class EngineUnreachable(Exception):
    """The socket could not be used (absent, refused, not ours to pick, an HTTP error): fall back to the CLI."""


def socket_path(environ, cli_config_text=""):
    """The unix socket the docker CLI would talk to, or None when the CLI would go elsewhere.

    ``environ`` is the process environment; ``cli_config_text`` the CLI's ``config.json`` (its
    ``currentContext``). Pure, so it is unit-tested.
    """
    if environ.get("DOCKER_CONTEXT") or environ.get("DOCKER_TLS_VERIFY") or environ.get("DOCKER_CERT_PATH"):
        return None
    if cli_config_text.strip():
        try:
            context = json.loads(cli_config_text).get("currentContext")
        except (ValueError, AttributeError):
            return None
        if context and context != "default":
            return None
    host = environ.get("DOCKER_HOST") or ""
    if not host:
        return DEFAULT_SOCKET
    if host.startswith("unix://") and len(host) > len("unix://"):
        return host[len("unix://"):]
    return None


def cli_config_text(environ):
    """The CLI's config.json text (empty when absent or unreadable)."""
    directory = environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    try:
        with open(os.path.join(directory, "config.json"), "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except (IOError, OSError):
        return ""


class _UnixConnection(http_client.HTTPConnection):
    def __init__(self, path, timeout):
        http_client.HTTPConnection.__init__(self, "localhost", timeout=timeout)
        self.socket_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except Exception:
            sock.close()
            raise
        self.sock = sock


class EngineAPI:
    """The engine's socket, for the reads of a module run (a fresh connection per request: a restart in between
    cannot leave a stale one behind, and connecting to a unix socket costs microseconds)."""

    def __init__(self, path, timeout=TIMEOUT_SECONDS):
        self.path = path
        self.timeout = timeout

    @classmethod
    def from_environment(cls, environ=None):
        """The API the CLI would reach, or None when the CLI must be used."""
        environ = os.environ if environ is None else environ
        path = socket_path(environ, cli_config_text(environ))
        return cls(path) if path else None

    def get(self, path):
        """GET ``path`` -> the response body as text; :class:`EngineUnreachable` for anything but a 200."""
        conn = _UnixConnection(self.path, self.timeout)
        try:
            conn.request("GET", path, headers={"Host": "docker"})
            response = conn.getresponse()
            body = response.read()
        except (OSError, http_client.HTTPException) as exc:
            raise EngineUnreachable("%s: %s" % (self.path, exc)) from None
        finally:
            conn.close()
        if response.status != 200:
            raise EngineUnreachable("GET %s: HTTP %d %s" % (path, response.status, body[:200].decode("utf-8", "replace")))
        return body.decode("utf-8", "surrogateescape")
