"""Hand a process's freed heap back to the system once its big one-off work is done."""

from __future__ import annotations


def release_free_memory() -> None:
    """gc, then glibc's malloc_trim: returns freed heap pages to the system (a no-op elsewhere)."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        pass
