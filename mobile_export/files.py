"""File-system helpers shared by the app installers: a folder replaced as a whole."""

from __future__ import annotations

import os
import shutil
import tempfile


def replace_folder(staging: str, target: str) -> None:
    """Put the complete folder ``staging`` in the place of ``target`` (created or replaced) by renames.

    A reader sees either the old ``target`` or the new one, never a mix. If the swap fails, ``staging`` is removed
    and the previous ``target`` is put back; the previous one is deleted only once the new one is in place.
    """
    parent = os.path.dirname(os.path.abspath(target))
    retired = None
    try:
        if os.path.isdir(target):
            retired = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}-old-", dir=parent)
            os.rmdir(retired)
            os.rename(target, retired)
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if retired is not None and not os.path.exists(target):
            os.rename(retired, target)  # put the previous folder back
            retired = None
        raise
    finally:
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)
