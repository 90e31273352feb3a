"""``trawl index DIR --serve``: one loopback server for the folder's search index AND its files.

The files are served under ``/files/`` of the same port as the SearXNG-style
``/search``, so a job reads a folder of documents with no web at all: its
search provider is ``http://127.0.0.1:PORT`` and its ``fetch.allow_hosts``
lists ``127.0.0.1:PORT`` (loopback is refused otherwise). Files are served by
aiohttp's static handler (types from their suffix; ``follow_symlinks=False`` so
nothing outside the folder is reachable; no directory listings); hidden files
are neither indexed nor served.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

from aiohttp import web

__all__ = ["FILES_PREFIX", "bind", "files_app"]

logger = logging.getLogger(__name__)

FILES_PREFIX = "/files"


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket (port 0: the OS picks); bound first so the index can name the real port in its URLs."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock


@web.middleware
async def _no_hidden_files(request: web.Request, handler):
    if any(part.startswith(".") for part in request.path.split("/")):
        raise web.HTTPNotFound()
    return await handler(request)


def files_app(app: web.Application, folder: str | os.PathLike) -> web.Application:
    """``app`` with the folder's files added under ``/files/``."""
    app.middlewares.append(_no_hidden_files)
    app.router.add_static(f"{FILES_PREFIX}/", Path(folder).resolve(), follow_symlinks=False, show_index=False)
    return app
