"""Replacing a partition atomically: a staged folder swapped in with one rename (standard library only)."""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import time
import uuid
from pathlib import Path


# A writer killed mid-way leaves its staging folder behind. No run lives longer than run
# monitoring allows (dagster.yaml: 2 h), so a staging folder untouched for longer is an orphan.
ORPHANED_AFTER_SECONDS = 6 * 3600


def staging_dir(lake: str | os.PathLike, table: str) -> Path:
    """A fresh folder beside the table, hidden from readers (Spark and globs skip dot folders).
    Orphans that killed writers left beside it are removed first."""
    parent = Path(lake) / table
    parent.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - ORPHANED_AFTER_SECONDS
    for orphan in parent.glob(".staging-*"):
        try:
            if orphan.stat().st_mtime < cutoff:
                shutil.rmtree(orphan, ignore_errors=True)
        except FileNotFoundError:
            continue  # removed meanwhile by another writer
    return parent / f".staging-{uuid.uuid4().hex}"


_RENAME_EXCHANGE = 2
_libc = ctypes.CDLL(None, use_errno=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one atomic rename (Linux renameat2 RENAME_EXCHANGE)."""
    renameat2 = getattr(_libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd = -100
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False  # filesystem without exchange: fall back below
    raise OSError(err, os.strerror(err), str(b))


def publish_partition(staged: Path, target: Path) -> None:
    """Make `staged` the partition `target` in one rename; the old data is then removed.

    A kill at any moment leaves either the old partition or the new one in `target`,
    never a mix, and re-running a day replaces it instead of appending.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        os.rename(staged, target)
        return
    if _exchange(staged, target):
        shutil.rmtree(staged)  # now holds the previous partition
        return
    old = target.with_name(f".old-{uuid.uuid4().hex}")
    os.rename(target, old)
    os.rename(staged, target)
    shutil.rmtree(old)
