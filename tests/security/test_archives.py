"""Hostile archives: nothing is ever written outside the folder ``extract_archive`` is given."""

import io
import os
import tarfile
import zipfile

import pytest

from glassgrad.vision.datasets import utils as dutils


def _tar(path, members):
    """``members``: (name, kind, payload) with kind "file" (payload bytes), "dir", "symlink" or "hardlink" (target)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE}[kind]
            info.linkname = payload or ""
            tar.addfile(info)


# One row per attack: the archive's members, and what the error says.
TAR_ATTACKS = [
    ("parent-path", [("../escaped.txt", "file", b"x")], "outside"),
    ("absolute-path", [("/tmp/glassgrad-escaped.txt", "file", b"x")], "outside"),
    ("symlink-out-then-write", [("out", "symlink", "../.."), ("out/escaped.txt", "file", b"x")], "link member"),
    # The member through which the PATH_MAX symlink-chain trick escapes is a link, inside or not.
    ("symlink-inside", [("a", "dir", None), ("a/b", "symlink", "."), ("a/b/c.txt", "file", b"x")], "link member"),
    ("hardlink", [("f.txt", "file", b"x"), ("g.txt", "hardlink", "f.txt")], "link member"),
]


@pytest.mark.parametrize("name, members, message", TAR_ATTACKS, ids=[row[0] for row in TAR_ATTACKS])
def test_hostile_tar_is_refused_and_writes_nothing_outside(tmp_path, name, members, message):
    archive = tmp_path / "evil.tar.gz"
    _tar(archive, members)
    target = tmp_path / "root" / "inner"
    target.mkdir(parents=True)
    with pytest.raises(RuntimeError, match=rf"evil\.tar\.gz.*{message}"):
        dutils.extract_archive(str(archive), str(target))
    outside = {p for p in tmp_path.rglob("*")} - {archive, tmp_path / "root"}
    assert all(str(p).startswith(str(target)) for p in outside), outside
    assert not os.path.exists("/tmp/glassgrad-escaped.txt")


def test_planted_symlink_in_the_target_is_not_followed(tmp_path):
    target, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    target.mkdir()
    elsewhere.mkdir()
    (target / "sub").symlink_to(elsewhere)
    archive = tmp_path / "a.tar.gz"
    _tar(archive, [("sub/escaped.txt", "file", b"x")])
    with pytest.raises(RuntimeError, match="outside"):
        dutils.extract_archive(str(archive), str(target))
    assert list(elsewhere.iterdir()) == []


def test_zip_with_parent_path_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../escaped.txt", b"x")
    with pytest.raises(RuntimeError, match=r"evil\.zip.*outside"):
        dutils.extract_archive(str(archive), str(tmp_path / "root"))
    assert not (tmp_path / "escaped.txt").exists()


def test_plain_archive_still_extracts(tmp_path):
    archive = tmp_path / "ok.tar.gz"
    _tar(archive, [("d", "dir", None), ("d/e.txt", "file", b"hello")])
    dutils.extract_archive(str(archive), str(tmp_path / "root"))
    assert (tmp_path / "root" / "d" / "e.txt").read_bytes() == b"hello"
