"""cnn_lib._files: a file is replaced whole or not at all."""

import os
import stat

import pytest

from cnn_lib._files import check_target, write_atomically


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


def test_a_new_file_gets_the_permissions_open_gives_and_a_replaced_one_keeps_its_own(tmp_path):
    old_umask = os.umask(0o022)
    try:
        new = tmp_path / "new.bin"
        write_atomically(new, lambda f: f.write(b"x"))
        assert stat.S_IMODE(new.stat().st_mode) == 0o644  # as open() with umask 022, not 0o600
        kept = tmp_path / "kept.bin"
        kept.write_bytes(b"old")
        kept.chmod(0o664)
        write_atomically(kept, lambda f: f.write(b"new"))
        assert stat.S_IMODE(kept.stat().st_mode) == 0o664
    finally:
        os.umask(old_umask)


def test_a_link_keeps_pointing_to_the_new_contents(tmp_path):
    target = tmp_path / "weights.npz"
    target.write_bytes(b"old")
    link = tmp_path / "latest.npz"
    link.symlink_to(target)
    write_atomically(link, lambda f: f.write(b"new"))
    assert link.is_symlink() and target.read_bytes() == b"new"


@pytest.mark.parametrize(
    "where, error, words",
    [
        ("", ValueError, "got an empty string"),
        ("a-directory", IsADirectoryError, "is a directory"),
        ("no-such-dir/w.npz", FileNotFoundError, "is not an existing directory"),
    ],
)
def test_a_path_that_cannot_hold_the_file_is_refused_before_writing(tmp_path, where, error, words):
    (tmp_path / "a-directory").mkdir()
    path = "" if not where else tmp_path / where
    calls = []
    with pytest.raises(error, match=f"save: .*{words}"):
        write_atomically(path, calls.append, "save")
    assert calls == []  # nothing was written


def test_check_target_names_the_owner():
    with pytest.raises(ValueError, match="^--save: expected the path of a file"):
        check_target("", "--save")


def test_a_path_that_is_not_a_regular_file_is_refused_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="save: .* is not a regular file"):
        write_atomically(fifo, lambda f: f.write(b"x"), "save")
    assert stat.S_ISFIFO(fifo.lstat().st_mode)  # still the pipe it was


def test_a_loop_of_links_and_a_trailing_separator_get_errors_of_our_own(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(OSError, match="save: cannot write .*a"):
        write_atomically(tmp_path / "a", lambda f: f.write(b"x"), "save")
    with pytest.raises(IsADirectoryError, match="names a directory"):
        write_atomically(f"{tmp_path}/weights/", lambda f: f.write(b"x"), "save")
    assert not (tmp_path / "weights").exists()


def test_the_umask_is_read_without_being_changed(tmp_path, monkeypatch):
    calls = []
    real_umask = os.umask
    monkeypatch.setattr(os, "umask", lambda mask: calls.append(mask) or real_umask(mask))
    write_atomically(tmp_path / "new.bin", lambda f: f.write(b"x"))
    if os.path.exists("/proc/self/status"):  # Linux: read from there, never set
        assert calls == []


def test_a_long_file_name_that_open_takes_is_written(tmp_path):
    path = tmp_path / ("w" * 250)
    write_atomically(path, lambda f: f.write(b"x"))
    assert path.read_bytes() == b"x"
