"""Reading and writing files confined to a folder the user named.

Release folders and base folders come from strangers: a ``NOTICE`` may be a symlink to ``~/.ssh/id_rsa`` or to a
file that does not exist yet, a ``LICENSE`` may be a hard link shared with another tree. The rules here:

* **Writes** (``audit --write``, ``normalize -o``) go to a temp file created with ``O_EXCL`` inside the target
  folder, then ``os.replace``/``os.link`` it into place. A symlink at the target name (live or dangling) is refused:
  replacing it would silently undo what the owner set up, and reading it (to update it) would copy outside content
  into the release. A hard-linked target (``st_nlink > 1``) is *replaced* with a new inode, never written in place,
  so the other names keep their bytes; refusing would make ``--write`` useless on hard-link deduplicated trees
  (``cp -al``, some dataset stores), and the release's own name gets exactly the new content. An existing file is
  only replaced when the caller says so (``--force``); a new file is linked into place with ``os.link``, which fails
  rather than overwrite when a file appeared meanwhile.
* **Reads of files to copy** (a base's LICENSE / NOTICE / USE_POLICY.md) must resolve inside the base folder. The
  Hugging Face cache layout (``models--org--name/snapshots/<rev>/FILE -> ../../blobs/<hash>``) is the one exception:
  its blobs folder belongs to the same repository.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from provenance.errors import InputError

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def allowed_roots(root: Path) -> list[Path]:
    """The real folders a file of ``root`` may resolve into: ``root`` itself and, for a Hugging Face cache snapshot,
    the repository's ``blobs`` folder."""
    real = Path(os.path.realpath(root))
    roots = [real]
    if real.parent.name == "snapshots":
        roots.append(real.parent.parent / "blobs")
    return roots


def resolves_inside(root: Path, path: Path) -> bool:
    """Whether ``path`` (after every symlink) stays inside ``root`` (see :func:`allowed_roots`)."""
    real = Path(os.path.realpath(path))
    return any(real == r or r in real.parents for r in allowed_roots(root))


def read_confined(root: Path, path: Path, limit: int) -> bytes:
    """The bytes of ``path``, refused (InputError) when it resolves outside ``root`` or is larger than ``limit``."""
    if not resolves_inside(root, path):
        raise InputError(path, f"resolves outside {root} (to {os.path.realpath(path)}); refusing to copy it")
    try:
        fd = os.open(os.path.realpath(path), os.O_RDONLY | _O_NOFOLLOW)
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise InputError(path, "not a regular file; refusing to copy it")
        if st.st_size > limit:
            raise InputError(path, f"larger than {limit} bytes; refusing to copy it")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise InputError(path, f"larger than {limit} bytes; refusing to copy it")
    return data


def check_target(root: Path, rel: str) -> Path:
    """The path ``rel`` names inside ``root``, refused when it escapes ``root`` or is a symlink (live or dangling)."""
    rel_path = Path(rel)
    if rel_path.is_absolute() or ".." in rel_path.parts:
        raise InputError(rel, f"not a plain path inside {root}; refusing to write it")
    target = root / rel_path
    parent_real = Path(os.path.realpath(target.parent))
    root_real = Path(os.path.realpath(root))
    if parent_real != root_real and root_real not in parent_real.parents:
        raise InputError(target, f"its folder resolves outside {root}; refusing to write it")
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise InputError(target, f"cannot inspect: {exc.strerror or exc}") from exc
    if stat.S_ISLNK(st.st_mode):
        dest = os.readlink(target)
        live = "" if os.path.exists(target) else "dangling "
        raise InputError(target, f"is a {live}symlink (to {dest}); refusing to write through it")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(target, "exists and is not a regular file; refusing to write it")
    return target


def read_existing(root: Path, rel: str, limit: int) -> bytes | None:
    """The current bytes of a target file (None when absent), read without following a symlink."""
    target = check_target(root, rel)
    try:
        fd = os.open(target, os.O_RDONLY | _O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(target, f"cannot read: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "rb") as fh:
        if os.fstat(fh.fileno()).st_size > limit:
            raise InputError(target, f"larger than {limit} bytes; refusing to rewrite it")
        return fh.read(limit + 1)


def open_temp(root: Path, rel: str) -> tuple[int, Path]:
    """A new temp file (``O_EXCL``, mode 0600 widened to the umask default later) beside ``root/rel``."""
    target = root / rel
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    return fd, Path(tmp)


def install(root: Path, rel: str, tmp: Path, overwrite: bool) -> Path:
    """Move a finished temp file to ``root/rel``. ``overwrite`` False: fail if the name exists (``os.link``);
    True: atomically replace a regular file (a hard-linked one loses only this name's link)."""
    target = check_target(root, rel)
    _widen_mode(tmp)
    try:
        if overwrite:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target, follow_symlinks=False)
            except FileExistsError:
                raise InputError(target, "exists (appeared while writing); not overwritten without --force") from None
            except OSError:
                # A filesystem without hard links: claim the name with O_EXCL|O_NOFOLLOW, then rename over it.
                try:
                    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW, 0o600))
                except FileExistsError:
                    raise InputError(
                        target, "exists (appeared while writing); not overwritten without --force"
                    ) from None
                os.replace(tmp, target)
            else:
                os.unlink(tmp)
    except OSError as exc:
        raise InputError(target, f"cannot write: {exc.strerror or exc}") from exc
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def write_bytes(root: Path, rel: str, data: bytes, overwrite: bool) -> Path:
    """Write ``data`` to ``root/rel`` through a temp file in the same folder (see the module rules)."""
    target = check_target(root, rel)
    if not overwrite and os.path.lexists(target):
        raise InputError(target, "exists; not overwritten without --force")
    fd, tmp = open_temp(root, rel)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return install(root, rel, tmp, overwrite)


def _widen_mode(tmp: Path) -> None:
    """mkstemp makes 0600 files; a published release file gets the usual 0666 minus the umask."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o666 & ~mask)
