"""trawl on a multi-node Ray cluster on one machine (ray.cluster_utils.Cluster).

A head with no CPUs for work (it holds the driver, the writer and the I/O
actors) plus two 1-CPU worker nodes, against the local world. Asserts what an
operator checks in the dashboard: extraction ran on both workers and never on
the head, fetchers are spread over the nodes, and losing a worker in the
middle of a job still ends with every cell done and no duplicate rows.

The cell workflow runs in research workers, one per worker node (the default
for 1-CPU nodes), each with its own LLM and search gateways; the job's quota
actor and the writer stay on the driver's node. The driver researches only
the few cells that bridge the workers' start-up.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import threading
import time

import pyarrow.parquet as pq
import pytest
import ray
from ray.cluster_utils import Cluster

from actors.fetcher import default_fetcher_count
from cluster.runner import DRIVER_CELLS_WITH_WORKERS, run_job
from pipelines.spec import parse_job
from pipelines.store.query import query
from pipelines.store.reader import part_files
from pipelines.store.schemas import KEYS
from pipelines.world.faults import LLMFaults

pytestmark = pytest.mark.slow

# the actors a job has one of; they belong on the driver's node (here the head)
SINGLETONS = ("WriterActor", "QuotaActor")
NODE = dict(num_cpus=1, object_store_memory=100 * 1024 * 1024, dashboard_agent_listen_port=0)


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(initialize_head=True, head_node_args=dict(NODE, num_cpus=0, include_dashboard=False))
    workers = [c.add_node(**NODE) for _ in range(2)]
    ray.init(address=c.address, namespace="trawl", log_to_driver=False)
    c.wait_for_nodes()
    try:
        yield c, workers
    finally:
        ray.shutdown()
        c.shutdown()


def _job(world, output, columns: list[str], name: str):
    from pipelines.world.process import DEFAULT_COLUMNS

    spec = copy.deepcopy(world.job_spec(output=str(output), name=name))
    spec["columns"] = {c: copy.deepcopy(DEFAULT_COLUMNS[c]) for c in columns}
    spec["research"]["keywords_per_cell"] = 2
    return parse_job(spec)


def _actor_nodes(class_name: str) -> dict[str, str]:
    """actor id -> node id of every actor of a class, from the GCS of the cluster we are connected to."""
    from ray._private import state

    return {a["ActorID"]: a["Address"]["NodeID"] for a in state.actors().values()
            if a["ActorClassName"] == class_name and a["Address"]["NodeID"]}


def test_work_spreads_over_both_workers(cluster, world, tmp_path):
    c, workers = cluster
    head_id = c.head_node.node_id
    worker_ids = {w.node_id for w in workers if w.node_id in {n["NodeID"] for n in ray.nodes() if n["Alive"]}}
    # a URI output: the writer actor writes through pyarrow's filesystem layer, as it would to s3://
    job = _job(world, f"file://{tmp_path}/bucket/out", ["ceo", "founded", "hq_city"], "spread")
    seen: dict[str, str] = {}
    singletons: dict[str, set[str]] = collections.defaultdict(set)
    before = set(_actor_nodes("FetcherActor"))

    def watch(progress, connection):
        @contextlib.contextmanager
        def view():
            stop = threading.Event()

            def poll():
                while not stop.wait(0.5):
                    with contextlib.suppress(Exception):
                        seen.update(_actor_nodes("FetcherActor"))
                        for cls in SINGLETONS:
                            singletons[cls].update(_actor_nodes(cls).values())

            t = threading.Thread(target=poll, daemon=True)
            t.start()
            try:
                yield
            finally:
                stop.set()
                t.join(timeout=30)

        return view()

    result = run_job(job, dashboard=False, on_start=watch)
    assert result.statuses == {"done": 15}, result.statuses
    assert result.output == job.output and not (tmp_path / "bucket" / "out" / "trawl.duckdb").exists()
    extraction_nodes = collections.Counter(
        r["node_id"] for r in query(result.output, "SELECT node_id FROM pages WHERE node_id IS NOT NULL").to_pylist()
    )
    assert set(extraction_nodes) == worker_ids, f"extraction on {extraction_nodes}, workers {worker_ids}, head {head_id}"
    researched = collections.Counter(r["worker"] for r in query(result.output, "SELECT worker FROM cells").to_pylist())
    assert researched.pop("driver", 0) <= DRIVER_CELLS_WITH_WORKERS, researched  # only the start-up bridge
    research_nodes = {name.split("@")[1] for name in researched}
    assert research_nodes == {n[:12] for n in worker_ids}, (researched, worker_ids, head_id)  # both workers, never the head
    seen.update(_actor_nodes("FetcherActor"))
    seen = {k: v for k, v in seen.items() if k not in before}
    assert len(seen) == (job.fetch.shards or default_fetcher_count(ray.nodes()))  # the default: one per 2 CPUs, at least 2
    assert len(set(seen.values())) >= 2, f"fetchers all on one node: {seen}"
    # the writer and the gateways sit on the driver's node, so losing a worker never takes them along
    assert dict(singletons) == {cls: {head_id} for cls in SINGLETONS}, (dict(singletons), head_id)


def _raw_duplicates(output: str, table: str) -> int:
    """Rows sharing a key across the raw part files (what a retried, non-idempotent write would leave)."""
    keys = collections.Counter()
    for path in part_files(output, table):
        for row in pq.read_table(path, columns=list(KEYS[table])).to_pylist():
            keys[tuple(row.values())] += 1
    return sum(n - 1 for n in keys.values() if n > 1)


def _until_the_fault_lands(world, land):
    """run_job's ``on_start``: every LLM call of the world is held from now on; while the job researches, a thread
    calls ``land()`` every 50 ms until it returns True (the fault landed) or 300 s pass, then the calls go on."""
    world.set_faults("llm", LLMFaults(hold_prompts_with=["</question>"]))

    def chaos():
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and not land():
                time.sleep(0.05)
        finally:
            world.set_faults("llm", LLMFaults())

    def on_start(progress, connection):
        @contextlib.contextmanager
        def view():
            t = threading.Thread(target=chaos, daemon=True)
            t.start()
            try:
                yield
            finally:
                t.join(timeout=60)

        return view()

    return on_start


def _worker_holding_cells(job_id: str, workers: int):
    """(handle, node id, index) of a research worker of the job that holds cells now, or None."""
    for index in range(workers):
        with contextlib.suppress(Exception):
            handle = ray.get_actor(f"trawl.research[{index}]", namespace=f"trawl.{job_id}")
            if ray.get(handle.stats.remote(), timeout=10)["in_flight"]:
                return handle, ray.get(handle.ready.remote(), timeout=10), index
    return None


def test_losing_a_worker_mid_job_still_finishes_every_cell_once(cluster, world, tmp_path):
    """A node goes while its research worker holds cells (every LLM call is held until then)."""
    c, workers = cluster
    spare = c.add_node(**NODE)  # one more node, so that two stay whichever node we lose
    c.wait_for_nodes()
    job = _job(world, tmp_path / "out", ["ceo", "founded", "hq_city", "employees"], "lose-a-node")
    lost: dict = {}

    def remove_a_node_whose_worker_holds_cells() -> bool:
        found = _worker_holding_cells(job.job_id, workers=3)
        node = next((n for n in [*workers, spare] if found and n.node_id == found[1]), None)
        if node is not None:
            c.remove_node(node, allow_graceful=False)
            workers[:] = [w for w in workers if w is not node]  # later tests use the nodes that stay
            lost["node_id"] = node.node_id
        return bool(lost)

    result = run_job(job, dashboard=False, on_start=_until_the_fault_lands(world, remove_a_node_whose_worker_holds_cells))
    assert lost, "no research worker ever held a cell"
    if spare not in workers and spare.node_id != lost["node_id"]:
        workers.append(spare)
    assert result.statuses == {"done": 20}, result.statuses
    researched = {r["worker"].split("@")[1] for r in query(result.output, "SELECT worker FROM cells").to_pylist()
                  if r["worker"] != "driver"}
    assert researched and lost["node_id"][:12] not in researched  # its cells were all redone on the nodes that stayed
    dupes = query(result.output, 'SELECT job_id, row_key, "column", count(*) AS n FROM cells GROUP BY ALL HAVING n > 1')
    assert dupes.num_rows == 0
    for table in ("cells", "pages", "keywords", "excerpts"):
        assert _raw_duplicates(result.output, table) == 0, table


def test_killing_a_research_worker_mid_job_loses_no_cell_and_duplicates_no_row(cluster, world, tmp_path):
    """Every cell's LLM calls are held until the kill has landed on a worker that holds cells."""
    job = _job(world, tmp_path / "out", ["ceo", "founded"], "kill-a-research-worker")
    total = len(job.row_keys()) * len(job.columns)
    victim: dict = {}

    def kill_a_worker_holding_cells() -> bool:
        found = _worker_holding_cells(job.job_id, workers=2)
        if found is not None:
            ray.kill(found[0], no_restart=False)  # a crash: Ray starts it again
            victim["index"] = found[2]
        return bool(victim)

    result = run_job(job, dashboard=False, on_start=_until_the_fault_lands(world, kill_a_worker_holding_cells))
    assert victim, "no research worker ever held a cell"
    assert result.statuses == {"done": total}, result.statuses
    workers = {c["worker"].split("@")[0] for c in query(result.output, "SELECT worker FROM cells").to_pylist()}
    assert f"research[{victim['index']}]" in workers, "the restarted worker finished the cells it had lost"
    for table in ("cells", "pages", "keywords", "excerpts", "search_results"):
        assert _raw_duplicates(result.output, table) == 0, table
