"""memory.py: the kernel really backs a range with 2 MiB pages where it can, and Arrow
allocates from glibc once the server has asked it to."""

from __future__ import annotations

import ctypes
import mmap
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

from embedhub.memory import HUGE_PAGE, huge_pages

THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def _thp_possible() -> bool:
    """Transparent huge pages not switched off, and a kernel with MADV_COLLAPSE (6.1+)."""
    if platform.system() != "Linux" or not THP.exists() or "[never]" in THP.read_text():
        return False
    major, minor = (int(x) for x in re.findall(r"\d+", platform.release())[:2])
    return (major, minor) >= (6, 1)


def _huge_kib(address: int) -> int:
    """AnonHugePages of the mapping that holds `address`, from /proc/self/smaps."""
    inside, huge = False, 0
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = re.match(r"^([0-9a-f]+)-([0-9a-f]+) ", line)
        if head:
            inside = int(head[1], 16) <= address < int(head[2], 16)
        elif inside and line.startswith("AnonHugePages:"):
            huge = int(line.split()[1])
    return huge


def test_huge_pages_back_a_written_range_with_2mib_pages():
    # Private and anonymous, like the heap (a plain mmap(-1) is shared memory); written in 4
    # KiB pages below.
    region = mmap.mmap(-1, 4 * HUGE_PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    region.write(b"\1" * len(region))
    address = ctypes.addressof(ctypes.c_char.from_buffer(region))  # the export ends here
    try:
        collapsed = huge_pages(address, len(region))
        assert collapsed == _thp_possible()
        if collapsed:
            # At least the whole 2 MiB pages inside the (4 KiB-aligned) mapping.
            assert _huge_kib(address) >= 3 * HUGE_PAGE // 1024
            assert region[: 4 * HUGE_PAGE] == b"\1" * (4 * HUGE_PAGE)  # the data is unchanged
    finally:
        region.close()


def test_huge_pages_leaves_a_range_without_a_whole_huge_page_alone():
    assert huge_pages(HUGE_PAGE + 4096, HUGE_PAGE - 8192) is False
    assert huge_pages(HUGE_PAGE, 0) is False


def _said_and_pool(before: str) -> tuple[str, str]:
    """In a fresh interpreter with no pool chosen by the environment: `before`, then what
    arrow_on_glibc() returns and the pool Arrow then uses."""
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    code = (
        f"{before}\nfrom embedhub.memory import arrow_on_glibc\nprint(arrow_on_glibc())\n"
        "import pyarrow as pa\nprint(pa.default_memory_pool().backend_name)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    said, pool = out.stdout.split()
    return said, pool


def test_arrow_allocates_from_glibc_when_asked_before_it_loads() -> None:
    assert _said_and_pool("") == ("True", "system")
    said, pool = _said_and_pool("import pyarrow")  # too late: it says so
    assert said == "False" and pool != "system"
