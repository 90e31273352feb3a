"""Which fetcher a URL goes to: a stable hash of its registrable domain (pure function, no network, no Ray).

The hosts here are never contacted: only their names are hashed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from actors.fetcher import shard_for


def test_shard_for_is_stable_and_domain_based():
    assert shard_for("http://www.acme.example/a", 8) == shard_for("http://acme.example:8080/b?q=1", 8)
    assert shard_for("http://x.example/", 1) == 0
    # pinned values: a change of hash would reshuffle politeness state across releases
    assert [shard_for(f"http://site{i}.example/", 7) for i in range(6)] == [5, 3, 3, 6, 5, 5]
    spread = {shard_for(f"http://site{i}.example/", 4) for i in range(40)}
    assert spread == {0, 1, 2, 3}


def test_shard_for_matches_a_fresh_process():
    code = "from actors.fetcher import shard_for; print(shard_for('http://acme.example/x', 16))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123", "PATH": ""}, cwd=Path(__file__).parent.parent)
    assert int(out.stdout) == shard_for("http://acme.example/x", 16)
