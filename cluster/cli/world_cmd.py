"""`trawl world up|down` (the local world) and `trawl index` (a local search engine over your own pages)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import typer

from cluster.cli.common import fail
from pipelines.world import DEFAULT_PORTS, WorldConfig, start_world, stop_detached

logger = logging.getLogger(__name__)

world_app = typer.Typer(help="The local world: fictional company sites, SearXNG-style search and an extractive LLM on loopback.",
                        no_args_is_help=True)


def _latencies(raw: str | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in filter(None, (raw or "").split(",")):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in DEFAULT_PORTS or not value:
            raise typer.BadParameter(f"expected site=S,search=S,llm=S; got {part!r}", param_hint="--latency")
        try:
            out[name] = float(value)
        except ValueError:
            raise typer.BadParameter(f"{value!r} is not a number of seconds", param_hint="--latency") from None
    return out


@world_app.command("up")
def up(
    companies: int = typer.Option(5, "--companies", "-n", min=1, help="Fictional companies to generate."),
    seed: int = typer.Option(7, help="Corpus seed (same seed, same world)."),
    latency: str = typer.Option(None, help="Per-service delay in seconds, e.g. site=0.2,search=0.3,llm=1.0"),
    port_base: int = typer.Option(DEFAULT_PORTS["site"], help="Site port; search and LLM use the next two."),
    detach: bool = typer.Option(False, "--detach", "-d", help="Return once up; stop later with `trawl world down`."),
    world_dir: Path = typer.Option(Path(".trawl-world"), "--dir", help="Where the job spec, ground truth and pid file go."),
    spec: Path = typer.Option(None, help="Write the job spec here (default: DIR/job.yaml)."),
    output: str = typer.Option("./trawl-data", help="Output folder named in the job spec."),
) -> None:
    """Start the local world and write a job spec for it.

    Example:  trawl world up --companies 20 --latency site=0.2,llm=0.5 --detach && trawl run .trawl-world/job.yaml
    """
    lat = _latencies(latency)
    config = WorldConfig(companies=companies, seed=seed, site_port=port_base, search_port=port_base + 1,
                         llm_port=port_base + 2, site_latency_s=lat.get("site", 0.0),
                         search_latency_s=lat.get("search", 0.0), llm_latency_s=lat.get("llm", 0.0))
    if (world_dir / "world.json").exists():
        fail(f"a detached world may still be running from {world_dir}; run `trawl world down --dir {world_dir}` first")
    try:
        world = start_world(config, world_dir, detached=detach)
    except RuntimeError as err:
        fail(f"could not start the local world: {err}")
    _print_world(world, world.write_job_spec(spec or world_dir / "job.yaml", output=output), seed)
    if detach:
        typer.echo(f"stop with: trawl world down --dir {world_dir}")
        return
    _serve_until_interrupted(world, world_dir)


def _print_world(world, spec_path: Path, seed: int) -> None:
    example = world.companies[0]["domain"]
    typer.echo(f"local world up: {len(world.companies)} companies, seed {seed}")
    typer.echo(f"  site     http://127.0.0.1:{world.site_port}   (every *.example host, e.g. http://{example}:{world.site_port}/about)")
    typer.echo(f"  search   {world.search_base_url}/search?q=...&format=json")
    typer.echo(f"  llm      {world.llm_base_url}   (model trawl-extractive)")
    typer.echo(f"  job spec {spec_path}")
    typer.echo(f"  truth    {world.ground_truth_path}   (for scoring only)")


def _serve_until_interrupted(world, world_dir: Path) -> None:
    typer.echo("Ctrl-C stops the world.")
    try:
        while world.alive():
            time.sleep(0.5)
        typer.echo("a world server exited; stopping the others", err=True)
    except KeyboardInterrupt:
        logger.info("world stopped by Ctrl-C")
    finally:
        world.stop()
        (world_dir / "world.json").unlink(missing_ok=True)


@world_app.command("down")
def down(world_dir: Path = typer.Option(Path(".trawl-world"), "--dir", help="The directory `trawl world up` used.")) -> None:
    """Stop a world started with `trawl world up --detach`.

    Example:  trawl world down
    """
    if not (world_dir / "world.json").exists():
        fail(f"no detached world recorded in {world_dir}")
    pids = stop_detached(world_dir)
    typer.echo(f"stopped {len(pids)} world server(s)")


def index(
    source: Path = typer.Argument(..., help="A folder of HTML, text and PDF files, or a text file listing URLs (one per line)."),
    serve: bool = typer.Option(False, "--serve", help="Serve the index with the SearXNG JSON API (and a folder's files under /files/)."),
    port: int = typer.Option(DEFAULT_PORTS["search"], help="Port for --serve."),
    base_url: str = typer.Option(None, help="For a folder: URL prefix of its files, served elsewhere (default: with --serve, "
                                 "this server's /files/; without, file:// URLs)."),
    query: str = typer.Option(None, "--query", "-q", help="Run one search and print the top results."),
) -> None:
    """Build a local BM25 search index over your own pages, and optionally serve it like SearXNG.

    Example:  trawl index ./documents --serve --port 8781
    serves the index and the folder's files (HTML, text, PDF) on 127.0.0.1:8781; a job then needs
    search: {providers: [{name: docs, kind: searxng, base_url: "http://127.0.0.1:8781"}]} and
    fetch: {allow_hosts: ["127.0.0.1:8781"]}. With --base-url https://intranet.example the files are not
    served: hits point at that prefix.
    """
    from pipelines.world.index import SearchIndex, folder_documents, url_documents

    if not source.exists():
        fail(f"{source}: no such file or folder")
    started = time.perf_counter()
    sock = None
    if serve and source.is_dir() and not base_url:  # the folder's files are served here, so hits must name this port
        sock, port, base_url = _bind_files_port(port)
    docs = folder_documents(source, base_url) if source.is_dir() else url_documents(source)
    search_index = SearchIndex(docs)
    typer.echo(f"indexed {len(search_index)} page(s) from {source} in {time.perf_counter() - started:.1f}s")
    if query:
        for rank, hit in enumerate(search_index.search(query, 10), 1):
            typer.echo(f"{rank:>2}. {hit.score:6.2f}  {hit.url}\n      {hit.title}")
    if serve:
        _serve_index(search_index, source if sock is not None else None, port, sock, base_url)


def _bind_files_port(port: int):
    """(socket, port, files base URL) of the loopback server that will serve a folder's files; exits 1 if busy."""
    from pipelines.world.file_server import FILES_PREFIX, bind

    try:
        sock = bind("127.0.0.1", port)
    except OSError as err:
        fail(f"cannot listen on 127.0.0.1:{port}: {err}")
    port = sock.getsockname()[1]
    return sock, port, f"http://127.0.0.1:{port}{FILES_PREFIX}"


def _serve_index(search_index, folder: Path | None, port: int, sock, base_url: str | None) -> None:
    """Serve the index's SearXNG-style /search (and ``folder``'s files under /files/) until Ctrl-C."""
    from pipelines.world.proc import serve_app
    from pipelines.world.search_server import make_app

    app = make_app(search_index)
    if folder is not None:
        from pipelines.world.file_server import files_app

        files_app(app, folder)
        typer.echo(f"serving files  {base_url}/...  (a job needs fetch.allow_hosts: [\"127.0.0.1:{port}\"])")
    typer.echo(f"serving http://127.0.0.1:{port}/search?q=...&format=json  (Ctrl-C stops)")
    serve_app(app, "127.0.0.1", port, detached=True, sock=sock)


COMMANDS = {"index": index}
GROUPS = {"world": world_app}
