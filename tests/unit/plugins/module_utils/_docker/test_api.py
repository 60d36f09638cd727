# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which socket the engine API is read from: the one the docker CLI would use, or none (then the CLI is used)."""

from __future__ import annotations

import os
import socket
import tempfile
import threading

import pytest

from ansible_collections.cow.storage.plugins.module_utils._docker import api


@pytest.mark.parametrize("environ, config, expected", [
    ({}, "", "/var/run/docker.sock"),
    ({"DOCKER_HOST": "unix:///run/user/1000/docker.sock"}, "", "/run/user/1000/docker.sock"),
    ({"DOCKER_HOST": "tcp://10.0.0.5:2376"}, "", None),
    ({"DOCKER_HOST": "ssh://admin@engine"}, "", None),
    ({"DOCKER_CONTEXT": "remote"}, "", None),
    ({"DOCKER_TLS_VERIFY": "1"}, "", None),
    ({}, '{"currentContext": "remote"}', None),
    ({}, '{"currentContext": "default", "auths": {}}', "/var/run/docker.sock"),
    ({}, '{"auths": {}}', "/var/run/docker.sock"),
    ({}, "not json", None),
])
def test_socket_path_follows_the_cli(environ, config, expected):
    assert api.socket_path(environ, config) == expected


def test_unreachable_socket_is_reported_for_a_fallback():
    with tempfile.TemporaryDirectory() as tmp:
        with pytest.raises(api.EngineUnreachable):
            api.EngineAPI(os.path.join(tmp, "absent.sock")).get("/info")


def _serve_once(path, reply):
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)

    def answer():
        conn, dummy = server.accept()
        request = conn.recv(65536)
        conn.sendall(reply)
        conn.close()
        server.close()
        answer.request = request
    thread = threading.Thread(target=answer)
    thread.start()
    return thread, answer


def test_get_returns_the_body_and_refuses_errors():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "engine.sock")
        thread, answer = _serve_once(path, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
        assert api.EngineAPI(path).get("/info") == "{}"
        thread.join()
        assert answer.request.startswith(b"GET /info HTTP/1.1\r\n")
        os.unlink(path)
        thread, answer = _serve_once(path, b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nboom")
        with pytest.raises(api.EngineUnreachable, match="HTTP 500 boom"):
            api.EngineAPI(path).get("/info")
        thread.join()
