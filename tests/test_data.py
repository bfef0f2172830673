"""cnn_lib.data: the IDX format byte by byte, where the loaders look and in which order, a real
download from a loopback HTTP server (good, corrupted and broken off), and the helpers."""

import gzip
import hashlib
import http.server
import os
import struct
import threading

import numpy as np
import pytest

from cnn_lib import data
from cnn_lib.data import (
    FASHION_MNIST_CLASSES,
    MANIFEST,
    MNIST_CLASSES,
    DatasetNotFoundError,
    load_fashion_mnist,
    load_mnist,
    read_idx,
    to_float,
    train_val_split,
    write_idx,
)

# ------------------------------------------------------------------------------------------
# read_idx and write_idx
# ------------------------------------------------------------------------------------------

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]
SHAPES = [(5,), (3, 4), (2, 3, 4), (2, 1, 3, 2)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_write_then_read_gives_the_same_array(dtype, shape, name, rng, tmp_path):
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    if info is not None:
        array = rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    else:
        array = rng.standard_normal(shape).astype(dtype)
    write_idx(tmp_path / name, array)
    back = read_idx(tmp_path / name)
    assert back.dtype == np.dtype(dtype) and back.shape == shape
    np.testing.assert_array_equal(back, array)
    back[...] = 0  # a writable array of its own
    assert os.listdir(tmp_path) == [name]  # no temporary file left behind


def test_read_idx_follows_the_format_byte_by_byte(tmp_path):
    """Written by hand, not by write_idx: magic 00 00 0B 02 (int16, 2 axes), dims 2 and 3,
    then six big-endian int16."""
    raw = bytes([0, 0, 0x0B, 2]) + struct.pack(">II", 2, 3) + struct.pack(">6h", 1, -2, 3, 4, 5, -6)
    (tmp_path / "h.idx").write_bytes(raw)
    np.testing.assert_array_equal(read_idx(tmp_path / "h.idx"), [[1, -2, 3], [4, 5, -6]])
    assert read_idx(tmp_path / "h.idx").dtype == np.int16  # native byte order in memory


def test_compression_is_detected_from_the_bytes_not_the_name(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    write_idx(tmp_path / "gzipped-without-suffix", array, compress=True)
    write_idx(tmp_path / "raw-with-suffix.gz", array, compress=False)
    assert (tmp_path / "gzipped-without-suffix").read_bytes()[:2] == b"\x1f\x8b"
    for name in ("gzipped-without-suffix", "raw-with-suffix.gz"):
        np.testing.assert_array_equal(read_idx(tmp_path / name), array)


def idx_bytes(array):
    code = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C}[array.dtype]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


GOOD = idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))

CORRUPT = {
    "empty": (b"", "the file is empty"),
    "truncated body": (GOOD[:-1], r"truncated: a uint8 array of shape \(2, 3, 4\) needs 24 bytes"),
    "padded": (GOOD + b"\x00", "has trailing bytes: .* needs 24 bytes .* holds 25"),
    "truncated header": (GOOD[:10], "truncated IDX header: 3 dimensions need 16 bytes"),
    "bad magic": (b"\x01\x00" + GOOD[2:], "not an IDX file: expected the magic number 00 00"),
    "too short for magic": (b"\x00\x00", "not an IDX file"),
    "text file": (b"hello, world\n", "not an IDX file"),
    "bad dtype code": (GOOD[:2] + b"\x0a" + GOOD[3:], "unknown IDX type code 0x0A"),
    "no dimensions": (b"\x00\x00\x08\x00", "declares 0 dimensions"),
    "bad gzip data": (b"\x1f\x8b\x08\x00" + b"\xff" * 30, "corrupt gzip data"),
    "truncated gzip": (gzip.compress(GOOD)[:-12], "corrupt gzip data"),
    "gzip with wrong crc": (
        gzip.compress(GOOD)[:-8] + b"\0\0\0\0" + gzip.compress(GOOD)[-4:],
        "corrupt gzip data",
    ),
    "truncated inside gzip": (gzip.compress(GOOD[:-3]), "truncated"),
}


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_read_idx_rejects_a_corrupt_file_naming_it(case, tmp_path):
    content, message = CORRUPT[case]
    path = tmp_path / "broken-file.idx"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_read_idx_of_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.idx"):
        read_idx(tmp_path / "nowhere.idx")


def test_write_idx_rejects_what_idx_cannot_hold(tmp_path):
    with pytest.raises(TypeError, match="got int64"):
        write_idx(tmp_path / "x.idx", np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="1 to 255 axes"):
        write_idx(tmp_path / "x.idx", np.zeros((), dtype=np.uint8))
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------------------------------
# Where the loaders look
# ------------------------------------------------------------------------------------------


def fake_dataset(n_train=6, n_test=4, marker=0):
    """The four files of a tiny dataset, as {"<file>.gz": gzip bytes}. Every pixel equals
    ``marker``, so a test can tell which source a load came from."""
    arrays = {
        "train-images-idx3-ubyte": np.full((n_train, 28, 28), marker, np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": np.full((n_test, 28, 28), marker, np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 10).astype(np.uint8),
    }
    return {f"{name}.gz": gzip.compress(idx_bytes(a), mtime=0) for name, a in arrays.items()}


def write_dataset(directory, files):
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (directory / name).write_bytes(content)
    return directory


def sha256_of(files):
    return {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No test here sees the real cache, the real system directory or the environment."""
    monkeypatch.setattr(data, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(data, "SYSTEM_DIRS", {"fashion-mnist": tmp_path / "system"})
    for var in ("CNN_LIB_DATA", "CNN_LIB_FASHION_MNIST_URL", "CNN_LIB_MNIST_URL"):
        monkeypatch.delenv(var, raising=False)


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files`` ({"/path": bytes}); a path in ``server.broken`` announces its
    full length, sends half the body and hangs up, as a dropped connection does."""

    def do_GET(self):
        content = self.server.files.get(self.path)
        if content is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.path in self.server.broken:
            self.wfile.write(content[: len(content) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(content)

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.files, httpd.broken = {}, set()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def serve(server, folder, files):
    for name, content in files.items():
        server.files[f"/{folder}/{name}"] = content
    return f"{server.url}/{folder}/"


def marker_of(result):
    images, labels = result
    assert images.dtype == np.uint8 and images.shape[1:] == (28, 28)
    assert labels.dtype == np.int64 and labels.shape == images.shape[:1]
    return int(images[0, 0, 0])


def test_sources_are_tried_in_order(tmp_path, monkeypatch, server):
    """data_dir, then $CNN_LIB_DATA/<dataset>, then the cache, the system directory, and last
    a download; each step removes the winner of the one before."""
    given = write_dataset(tmp_path / "given", fake_dataset(marker=1))
    write_dataset(tmp_path / "env" / "fashion-mnist", fake_dataset(marker=2))
    write_dataset(tmp_path / "cache" / "fashion-mnist", fake_dataset(marker=3))
    write_dataset(tmp_path / "system", fake_dataset(marker=4))
    files = fake_dataset(marker=5)
    url = serve(server, "mirror", files)
    monkeypatch.setenv("CNN_LIB_DATA", str(tmp_path / "env"))
    kwargs = {"base_url": url, "sha256": sha256_of(files)}

    assert marker_of(load_fashion_mnist("train", given, **kwargs)) == 1
    assert marker_of(load_fashion_mnist("train", **kwargs)) == 2
    monkeypatch.delenv("CNN_LIB_DATA")
    assert marker_of(load_fashion_mnist("train", **kwargs)) == 3
    for f in (tmp_path / "cache" / "fashion-mnist").iterdir():
        f.unlink()
    assert marker_of(load_fashion_mnist("train", **kwargs)) == 4
    for f in (tmp_path / "system").iterdir():
        f.unlink()  # the directory is still there, but empty
    assert marker_of(load_fashion_mnist("test", **kwargs)) == 5
    # The download went into the cache, which now answers without the server.
    assert sorted(os.listdir(tmp_path / "cache" / "fashion-mnist")) == sorted([*files, MANIFEST])
    server.files.clear()
    assert marker_of(load_fashion_mnist("train", **kwargs)) == 5


def test_a_data_dir_without_the_four_files_is_refused_not_passed_over(tmp_path, monkeypatch):
    # A directory the user named is the only place looked at: a typo must not quietly switch
    # to data from elsewhere (here the system directory's).
    files = fake_dataset(marker=1)
    del files["t10k-labels-idx1-ubyte.gz"]
    write_dataset(tmp_path / "given", files)
    write_dataset(tmp_path / "system", fake_dataset(marker=4))
    monkeypatch.setenv("CNN_LIB_DATA", str(tmp_path))
    with pytest.raises(DatasetNotFoundError, match="missing t10k-labels-idx1-ubyte"):
        load_fashion_mnist("train", tmp_path / "given")
    with pytest.raises(DatasetNotFoundError, match=r"data_dir .*no-such-dir: no such directory"):
        load_fashion_mnist("train", tmp_path / "no-such-dir")
    assert marker_of(load_fashion_mnist("train")) == 4  # without data_dir, the search goes on


def test_uncompressed_files_count_too(tmp_path):
    files = {name[:-3]: gzip.decompress(c) for name, c in fake_dataset(marker=7).items()}
    directory = write_dataset(tmp_path / "raw", files)
    images, labels = load_fashion_mnist("test", directory)
    assert images.shape == (4, 28, 28) and marker_of((images, labels)) == 7
    np.testing.assert_array_equal(labels, [0, 1, 2, 3])


def test_mnist_looks_in_its_own_places(tmp_path, monkeypatch):
    write_dataset(tmp_path / "env" / "mnist", fake_dataset(marker=8))
    write_dataset(tmp_path / "system", fake_dataset(marker=4))  # Fashion-MNIST's, not MNIST's
    monkeypatch.setenv("CNN_LIB_DATA", str(tmp_path / "env"))
    assert marker_of(load_mnist("train")) == 8
    monkeypatch.delenv("CNN_LIB_DATA")
    with pytest.raises(DatasetNotFoundError) as err:
        load_mnist("train", download=False)
    assert "system directory" not in str(err.value)
    assert "apt-get" not in str(err.value)


def test_the_url_comes_from_the_argument_then_the_environment(monkeypatch, server):
    files = fake_dataset(marker=6)
    good = serve(server, "good", files)
    monkeypatch.setenv("CNN_LIB_FASHION_MNIST_URL", f"{server.url}/missing/")
    assert marker_of(load_fashion_mnist(base_url=good, sha256=sha256_of(files))) == 6


def test_the_url_from_the_environment(tmp_path, monkeypatch, server):
    files = fake_dataset(marker=6)
    monkeypatch.setenv("CNN_LIB_MNIST_URL", serve(server, "mnist-mirror", files))
    assert marker_of(load_mnist("test", sha256=sha256_of(files))) == 6
    assert (tmp_path / "cache" / "mnist" / "t10k-images-idx3-ubyte.gz").is_file()


def nothing_left_in(directory):
    return [str(p) for p in directory.rglob("*")] if directory.exists() else []


def test_a_download_that_fails_its_hash_leaves_the_cache_empty(tmp_path, server):
    files = fake_dataset(marker=5)
    sha256 = sha256_of(files)
    files["t10k-labels-idx1-ubyte.gz"] = gzip.compress(b"not what the hash promised")
    url = serve(server, "corrupt", files)  # the last of the four files is the bad one
    with pytest.raises(DatasetNotFoundError, match="(?s)download from .*SHA256 hash") as err:
        load_fashion_mnist(base_url=url, sha256=sha256)
    assert "t10k-labels-idx1-ubyte.gz" in str(err.value)
    assert nothing_left_in(tmp_path / "cache") == []  # not even the three good files


def test_a_download_that_breaks_off_leaves_the_cache_empty(tmp_path, server):
    files = fake_dataset(n_train=500, marker=5)
    url = serve(server, "flaky", files)
    server.broken.add("/flaky/t10k-images-idx3-ubyte.gz")  # the third of the four files
    with pytest.raises(DatasetNotFoundError, match="(?s)download from .*failed") as err:
        load_fashion_mnist(base_url=url, sha256=sha256_of(files))
    assert isinstance(err.value.__cause__, Exception)
    assert nothing_left_in(tmp_path / "cache") == []


def test_when_every_source_fails_one_error_lists_them_all(tmp_path, monkeypatch, server):
    monkeypatch.setenv("CNN_LIB_DATA", str(tmp_path / "env"))
    url = f"{server.url}/nothing-here/"
    with pytest.raises(DatasetNotFoundError) as err:
        load_fashion_mnist("train", base_url=url)
    message = str(err.value)
    assert isinstance(err.value, FileNotFoundError)
    expected = [
        "Fashion-MNIST (train split) was not found",
        "1. data_dir argument: not given",
        f"2. $CNN_LIB_DATA ({tmp_path / 'env' / 'fashion-mnist'}): no such directory",
        f"3. user cache ({tmp_path / 'cache' / 'fashion-mnist'}): no such directory",
        f"4. system directory ({tmp_path / 'system'}): no such directory",
        f"5. download from {url}: failed: HTTPError",
        "sudo apt-get install dataset-fashion-mnist",
        "set CNN_LIB_DATA=DIR",
        "connect to a network",
    ]
    for line in expected:
        assert line in message
    assert nothing_left_in(tmp_path / "cache") == []


def test_with_download_off_nothing_is_fetched(server):
    with pytest.raises(DatasetNotFoundError, match=r"switched off \(download=False\)"):
        load_fashion_mnist(base_url=server.url, download=False)


def test_a_corrupt_file_in_a_source_is_an_error_not_skipped(tmp_path):
    files = fake_dataset(marker=1)
    files["train-labels-idx1-ubyte.gz"] = files["train-labels-idx1-ubyte.gz"][:-10]
    given = write_dataset(tmp_path / "given", files)
    write_dataset(tmp_path / "system", fake_dataset(marker=4))
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz: corrupt gzip data"):
        load_fashion_mnist("train", given)


@pytest.mark.parametrize(
    "name, array, msg",
    [
        ("train-images-idx3-ubyte", np.zeros((6, 28, 27), np.uint8), r"shape \(N, 28, 28\)"),
        ("train-images-idx3-ubyte", np.zeros((6, 28, 28), np.int32), "dtype uint8"),
        ("train-images-idx3-ubyte", np.zeros((5, 28, 28), np.uint8), "5 images but 6 labels"),
        ("train-labels-idx1-ubyte", np.full(6, 10, np.uint8), r"labels must lie in 0..9, got 10"),
        ("train-labels-idx1-ubyte", np.zeros((6, 1), np.uint8), r"labels of dtype uint8"),
    ],
)
def test_files_that_are_valid_idx_but_not_the_dataset_are_rejected(tmp_path, name, array, msg):
    files = fake_dataset()
    files[f"{name}.gz"] = gzip.compress(idx_bytes(array))
    with pytest.raises(ValueError, match=msg):
        load_fashion_mnist("train", write_dataset(tmp_path / "given", files))


def test_unknown_split_or_dataset():
    with pytest.raises(ValueError, match="unknown split 'validation'; expected 'train' or 'test'"):
        load_fashion_mnist("validation")
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        data.load_dataset("cifar")


def test_the_hashes_of_the_official_files_are_sha256_digests():
    for info in data.DATASETS.values():
        assert sorted(info.sha256) == sorted(f"{name}.gz" for name in data.FILES)
        assert all(len(h) == 64 and int(h, 16) >= 0 for h in info.sha256.values())
        assert len(info.classes) == 10
    assert FASHION_MNIST_CLASSES[9] == "Ankle boot" and MNIST_CLASSES[3] == "3"


# ------------------------------------------------------------------------------------------
# to_float and train_val_split
# ------------------------------------------------------------------------------------------


def test_to_float_scales_to_the_unit_interval_with_a_channel_axis():
    images = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)  # (1, 2, 2)
    x = to_float(images)
    assert x.dtype == np.float32 and x.shape == (1, 1, 2, 2)
    np.testing.assert_allclose(x[0, 0], [[0.0, 1.0], [0.2, 0.4]], rtol=1e-6)
    assert images[0, 0, 1] == 255  # the input is untouched


@pytest.mark.parametrize(
    "bad", [np.zeros((2, 28, 28), np.float32), np.zeros((2, 1, 28, 28), np.uint8), [[1, 2]]]
)
def test_to_float_rejects_anything_but_uint8_images(bad):
    with pytest.raises(ValueError, match=r"to_float: expected uint8 images of shape \(N, H, W\)"):
        to_float(bad)


def test_train_val_split_is_a_seeded_partition():
    x = np.arange(100).reshape(100, 1) * 10
    y = np.arange(100)
    (x_tr, y_tr), (x_val, y_val) = train_val_split(x, y, val_fraction=0.2, rng=3)
    assert len(x_tr) == 80 and len(x_val) == 20
    np.testing.assert_array_equal(x_tr[:, 0], y_tr * 10)  # pairs stay together
    assert sorted(np.concatenate([y_tr, y_val])) == list(range(100))  # nothing lost or doubled
    (_, again), (_, again_val) = train_val_split(x, y, val_fraction=0.2, rng=3)
    np.testing.assert_array_equal(again_val, y_val)
    np.testing.assert_array_equal(again, y_tr)
    (_, _), (_, other_val) = train_val_split(x, y, n_val=20, rng=np.random.default_rng(4))
    assert not np.array_equal(other_val, y_val)
    assert len(train_val_split(x, y, rng=0)[1][1]) == 10  # the default: a tenth


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"n_val": 0}, ValueError, "0 < n_val < 10"),
        ({"n_val": 10}, ValueError, "0 < n_val < 10"),
        ({"val_fraction": 1.0}, ValueError, r"val_fraction must lie in \(0, 1\)"),
        ({"val_fraction": 0.1, "n_val": 2}, ValueError, "not both"),
        ({"n_val": 2.5}, TypeError, "n_val must be an int"),
    ],
)
def test_train_val_split_rejects_bad_sizes(kwargs, error, message):
    with pytest.raises(error, match=message):
        train_val_split(np.zeros((10, 2)), np.zeros(10, np.int64), **kwargs)


def test_train_val_split_needs_matching_lengths():
    with pytest.raises(ValueError, match=r"x of shape \(10, 2\) and y of shape \(9,\)"):
        train_val_split(np.zeros((10, 2)), np.zeros(9, np.int64), n_val=2)


def test_read_idx_refuses_more_axes_than_numpy_has(tmp_path):
    path = tmp_path / "many-axes-idx"
    path.write_bytes(bytes([0, 0, 0x08, 255]) + b"\x00\x00\x00\x01" * 255)
    with pytest.raises(ValueError, match="gives 255 dimensions; a NumPy array has at most 64"):
        read_idx(path)


def test_write_idx_takes_only_a_bool_for_compress(tmp_path):
    with pytest.raises(TypeError, match="compress must be True, False or None, got 'no'"):
        write_idx(tmp_path / "x-idx", np.zeros(3, np.uint8), compress="no")
    assert list(tmp_path.iterdir()) == []


def test_a_download_that_does_not_read_as_the_dataset_leaves_the_cache_empty(tmp_path, server):
    # Files that match the checksums given, but hold images of another shape: refused before
    # they reach the cache, where they would make every later load fail.
    files = fake_dataset(marker=5)
    files["train-images-idx3-ubyte.gz"] = gzip.compress(idx_bytes(np.zeros((4, 32, 32), np.uint8)))
    url = serve(server, "wrong-shape", files)
    with pytest.raises(DatasetNotFoundError, match=r"(?s)download from .*\(N, 28, 28\)"):
        load_fashion_mnist(base_url=url, sha256=sha256_of(files))
    assert nothing_left_in(tmp_path / "cache") == []


def test_files_downloaded_with_other_checksums_do_not_stand_in_for_these(tmp_path, server):
    mirror = fake_dataset(marker=5)
    load_fashion_mnist(base_url=serve(server, "mirror", mirror), sha256=sha256_of(mirror))
    official = fake_dataset(marker=6)
    official_url = serve(server, "official", official)
    # Asked for with other checksums, the cache's files are passed over and downloaded anew.
    assert marker_of(load_fashion_mnist(base_url=official_url, sha256=sha256_of(official))) == 6
    assert marker_of(load_fashion_mnist(sha256=sha256_of(official), download=False)) == 6
    with pytest.raises(DatasetNotFoundError, match=r"user cache .*downloaded with other checksums"):
        load_fashion_mnist(sha256=sha256_of(mirror), download=False)


@pytest.mark.parametrize(
    "manifest", ["# a comment line\n", "just-one-word\n", b"\xff\xfe\n", "a directory"]
)
def test_an_unreadable_checksum_record_passes_the_cache_over_without_a_crash(
    tmp_path, server, manifest
):
    files = fake_dataset(marker=5)
    url = serve(server, "mirror", files)
    load_fashion_mnist(base_url=url, sha256=sha256_of(files))
    record = tmp_path / "cache" / "fashion-mnist" / MANIFEST
    record.unlink()
    if manifest == "a directory":
        record.mkdir()
    else:
        record.write_bytes(manifest if isinstance(manifest, bytes) else manifest.encode())
    with pytest.raises(DatasetNotFoundError, match=f"user cache .*its {MANIFEST} cannot be read"):
        load_fashion_mnist(sha256=sha256_of(files), download=False)


def test_checksums_are_compared_whatever_their_case(tmp_path, server):
    files = fake_dataset(marker=5)
    url = serve(server, "mirror", files)
    upper = {name: digest.upper() for name, digest in sha256_of(files).items()}
    load_fashion_mnist(base_url=url, sha256=upper)
    server.files.clear()  # from now on only the cache can answer
    assert marker_of(load_fashion_mnist(sha256=sha256_of(files), download=False)) == 5
    assert marker_of(load_fashion_mnist(sha256=upper, download=False)) == 5


def test_an_empty_data_dir_is_refused():
    with pytest.raises(ValueError, match="data_dir is an empty string"):
        load_fashion_mnist("train", "")
