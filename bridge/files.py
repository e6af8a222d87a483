"""Files the tool writes: whole or not at all, readable by the group, never over a file that
is not theirs (SPEC §10).

`write_atomically` writes next to the destination and moves the result into place, so a
failure (a full disk, a read-only folder, Ctrl-C) leaves the previous file as it was and no
temporary file behind; the file gets mode 0666 less the umask (0644 usually), as files any
program makes. `guard_output` refuses a path that names one of the run's inputs.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from bridge.errors import InputError


def umask_mode(base: int = 0o666) -> int:
    mask = os.umask(0)
    os.umask(mask)
    return base & ~mask


def disk_message(path: Path, what: str, exc: OSError) -> str:
    """One message a person can act on for an OSError while writing `path`."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        why = "the disk is full (or the quota is used up); free some space"
    elif isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = (f"no permission to write there, or the {what} is open in another program (Excel locks it); "
               "close it or choose a folder you can write to")
    else:
        why = f"{exc.strerror or exc}; check the folder"
    return f"{path}: cannot write the {what}: {why}, then run again. The previous {what}, if any, is as it was."


def write_atomically(path: Path, write: Callable[[str], None], *, what: str) -> Path:
    """Call `write(temporary path)`, then move it to `path`; InputError naming the path on
    any OSError (nothing left half-written)."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
        os.close(fd)
        write(tmp)
        os.chmod(tmp, umask_mode())
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise InputError(disk_message(path, what, exc)) from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return path


def guard_output(path: Path, inputs: Iterable[Path | None], *, key: str) -> None:
    """InputError when `path` (the config's `key`) is one of the run's inputs."""
    target = Path(path).resolve()
    for given in inputs:
        if given is not None and Path(given).resolve() == target:
            raise InputError(f"{path}: {key} names an input of this run ({given}); it would be overwritten. "
                             f"Choose another path for {key}.")
