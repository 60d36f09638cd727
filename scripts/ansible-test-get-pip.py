"""Offline stand-in for the pip bootstrap script ansible-test downloads (its download site is not
reachable here). ansible-test runs it in each fresh venv: bring pip from ensurepip, then install
what ansible-test asked for from the configured package index."""
import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
os.environ.pop("PIP_CONFIG_FILE", None)  # ensurepip sets it to /dev/null; use the machine's pip config again
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check"] + args))
