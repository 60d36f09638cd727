#!/bin/sh
# mmdebstrap --hook-dir of the lab's image builds (vm-image.sh, tasks/image.yml): dpkg skips its fsync()s while the
# image is built (a VM image: 77 s instead of 86 s), and only then. An image is unusable until its build completes
# anyway, and customize.sh takes the setting out of it.
set -eu
echo force-unsafe-io > "$1/etc/dpkg/dpkg.cfg.d/00cow-build-unsafe-io"
