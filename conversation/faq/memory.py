"""Giving the memory a training freed back to the operating system.

Training builds large temporary arrays (scikit-learn's float64 copy of the features,
liblinear's own copy, the calibration folds), all freed when it ends. glibc's allocator
keeps most of that freed memory in the process's heap for reuse instead of returning it,
so a hub that retrained once stayed 100 - 150 MB larger than the model it keeps (with e5,
10,000 examples: 340 MB of growth, 197 MB after a trim; README "FAQ matching").

Two remedies, both glibc's own and nothing elsewhere (musl and macOS return memory their
own way):
- `release_freed_memory`: `malloc_trim(0)` returns the free pages at once; it takes a few
  milliseconds, so it runs once per training, never per question.
- `keep_large_blocks_apart`: glibc gives a block of 128 kB or more its own mapping, returned
  whole when freed, but each time such a block is freed it raises that limit to the block's
  size (up to 32 MB). After a training's first large array is freed, the next ones of up to
  32 MB came from the heap, where they stayed scattered among long-lived objects that a
  trim cannot move. A fixed limit keeps every large array in its own mapping: a hub's growth
  after a first training on 10,000 examples with e5 fell from 284 to 226 MB
  (`bench/faq_hub_memory.py`; README "FAQ matching").
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable
from typing import Any

# Blocks of this size or more get a mapping of their own (glibc's default before it adapts is
# 128 kB). A question's arrays (a row per example, 80 kB for 10,000) stay below it.
LARGE_BLOCK_BYTES = 256 * 1024
_M_MMAP_THRESHOLD = -3  # from glibc's <malloc.h>


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
