# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""testinfra reaches the lab's container hosts with the docker CLI: without DOCKER_HOST (molecule run by hand after
`make deps`), that is the lab engine's socket, as the inventory's ansible_docker_extra_args says."""

import os

if not os.environ.get("DOCKER_HOST"):
    _STATE = os.environ.get("LAB_STATE") or os.path.join(os.environ.get("HOME", "/root"), ".cache", "cow-lab")
    os.environ["DOCKER_HOST"] = "unix://" + os.path.join(_STATE, "engine", "docker.sock")
