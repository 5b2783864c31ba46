"""Assets (labelgraph.assets): offline files fetched once from the package registry,
the cache they live in, and atomic file writes."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from labelgraph.assets import (
    atomic_write,
    atomic_write_text,
    cache_root,
    fetch_wheel,
    read_from_wheel,
)
from labelgraph.errors import FetchError


# -- wheels fetched once, and the cache ----------------------------------------------------
def test_fetch_wheel_uses_the_cache_without_pip(tmp_path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    fake = wheels / "some_pkg-1.2-py3-none-any.whl"
    with zipfile.ZipFile(fake, "w") as zf:
        zf.writestr("some_pkg/data/file.txt", b"payload")
    assert fetch_wheel("some-pkg", "1.2", cache_dir=tmp_path) == fake
    assert read_from_wheel(fake, "data/file.txt") == b"payload"
    with pytest.raises(FetchError, match="no member"):
        read_from_wheel(fake, "missing.txt")


def test_cache_root_follows_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("LABELGRAPH_CACHE_DIR", str(tmp_path))
    assert cache_root() == tmp_path
    monkeypatch.delenv("LABELGRAPH_CACHE_DIR")
    assert cache_root().parts[-2:] == (".cache", "labelgraph")


def test_fetch_wheel_failure_explains_manual_route(tmp_path) -> None:
    with pytest.raises(FetchError, match=r"(?s)scattertext==0\.0\.0\.1.*pip said.*by hand"):
        fetch_wheel("scattertext", "0.0.0.1", cache_dir=tmp_path)


# -- atomic writes -------------------------------------------------------------------------
def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = atomic_write_text(tmp_path / "a.json", "old")

    def broken(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(target, broken)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
