"""Outputs that live on a filesystem URI (object storage, shared mounts) through pyarrow filesystems.

An output is either a plain local folder (the default, handled with paths
and ``os`` as before) or a URI that ``pyarrow.fs.FileSystem.from_uri``
understands: ``s3://bucket/prefix`` (also with ``?region=...`` or
``?endpoint_override=host:port&scheme=http`` for MinIO and other S3-compatible
stores), ``gs://bucket/prefix``, ``hdfs://...``, and ``file:///abs/path``
(a local or mounted folder through the same code path, which is how the
tests exercise it). ``register_filesystem`` adds schemes of your own, e.g.
an in-memory filesystem in tests.

Atomic files: on a local filesystem a part file is written under a hidden
temporary name and renamed; on object storage a PUT already makes the object
appear whole or not at all, so parts are written in place (a rename there is
a copy).

Plain Python and pyarrow; no Ray.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from pipelines.errors import StoreError

__all__ = ["RemoteOutput", "is_uri", "remote_output", "register_filesystem", "local_state_dir"]

_URI = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_REGISTERED: dict[str, Callable[[str], tuple[pafs.FileSystem, str]]] = {}


def is_uri(output: str | os.PathLike[str]) -> bool:
    return bool(_URI.match(str(output)))


def register_filesystem(scheme: str, resolve: Callable[[str], tuple[pafs.FileSystem, str]] | None) -> None:
    """Resolve ``scheme://...`` outputs with ``resolve(uri) -> (filesystem, path)``; ``None`` removes the scheme."""
    _resolve.cache_clear()
    if resolve is None:
        _REGISTERED.pop(scheme.lower(), None)
    else:
        _REGISTERED[scheme.lower()] = resolve


@dataclass(frozen=True)
class RemoteOutput:
    """An output folder on a pyarrow filesystem: ``root`` is the folder's path inside ``fs``."""

    uri: str
    fs: pafs.FileSystem
    root: str

    def path(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts]) if self.root else "/".join(parts)

    @property
    def atomic_rename(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem) or type(self.fs).__name__ == "_MockFileSystem"

    def is_dir(self, path: str) -> bool:
        return self.fs.get_file_info(path).type == pafs.FileType.Directory

    def mkdir(self, path: str) -> None:
        try:
            self.fs.create_dir(path, recursive=True)
        except (OSError, pa.ArrowException) as err:
            raise StoreError(f"cannot create {self.uri_of(path)}: {err}") from None

    def subdirs(self, path: str) -> list[str]:
        """Names of the folders directly inside ``path`` ([] if it does not exist)."""
        infos = self.fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
        return sorted(i.base_name for i in infos if i.type == pafs.FileType.Directory)

    def files(self, folder: str, pattern: str) -> list[str]:
        """Paths of files in ``folder`` whose name matches ``pattern``, sorted by name."""
        infos = self.fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
        found = [i.path for i in infos if i.type == pafs.FileType.File and fnmatch.fnmatchcase(i.base_name, pattern)]
        return sorted(found, key=lambda p: p.rsplit("/", 1)[-1])

    def write_parquet(self, folder: str, name: str, table: pa.Table, compression: str) -> str:
        final = f"{folder}/{name}"
        try:
            self.fs.create_dir(folder, recursive=True)
            if self.atomic_rename:
                tmp = f"{folder}/.{name}.tmp"
                pq.write_table(table, tmp, compression=compression, filesystem=self.fs)
                self.fs.move(tmp, final)
            else:
                pq.write_table(table, final, compression=compression, filesystem=self.fs)
        except (OSError, pa.ArrowException) as err:
            raise StoreError(f"cannot write {self.uri_of(folder)}: {err}") from None
        return final

    def read_parquet(self, path: str) -> pa.Table:
        if self.fs.get_file_info(path).type == pafs.FileType.NotFound:
            raise FileNotFoundError(path)  # compacted away between listing and reading: callers list again
        return pq.read_table(path, filesystem=self.fs)

    def delete(self, path: str) -> None:
        try:
            self.fs.delete_file(path)
        except FileNotFoundError:
            pass

    def uri_of(self, path: str) -> str:
        relative = path[len(self.root):].lstrip("/") if path.startswith(self.root) else path
        return f"{self.uri.rstrip('/')}/{relative}" if relative else self.uri


def remote_output(output: str | os.PathLike[str]) -> RemoteOutput | None:
    """The RemoteOutput of a URI output; None for a plain local folder."""
    text = str(output)
    if not _URI.match(text):
        return None
    return _resolve(text)


@functools.lru_cache(maxsize=32)  # resolving s3:// may ask the bucket's region over the network: once per URI
def _resolve(text: str) -> RemoteOutput:
    match = _URI.match(text)
    if match is None:
        raise StoreError(f"not a filesystem URI: {text!r}")
    scheme = match.group(1).lower()
    try:
        if scheme in _REGISTERED:
            fs, root = _REGISTERED[scheme](text)
        else:
            fs, root = pafs.FileSystem.from_uri(text)
    except (OSError, pa.ArrowException, ValueError) as err:
        raise StoreError(f"cannot open output {text}: {err}") from None
    return RemoteOutput(text, fs, root.rstrip("/"))


def local_state_dir(output: str | os.PathLike[str]) -> str:
    """Where caches and the page store live: inside a local output, else a node-local folder for that URI.

    Caches are per node for a URI output: they are an optimisation, and object storage is a poor
    place for many small, hot files.
    """
    if not is_uri(output):
        return os.path.abspath(str(output))
    base = os.environ.get("TRAWL_STATE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "trawl")
    return os.path.join(base, re.sub(r"[^A-Za-z0-9._-]+", "_", str(output)).strip("_")[:120])
