"""Real data: the IDX file format, Fashion-MNIST and MNIST, and the helpers a training run needs.

IDX is the format MNIST was published in: a 4-byte magic number ``00 00 <dtype code> <ndim>``,
then ``ndim`` big-endian uint32 dimensions, then the numbers themselves, big-endian, row-major.
`read_idx` reads one (gzip-compressed or not), checking every byte of that promise.

`load_fashion_mnist` and `load_mnist` look for the four files of a dataset in these places, in
order, and use the first that holds all four:

1. the ``data_dir`` argument (a directory holding the four files): when it is given, it is the
   only place looked at, and a directory without the four files raises `DatasetNotFoundError`
   instead of quietly giving data from elsewhere;
2. ``$CNN_LIB_DATA/<dataset>`` (``CNN_LIB_DATA`` is a directory with one subdirectory per
   dataset: ``fashion-mnist/``, ``mnist/``);
3. the user cache, ``pooch.os_cache("cnn_lib")/<dataset>`` (``~/.cache/cnn_lib`` on Linux),
   unless its files were downloaded and checked against other checksums than the ones asked
   for (a download records them in the cache's ``SHA256SUMS``);
4. the system directory of the Debian package ``dataset-fashion-mnist``,
   ``/usr/share/datasets/fashion-mnist`` (Fashion-MNIST only);
5. a download into the user cache from the dataset's base URL (``base_url`` argument, else
   ``$CNN_LIB_FASHION_MNIST_URL`` / ``$CNN_LIB_MNIST_URL``, else the official address), each
   file checked against its SHA-256 before it is kept.

If none works, one `DatasetNotFoundError` lists every place and why it failed, and how to fix it.
"""

from __future__ import annotations

import gzip
import math
import os
import shutil
import struct
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._files import write_atomically

MAX_NDIM = 64  # the most axes a NumPy array can have (the IDX format allows 255)

# IDX type codes and the NumPy dtypes they stand for (big-endian on disk).
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"

FASHION_MNIST_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
MNIST_CLASSES = [str(digit) for digit in range(10)]


# --------------------------------------------------------------------------------------------
# The IDX format
# --------------------------------------------------------------------------------------------


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file, gzip-compressed or raw, into an array of its dtype and shape.

    Compression is detected from the first two bytes (1f 8b), not from the file's name.
    Returns a writable array in native byte order: an idx3 file of 60000 28 x 28 images gives
    uint8 of shape (60000, 28, 28). Raises FileNotFoundError for a missing file and ValueError,
    naming the file, for anything that is not exactly one well-formed IDX array (an empty,
    truncated or padded file, a wrong magic number, an unknown type code, corrupt gzip data).
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{path}: corrupt gzip data ({err})") from err
    return _parse_idx(raw, path)


def _parse_idx(raw: bytes, path: Path) -> np.ndarray:
    if len(raw) == 0:
        raise ValueError(f"{path}: the file is empty; expected an IDX file")
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(
            f"{path}: not an IDX file: expected the magic number 00 00 <type> <ndim>, "
            f"got {raw[:4].hex(' ')}"
        )
    code, ndim = raw[2], raw[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X} ({d.str.lstrip('|')})" for c, d in IDX_DTYPES.items())
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02X}; expected one of {known}")
    if ndim == 0:
        raise ValueError(f"{path}: the IDX header declares 0 dimensions; expected at least 1")
    if ndim > MAX_NDIM:
        raise ValueError(
            f"{path}: the IDX header gives {ndim} dimensions; a NumPy array has at most {MAX_NDIM}"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(
            f"{path}: truncated IDX header: {ndim} dimensions need {header} bytes, "
            f"the file holds {len(raw)}"
        )
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = IDX_DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize
    body = len(raw) - header
    if body != expected:
        problem = "truncated" if body < expected else "has trailing bytes"
        raise ValueError(
            f"{path}: {problem}: a {dtype.name} array of shape {shape} needs {expected} bytes "
            f"after the {header}-byte header, the file holds {body}"
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # a writable copy in native byte order


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file, gzip-compressed if ``compress`` (default: name ends .gz).

    array : any shape with 1 axis or more (the format allows 255, NumPy 64), of dtype uint8,
    int8, int16, int32, float32 or float64. ``compress`` is True, False or None. The file is
    written to a temporary name next to ``path`` and renamed over it, so ``path`` never holds
    half a file.
    """
    path = Path(path)
    if compress is not None and not isinstance(compress, (bool, np.bool_)):
        raise TypeError(f"write_idx: compress must be True, False or None, got {compress!r}")
    array = np.asarray(array)
    codes = {d.newbyteorder("=").str: c for c, d in IDX_DTYPES.items()}
    native = array.dtype.newbyteorder("=").str
    if native not in codes:
        names = ", ".join(d.newbyteorder("=").name for d in IDX_DTYPES.values())
        raise TypeError(f"write_idx: expected an array of dtype {names}, got {array.dtype}")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"write_idx: expected an array with 1 to 255 axes, got {array.shape}")
    code = codes[native]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    if path.name.endswith(".gz") if compress is None else compress:
        data = gzip.compress(data, mtime=0)
    write_atomically(path, lambda f: f.write(data), "write_idx")


# --------------------------------------------------------------------------------------------
# Fashion-MNIST and MNIST
# --------------------------------------------------------------------------------------------

SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FILES = [name for pair in SPLITS.values() for name in pair]
# Written into the user cache by a download: the SHA-256 of each file it checked, one
# "<hex digest>  <file name>" line per file, as sha256sum writes them.
MANIFEST = "SHA256SUMS"


@dataclass(frozen=True)
class DatasetInfo:
    """Where a dataset comes from: its name, download address and the files' SHA-256 sums."""

    name: str  # the directory name and the --dataset name: "fashion-mnist"
    title: str  # for messages: "Fashion-MNIST"
    base_url: str  # official address; the files are base_url + "<file>.gz"
    url_env: str  # environment variable that replaces base_url (a mirror)
    sha256: dict[str, str]  # "<file>.gz" -> SHA-256 of the compressed file
    classes: list[str]


DATASETS = {
    "fashion-mnist": DatasetInfo(
        name="fashion-mnist",
        title="Fashion-MNIST",
        base_url="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        url_env="CNN_LIB_FASHION_MNIST_URL",
        sha256={
            "train-images-idx3-ubyte.gz": (
                "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc"
            ),
            "train-labels-idx1-ubyte.gz": (
                "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc"
            ),
            "t10k-images-idx3-ubyte.gz": (
                "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229"
            ),
            "t10k-labels-idx1-ubyte.gz": (
                "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf"
            ),
        },
        classes=FASHION_MNIST_CLASSES,
    ),
    "mnist": DatasetInfo(
        name="mnist",
        title="MNIST",
        base_url="https://ossci-datasets.s3.amazonaws.com/mnist/",
        url_env="CNN_LIB_MNIST_URL",
        sha256={
            "train-images-idx3-ubyte.gz": (
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
            ),
            "train-labels-idx1-ubyte.gz": (
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
            ),
            "t10k-images-idx3-ubyte.gz": (
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
            ),
            "t10k-labels-idx1-ubyte.gz": (
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
            ),
        },
        classes=MNIST_CLASSES,
    ),
}

DATA_ENV = "CNN_LIB_DATA"
# Directories that packages install datasets into. Tests point these elsewhere.
SYSTEM_DIRS: dict[str, Path] = {"fashion-mnist": Path("/usr/share/datasets/fashion-mnist")}
# Root of the user cache; None means pooch.os_cache("cnn_lib"). Tests point it elsewhere.
CACHE_DIR: Path | None = None


class DatasetNotFoundError(FileNotFoundError):
    """No place held the dataset; the message lists every place tried, why, and what to do."""


def cache_dir(dataset: str) -> Path:
    """The user-cache directory of ``dataset``: ``<cache root>/<dataset>``."""
    if CACHE_DIR is not None:
        root = Path(CACHE_DIR)
    else:
        import pooch  # imported here: pooch is only needed once the data is looked for

        root = Path(pooch.os_cache("cnn_lib"))
    return root / dataset


def find_files(directory: Path) -> tuple[dict[str, Path], list[str]]:
    """The four dataset files in ``directory``, as ``<name>.gz`` or uncompressed ``<name>``.

    Returns (found, missing): found maps each base name to its path, missing lists the base
    names that are in neither form.
    """
    found, missing = {}, []
    for name in FILES:
        for candidate in (directory / f"{name}.gz", directory / name):
            if candidate.is_file():
                found[name] = candidate
                break
        else:
            missing.append(name)
    return found, missing


def _check_split(images: np.ndarray, labels: np.ndarray, where: Path) -> None:
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(
            f"{where}: expected images of dtype uint8 and shape (N, 28, 28), got {images.dtype} "
            f"{images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(
            f"{where}: expected labels of dtype uint8 and shape (N,), got {labels.dtype} "
            f"{labels.shape}"
        )
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{where}: {images.shape[0]} images but {labels.shape[0]} labels; expected as many"
        )
    if labels.size and labels.max() > 9:
        raise ValueError(f"{where}: labels must lie in 0..9, got {int(labels.max())}")


def _read_split(found: dict[str, Path], split: str) -> tuple[np.ndarray, np.ndarray]:
    images_name, labels_name = SPLITS[split]
    images, labels = read_idx(found[images_name]), read_idx(found[labels_name])
    _check_split(images, labels, found[images_name].parent)
    return images, labels.astype(np.int64)


def _download(
    info: DatasetInfo, base_url: str, sha256: dict[str, str], target: Path, progress: bool
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Download the four files into ``target`` and return both splits as read from the files
    checked ({"train": (images, labels), "test": ...}), or leave ``target`` as it was and raise.

    Each file goes to a private staging directory and is checked against its SHA-256 there,
    then both splits are read from it (files that match their checksums can still hold the
    wrong shapes, when the checksums given are not the dataset's); only when all of it is
    good are the files moved into ``target``, with a `MANIFEST` of the checksums they were
    checked against. Whatever fails (the network, a hash, a connection that breaks off, a
    file that does not read), the staging directory is removed with everything in it, so no
    partial or corrupt file ever reaches the cache.
    """
    import pooch
    from tqdm.auto import tqdm

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{info.name}-download-"))
    try:
        for name in FILES:
            fname = f"{name}.gz"
            if fname not in sha256:
                raise ValueError(f"no SHA-256 known for {fname}")
            # Our own bar (a widget in Jupyter), closed even when the download fails.
            with tqdm(total=1, desc=fname, unit="B", unit_scale=True, disable=not progress) as bar:
                pooch.retrieve(
                    base_url.rstrip("/") + "/" + fname,
                    known_hash=f"sha256:{sha256[fname]}",
                    fname=fname,
                    path=staging,
                    downloader=pooch.HTTPDownloader(progressbar=bar if progress else False),
                )
        found = find_files(staging)[0]
        # Read here, from the files just checked: not from the cache, where another process
        # may be moving other files in. Raises ValueError for a file that is not the dataset's.
        splits = {split: _read_split(found, split) for split in SPLITS}
        target.mkdir(parents=True, exist_ok=True)
        if (target / MANIFEST).is_dir():  # no record could be written: change nothing
            raise IsADirectoryError(f"{target / MANIFEST} is a directory")
        (target / MANIFEST).unlink(missing_ok=True)  # until the new files are all in place
        for name in FILES:
            os.replace(staging / f"{name}.gz", target / f"{name}.gz")
        lines = "".join(f"{sha256[f'{name}.gz'].strip().lower()}  {name}.gz\n" for name in FILES)
        write_atomically(target / MANIFEST, lambda f: f.write(lines.encode()), "download")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return splits


def _why_not_cached(cache: Path, sha256: dict[str, str]) -> str | None:
    """Why the files in the user cache must not stand in for ``sha256``'s: they were
    downloaded and checked against other checksums, or the record of those is unreadable.
    None where they may be used (also for files put there by hand, with no `MANIFEST`)."""
    manifest = cache / MANIFEST
    if not manifest.exists() and not manifest.is_symlink():
        return None
    try:
        recorded = {}
        for line in manifest.read_text(encoding="ascii").splitlines():
            if line.strip():
                digest, fname = line.split()  # as sha256sum writes, "*" marking binary mode
                recorded[fname.removeprefix("*")] = digest.lower()
    except (OSError, ValueError) as err:  # a directory, other bytes, other lines
        return f"its {MANIFEST} cannot be read ({type(err).__name__})"
    for name in FILES:
        if recorded.get(f"{name}.gz") != sha256.get(f"{name}.gz", "").strip().lower():
            return f"downloaded with other checksums ({MANIFEST})"
    return None


def load_dataset(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    *,
    base_url: str | None = None,
    sha256: dict[str, str] | None = None,
    download: bool = True,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Load one split of the dataset ``name`` ("fashion-mnist" or "mnist").

    Returns images : uint8 (N, 28, 28), values 0..255, and labels : int64 (N,), values 0..9.
    The places searched, in order, are listed in this module's docstring. ``base_url`` and
    ``sha256`` ("<file>.gz" -> hex digest) replace the download address and checksums;
    ``download=False`` never touches the network; ``progress=False`` hides the download's
    progress bars.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(DATASETS)}")
    if split not in SPLITS:
        raise ValueError(f"{name}: unknown split {split!r}; expected 'train' or 'test'")
    info = DATASETS[name]
    tried: list[tuple[str, str]] = []  # (place, why it did not work)

    def from_directory(place: str, directory: Path):
        if not directory.is_dir():
            tried.append((f"{place} ({directory})", "no such directory"))
            return None
        found, missing = find_files(directory)
        if missing:
            listed = ", ".join(f"{m}[.gz]" for m in missing)
            tried.append((f"{place} ({directory})", f"missing {listed}"))
            return None
        return _read_split(found, split)

    # 1. and 2.: directories the user named. A data_dir given is the only place looked at: a
    # typo in it must not quietly train on data from elsewhere.
    if data_dir is not None and not os.fspath(data_dir):
        raise ValueError(
            f"{info.title}: data_dir is an empty string; expected a directory, or None to look "
            "in the other places"
        )
    if data_dir is None:
        tried.append(("data_dir argument", "not given"))
    elif (result := from_directory("data_dir", Path(data_dir))) is not None:
        return result
    else:
        files = ", ".join(f"{name}[.gz]" for name in FILES)
        raise DatasetNotFoundError(
            f"{info.title} ({split} split): data_dir {data_dir}: {tried[-1][1]}; expected a "
            f"directory holding the four files {files}. Leave data_dir out to look in the "
            "other places (the cnn_lib.data module's docstring lists them)"
        )
    env_root = os.environ.get(DATA_ENV)
    if not env_root:
        tried.append((f"${DATA_ENV}", "not set"))
    elif (result := from_directory(f"${DATA_ENV}", Path(env_root) / name)) is not None:
        return result
    # 3. and 4.: the user cache and the system directory. Files downloaded with other
    # checksums (a mirror's own, say) do not stand in for the ones asked for now.
    cache = cache_dir(name)
    checksums = info.sha256 if sha256 is None else sha256
    if why := _why_not_cached(cache, checksums):
        tried.append((f"user cache ({cache})", why))
    elif (result := from_directory("user cache", cache)) is not None:
        return result
    if name in SYSTEM_DIRS:
        if (result := from_directory("system directory", Path(SYSTEM_DIRS[name]))) is not None:
            return result
    # 5. A download into the cache.
    url = base_url or os.environ.get(info.url_env) or info.base_url
    if not download:
        tried.append((f"download from {url}", "switched off (download=False)"))
    else:
        try:
            splits = _download(info, url, checksums, cache, progress)
        except Exception as err:  # the network, a hash, a full disk: all reported together
            tried.append((f"download from {url}", f"failed: {type(err).__name__}: {err}"))
            raise DatasetNotFoundError(_not_found_message(info, split, tried)) from err
        return splits[split]
    raise DatasetNotFoundError(_not_found_message(info, split, tried))


def _not_found_message(info: DatasetInfo, split: str, tried: list[tuple[str, str]]) -> str:
    lines = [f"{info.title} ({split} split) was not found. Places tried, in order:"]
    lines += [f"  {i}. {place}: {why}" for i, (place, why) in enumerate(tried, start=1)]
    lines.append("To fix it, do one of these:")
    if info.name in SYSTEM_DIRS:
        lines.append(
            f"  - install the Debian package: sudo apt-get install dataset-{info.name} "
            f"(it puts the files in {SYSTEM_DIRS[info.name]})"
        )
    files = ", ".join(f"{name}.gz" for name in FILES)
    lines.append(
        f"  - put the four files ({files}) in a directory DIR and pass data_dir=DIR "
        f"(--data-dir DIR), or put them in DIR/{info.name} and set {DATA_ENV}=DIR"
    )
    lines.append(
        f"  - connect to a network: they are then downloaded once, checksums verified, from "
        f"{info.base_url} (or a mirror set in ${info.url_env}) into the user cache"
    )
    return "\n".join(lines)


def load_fashion_mnist(
    split: str = "train", data_dir: str | os.PathLike | None = None, **kwargs
) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST: images uint8 (N, 28, 28), labels int64 (N,) in 0..9 (see
    FASHION_MNIST_CLASSES). N = 60000 for split="train", 10000 for "test".
    Keyword arguments (base_url, sha256, download, progress) go to `load_dataset`.
    """
    return load_dataset("fashion-mnist", split, data_dir, **kwargs)


def load_mnist(
    split: str = "train", data_dir: str | os.PathLike | None = None, **kwargs
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST digits: images uint8 (N, 28, 28), labels int64 (N,) in 0..9.
    N = 60000 for split="train", 10000 for "test". Keyword arguments go to `load_dataset`.
    """
    return load_dataset("mnist", split, data_dir, **kwargs)


# --------------------------------------------------------------------------------------------
# Helpers for training
# --------------------------------------------------------------------------------------------


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, H, W) in 0..255 -> float32 (N, 1, H, W) in [0, 1], a new array.

    The single channel axis is what Conv2D expects (NCHW). float32, not float64: half the
    memory, and as much precision as training needs.
    """
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 3:
        got = (
            f"dtype {images.dtype}, shape {images.shape}"
            if isinstance(images, np.ndarray)
            else type(images).__name__
        )
        raise ValueError(f"to_float: expected uint8 images of shape (N, H, W), got {got}")
    x = images[:, None, :, :].astype(np.float32)
    x *= np.float32(1 / 255)
    return x


def train_val_split(
    x: np.ndarray,
    y: np.ndarray,
    val_fraction: float | None = None,
    n_val: int | None = None,
    rng: np.random.Generator | int | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Hold out a random validation set: ((x_train, y_train), (x_val, y_val)).

    x : (N, ...), y : (N,). Give ``n_val`` (how many examples) or ``val_fraction`` (which
    share, rounded to a whole number); neither means val_fraction=0.1. ``rng`` (a Generator or
    an int seed) draws the permutation, so a seed always gives the same split. The inputs are
    not changed; the four outputs are new arrays.
    """
    if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
        raise TypeError("train_val_split: expected x and y as NumPy arrays")
    if x.ndim < 1 or y.ndim < 1 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"train_val_split: x and y must hold the same number of examples, got x of shape "
            f"{x.shape} and y of shape {y.shape}"
        )
    N = x.shape[0]
    if val_fraction is not None and n_val is not None:
        raise ValueError("train_val_split: give val_fraction or n_val, not both")
    if n_val is None:
        val_fraction = 0.1 if val_fraction is None else val_fraction
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(
                f"train_val_split: val_fraction must lie in (0, 1), got {val_fraction}"
            )
        n_val = int(round(val_fraction * N))
    if isinstance(n_val, bool) or not isinstance(n_val, (int, np.integer)):
        raise TypeError(f"train_val_split: n_val must be an int, got {n_val!r}")
    if not 0 < n_val < N:
        raise ValueError(
            f"train_val_split: expected 0 < n_val < {N} (both sets non-empty), got {n_val}"
        )
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    order = rng.permutation(N)
    val, train = order[:n_val], order[n_val:]
    return (x[train], y[train]), (x[val], y[val])
