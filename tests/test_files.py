"""cnn_lib._files: a file is replaced whole or not at all."""

import pytest

from cnn_lib._files import write_atomically


def test_write_replaces_the_file(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"old")
    write_atomically(path, lambda f: f.write(b"new contents"))
    assert path.read_bytes() == b"new contents"
    assert [p.name for p in tmp_path.iterdir()] == ["weights.bin"]


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"old")

    def half_then_fail(f):
        f.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(path, half_then_fail)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["weights.bin"]
