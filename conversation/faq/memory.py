"""Giving the memory a training freed back to the operating system.

Training builds large temporary arrays (scikit-learn's float64 copy of the features,
liblinear's own copy, the calibration folds), all freed when it ends. glibc's allocator
keeps most of that freed memory in the process's heap for reuse instead of returning it,
so a hub that retrained once stayed 100 - 150 MB larger than the model it keeps (with e5,
10,000 examples: 340 MB of growth, 197 MB after a trim; README "FAQ matching").

Two remedies for the heap, both glibc's own and nothing elsewhere (musl and macOS return
memory their own way):
- `release_freed_memory`: `malloc_trim(0)` returns the free pages at once; it takes a few
  milliseconds, so it runs once per training, never per question.
- `keep_large_blocks_apart`: glibc gives a block of 128 kB or more its own mapping, returned
  whole when freed, but each time such a block is freed it raises that limit to the block's
  size (up to 32 MB). After a training's first large array is freed, the next ones of up to
  32 MB came from the heap, where they stayed scattered among long-lived objects that a
  trim cannot move. A fixed limit keeps every large array in its own mapping: a hub's growth
  after a first training on 10,000 examples with e5 fell from 284 to 226 MB
  (`bench/faq_hub_memory.py`; README "FAQ matching").

And one for a model's weights file (Linux): `release_file_pages` lets go of the pages of a
read-only mapping of the file that the process holds. e5's engine maps its 72 MB file and,
embedding a first training's thousands of texts, touches most of it (the rows of every token
met); those pages are the page cache's, not the process's own memory, but they count in its
RSS during the training's classifier fits that follow, its peak. Let go, they stay in the page
cache, and the next question reads back from it only the pages it needs (README "FAQ matching").
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Blocks of this size or more get a mapping of their own (glibc's default before it adapts is
# 128 kB). A question's arrays (a row per example, 80 kB for 10,000) stay below it.
LARGE_BLOCK_BYTES = 256 * 1024
_M_MMAP_THRESHOLD = -3  # from glibc's <malloc.h>
_MADV_DONTNEED = 4  # from <sys/mman.h>: a file's private mapping is read back from the file


def _glibc_function(name: str) -> Callable[..., Any] | None:
    library = ctypes.util.find_library("c")
    if library is None:
        return None
    try:
        return getattr(ctypes.CDLL(library), name)  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # not glibc
        return None


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    return _glibc_function("malloc_trim")


def release_freed_memory() -> bool:
    """Return freed heap pages to the operating system; False where the C library cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@functools.cache
def keep_large_blocks_apart() -> bool:
    """Give every block of LARGE_BLOCK_BYTES or more its own mapping from now on, for the
    whole process (see the module docstring); False where the C library cannot. Once is
    enough: later calls change nothing."""
    mallopt = _glibc_function("mallopt")
    return mallopt is not None and mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK_BYTES) == 1


@functools.cache
def _madvise() -> Callable[[int, int, int], int] | None:
    madvise: Any = _glibc_function("madvise")  # a ctypes function: its argument types are set below
    if madvise is not None:
        madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        madvise.restype = ctypes.c_int
    return madvise  # type: ignore[no-any-return]


def release_file_pages(path: str | os.PathLike[str], smaps: Path = Path("/proc/self/smaps")) -> int:
    """Let go of the resident pages of this process's read-only mappings of the file at
    `path` that hold none of its own pages (MADV_DONTNEED): the next access reads the same
    bytes back from the page cache. A mapping written to before it was made read-only holds
    private copies (its `Anonymous` pages), which would be lost: it is left alone, as is any
    writable one. The caller must keep the mapping alive meanwhile (e5's lives as long as the
    process). Returns the bytes of mapping advised; 0 when nothing maps the file, or where
    there is no /proc or madvise."""
    madvise = _madvise()
    try:
        wanted = os.stat(path)
        text = smaps.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return 0
    name = os.path.realpath(path)
    released = 0
    for header, anonymous_kb in _mappings(text):
        fields = header.split(maxsplit=5)
        if madvise is None or len(fields) < 6 or "w" in fields[1] or anonymous_kb:
            continue
        # By name, or by device and inode (overlay file systems may show either differently).
        major, minor = (int(part, 16) for part in fields[3].split(":"))
        same_inode = int(fields[4]) == wanted.st_ino and os.makedev(major, minor) == wanted.st_dev
        if fields[5] != name and not same_inode:
            continue
        start, end = (int(part, 16) for part in fields[0].split("-"))
        if madvise(start, end - start, _MADV_DONTNEED) == 0:
            released += end - start
    return released


def _mappings(smaps: str) -> list[tuple[str, int]]:
    """Each mapping of /proc/self/smaps: its header line and its `Anonymous` kB (private copies)."""
    found: list[tuple[str, int]] = []
    for line in smaps.splitlines():
        if line and not line.split(maxsplit=1)[0].endswith(":"):  # "start-end perms ...": a new mapping
            found.append((line, 0))
        elif line.startswith("Anonymous:") and found:
            found[-1] = (found[-1][0], int(line.split()[1]))
    return found
