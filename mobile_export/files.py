"""File-system helpers shared by the bundle writer and the app installers: a folder replaced as a whole."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import tempfile


def _stale_prefixes(target: str) -> tuple[str, str]:
    name = os.path.basename(os.path.normpath(target))
    return f".{name}-new-", f".{name}-old-"


def staging_folder(target: str, carry_over: tuple[str, ...] | None = None) -> str:
    """A new empty folder beside ``target`` (``.NAME-new-XXXX``) to build its replacement in.

    What an earlier, killed replace left is repaired first (:func:`recover_folder` with ``carry_over``).
    """
    recover_folder(target, carry_over)
    parent = os.path.dirname(os.path.abspath(target))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=_stale_prefixes(target)[0], dir=parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes it private; the folder it becomes is an ordinary one
    return staging


def _exchange(a: str, b: str) -> bool:
    """Swap two existing paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), b)


def replace_folder(staging: str, target: str, carry_over: tuple[str, ...] | None = None) -> None:
    """Put the complete folder ``staging`` in the place of ``target`` (created or replaced).

    On Linux the two folders are exchanged in one atomic rename: a reader sees the old ``target`` or the new one.
    Elsewhere the old one is renamed aside first (a kill in between leaves it aside; :func:`recover_folder`, which
    the next :func:`staging_folder` calls, puts it back). The previous folder is deleted once the new one is in
    place.

    Args:
        staging: The new folder (on the same file system as ``target``), typically from :func:`staging_folder`.
        target: The folder to replace.
        carry_over: ``None``: the old folder's other entries are deleted with it. Otherwise the names the new folder
            owns: every other entry of the old folder (e.g. a training run dir kept in a bundle folder) is moved
            into the new one.
    """
    parent = os.path.dirname(os.path.abspath(target))
    retired = None
    try:
        if os.path.isdir(target):
            if _exchange(staging, target):
                retired = tempfile.mkdtemp(prefix=_stale_prefixes(target)[1], dir=parent)
                os.rmdir(retired)
                os.rename(staging, retired)  # the old folder, now at the staging path
            else:
                retired = tempfile.mkdtemp(prefix=_stale_prefixes(target)[1], dir=parent)
                os.rmdir(retired)
                os.rename(target, retired)
                os.rename(staging, target)
        else:
            os.rename(staging, target)
    except BaseException:
        if os.path.isdir(staging) and retired is None:
            shutil.rmtree(staging, ignore_errors=True)
        recover_folder(target, carry_over)
        raise
    if retired is not None:
        if carry_over is not None:
            _move_missing(retired, target, carry_over)
        shutil.rmtree(retired, ignore_errors=True)


def _move_missing(source: str, target: str, owned: tuple[str, ...]) -> None:
    for name in os.listdir(source):
        if name not in owned and not os.path.lexists(os.path.join(target, name)):
            os.rename(os.path.join(source, name), os.path.join(target, name))


def recover_folder(target: str, carry_over: tuple[str, ...] | None = None) -> None:
    """Repair what a kill during :func:`replace_folder` left beside ``target``, and delete the stale folders.

    A retired copy without a ``target`` is put back; with ``carry_over`` (the names the new folder owns), the other
    entries a stale folder still holds move into ``target`` (a half-built replacement holds only owned names).
    """
    parent = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(parent):
        return
    new, old = _stale_prefixes(target)
    for entry in sorted(os.listdir(parent)):
        path = os.path.join(parent, entry)
        if not os.path.isdir(path) or not entry.startswith((new, old)):
            continue
        if entry.startswith(old) and not os.path.exists(target):
            os.rename(path, target)
            continue
        if carry_over is not None and os.path.isdir(target):  # a killed exchange leaves the old folder at `new`
            with contextlib.suppress(OSError):
                _move_missing(path, target, carry_over)
        shutil.rmtree(path, ignore_errors=True)
