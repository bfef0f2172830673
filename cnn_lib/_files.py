"""Files: writing them so that a reader never sees half of one, and reading ``.npz`` archives of
plain arrays without ever unpickling anything."""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

NPZ_EXPECTED = "an .npz archive of named numeric arrays, as Sequential.save writes"


class WeightsFileError(ValueError):
    """A weights file that cannot be used: not an .npz archive of plain numeric arrays, or arrays
    that do not fit the model. The message names the file, what was expected and what came."""


def check_target(path: str | os.PathLike, owner: str) -> Path:
    """The file ``path`` names, if one can be written there (a link stands for its target).

    Raises ValueError for an empty path, IsADirectoryError for a directory (or a path ending
    in a separator), ValueError for something that exists but is not a regular file (a
    device, a pipe: writing there would replace it), FileNotFoundError when the directory it
    would go in does not exist, PermissionError when that directory or an existing file
    cannot be written to, and OSError for a loop of links; each message starts with ``owner``.
    """
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not text:
        raise ValueError(f"{owner}: expected the path of a file to write, got an empty string")
    if text.endswith((os.sep, "/")):
        raise IsADirectoryError(f"{owner}: {text} names a directory; expected the path of a file")
    path = Path(text)
    if path.is_symlink():  # write the file the link points to, and keep the link
        try:
            path = path.resolve()
        except RuntimeError as err:  # Python 3.11's way of saying "a loop of links"
            raise OSError(f"{owner}: cannot write {text}: {err}") from err
    if path.is_dir():
        raise IsADirectoryError(f"{owner}: {path} is a directory; expected the path of a file")
    if path.exists() and not path.is_file():
        raise ValueError(
            f"{owner}: {path} exists and is not a regular file (a device or a pipe, say), "
            "which writing would replace; expected the path of a file"
        )
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"{owner}: cannot write {path}: {path.parent} is not an existing directory"
        )
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise PermissionError(f"{owner}: cannot write {path}: {path.parent} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise PermissionError(f"{owner}: cannot write {path}: the file is read-only")
    return path


def _umask() -> int:
    """The process's umask, read without changing it where Linux tells it (/proc), since
    setting it, even for a moment, changes the files other threads create meanwhile."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)  # elsewhere the only way to read it is to set it
    os.umask(umask)
    return umask


def _mode_for(path: Path) -> int:
    """The permissions a new ``path`` gets: those of the file it replaces, else what open()
    would give (0o666 less the umask), not mkstemp's private 0o600."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~_umask()


def write_atomically(
    path: str | os.PathLike, write: Callable[[BinaryIO], None], owner: str = "write"
) -> None:
    """Call ``write(f)`` on a temporary file next to ``path``, then rename it over ``path``.

    ``path`` then holds either its old contents or the complete new ones, never a part; on any
    error the temporary file is removed and the error propagates. The path is checked first
    (`check_target`, whose errors start with ``owner``); a new file gets the permissions open()
    would give it, a replaced one keeps its own, and a link keeps pointing to the new file.
    """
    path = check_target(path, owner)
    mode = _mode_for(path)
    # The temporary name carries the start of the file's name: as long a name as open() takes.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:64]}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _not_an_archive(head: bytes) -> str:
    """What a file is, judged from its first bytes, when it is not a zip archive."""
    if not head:
        return "the file is empty"
    if head.startswith(b"\x93NUMPY"):
        return "it holds a single array (.npy format), not an archive of named arrays"
    if head[0] == 0x80:  # every pickle of protocol 2 or later starts with the PROTO opcode
        return (
            "it is a pickle file; cnn_lib never unpickles a weights file, because unpickling "
            "can run any code the file contains"
        )
    return f"it is not an .npz archive (its first bytes are {head.hex(' ')})"


def _read_npy(raw: bytes, path: Path, member: str) -> np.ndarray:
    """One archive entry in .npy format -> its array; only plain (non-object) dtypes."""
    where = f"{path}: entry {member!r}"
    if not raw.startswith(b"\x93NUMPY"):
        raise WeightsFileError(f"{where} is not a NumPy array (.npy); expected {NPZ_EXPECTED}")
    f = io.BytesIO(raw)
    try:
        version = np.lib.format.read_magic(f)
        read_header = {
            (1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0,
        }.get(version)
        if read_header is None:
            raise WeightsFileError(
                f"{where} is in .npy format version {version[0]}.{version[1]}; expected version "
                "1.0 or 2.0, which every plain numeric array is saved in"
            )
        _, _, dtype = read_header(f)
        if dtype.hasobject:
            raise WeightsFileError(
                f"{where} holds Python objects (dtype {dtype}), which only unpickling could "
                f"read; cnn_lib never unpickles a weights file. Expected {NPZ_EXPECTED}"
            )
        f.seek(0)
        return np.lib.format.read_array(f, allow_pickle=False)
    except ValueError as err:  # a damaged header, or fewer bytes than the header promises
        if isinstance(err, WeightsFileError):
            raise
        raise WeightsFileError(f"{where} is damaged ({err}); expected {NPZ_EXPECTED}") from err


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array of the .npz archive at ``path``, keyed by name, read without unpickling.

    Raises FileNotFoundError (or PermissionError) if the file cannot be opened, and
    WeightsFileError, naming the file, for anything that is not an .npz archive of plain arrays:
    a directory, an empty file, a single .npy array, a pickle, any other kind of file, a damaged
    or truncated archive, an entry that is not an array or that holds Python objects.
    """
    path = Path(path)
    if path.is_dir():
        raise WeightsFileError(f"{path}: it is a directory; expected {NPZ_EXPECTED}")
    with open(path, "rb") as f:
        head = f.read(8)
    if not head.startswith(b"PK"):  # the signature that every zip archive starts with
        raise WeightsFileError(f"{path}: {_not_an_archive(head)}; expected {NPZ_EXPECTED}")
    try:
        with zipfile.ZipFile(path) as archive:
            entries = {member: archive.read(member) for member in archive.namelist()}
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        ValueError,
        RuntimeError,
        NotImplementedError,
    ) as err:
        raise WeightsFileError(
            f"{path}: a damaged or truncated zip archive ({err}); expected {NPZ_EXPECTED}"
        ) from err
    names = [member.removesuffix(".npy") for member in archive.namelist()]
    if len(set(names)) != len(names):  # "0.w" and "0.w.npy", or one name stored twice
        twice = sorted({name for name in names if names.count(name) > 1})
        raise WeightsFileError(
            f"{path}: the archive holds {twice} more than once; expected {NPZ_EXPECTED}"
        )
    return {
        member.removesuffix(".npy"): _read_npy(raw, path, member) for member, raw in entries.items()
    }
