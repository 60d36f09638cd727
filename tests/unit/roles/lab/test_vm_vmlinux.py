# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""roles/lab/files/vm-vmlinux.py: the lab VM's kernel, unpacked from its bzImage for a PVH boot.

The real kernels (Debian 12's xz bzImage, Debian unstable's zstd one) were unpacked and booted by hand and boot in every
make lab; these synthetic bzImages pin the parser: the boot header's payload fields, each compression, the PVH note."""
from __future__ import annotations

import gzip
import importlib.util
import lzma
import os
import shutil
import struct
import subprocess

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), *[os.pardir] * 4, "roles", "lab", "files", "vm-vmlinux.py")
SPEC = importlib.util.spec_from_file_location("vm_vmlinux", SCRIPT)
vm_vmlinux = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(vm_vmlinux)


def elf(note_type):
    """A minimal ELF64 with one PT_NOTE segment holding one Xen note of the given type."""
    desc = struct.pack("<Q", 0x1000000)
    note = struct.pack("<III", 4, len(desc), note_type) + b"Xen\x00" + desc
    phoff, phentsize = 64, 56
    note_off = phoff + phentsize
    fields = struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, 0, phoff, 0, 0, 64, phentsize, 1, 0, 0, 0)
    header = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) + fields
    phdr = struct.pack("<IIQQQQQQ", 4, 4, note_off, 0, 0, len(note), len(note), 4)
    return header + phdr + note + b"\x00" * 64


def bzimage(payload, setup_sects=3):
    """A bzImage whose boot header (protocol 2.15) points at PAYLOAD after the real-mode setup and a 16-byte stub."""
    setup = bytearray((setup_sects + 1) * 512)
    setup[0x1F1] = setup_sects
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, 0x020F)
    struct.pack_into("<II", setup, 0x248, 16, len(payload))
    return bytes(setup) + b"\x90" * 16 + payload + b"\x00" * 32


def xz(data):
    # the kernel's build appends the uncompressed size (4 bytes) after the stream
    return lzma.compress(data, format=lzma.FORMAT_XZ) + struct.pack("<I", len(data))


def run(tmp_path, image):
    src, out = tmp_path / "vmlinuz", tmp_path / "vmlinux"
    src.write_bytes(image)
    return vm_vmlinux.main(["vm-vmlinux.py", str(src), str(out)]), out


def test_xz_kernel_with_a_pvh_note_is_unpacked(tmp_path):
    kernel = elf(vm_vmlinux.XEN_ELFNOTE_PHYS32_ENTRY)
    rc, out = run(tmp_path, bzimage(xz(kernel)))
    assert rc == 0
    assert out.read_bytes() == kernel
    assert not os.path.exists(str(out) + ".tmp")


def test_gzip_kernel_is_unpacked(tmp_path):
    kernel = elf(vm_vmlinux.XEN_ELFNOTE_PHYS32_ENTRY)
    rc, out = run(tmp_path, bzimage(gzip.compress(kernel) + struct.pack("<I", len(kernel)), setup_sects=1))
    assert rc == 0
    assert out.read_bytes() == kernel


def test_zstd_kernel_is_unpacked(tmp_path):
    assert shutil.which("zstd"), "make deps installs zstd"
    kernel = elf(vm_vmlinux.XEN_ELFNOTE_PHYS32_ENTRY)
    frame = subprocess.run(["zstd", "-q", "-c"], input=kernel, stdout=subprocess.PIPE, check=True).stdout
    rc, out = run(tmp_path, bzimage(frame + struct.pack("<I", len(kernel))))
    assert rc == 0
    assert out.read_bytes() == kernel


def test_kernel_without_a_pvh_note_is_left_to_the_bzimage(tmp_path, capsys):
    rc, out = run(tmp_path, bzimage(xz(elf(5))))  # XEN_ELFNOTE_XEN_VERSION only
    assert rc == 1
    assert not out.exists()
    assert "no PVH entry point" in capsys.readouterr().err


@pytest.mark.parametrize("image, reason", [
    (b"MZ" + bytes(4096), "not a bzImage"),
    (bzimage(b"BZh91AY&SY" + bytes(64)), "unknown compression"),
    (bzimage(b"\xfd7zXZ\x00" + bytes(64)), "vm-vmlinux:"),  # a truncated xz stream
])
def test_what_cannot_be_unpacked_says_why_and_writes_nothing(tmp_path, capsys, image, reason):
    rc, out = run(tmp_path, image)
    assert rc == 1
    assert not out.exists()
    assert reason in capsys.readouterr().err
