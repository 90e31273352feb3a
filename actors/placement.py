"""Where trawl's singleton actors live: on the driver's node.

The writer must (the output folder is there); the LLM and search gateways
should: they hold the cluster-wide rate limits, breakers and budget, and the
driver's node is the one node whose loss ends the job anyway. Worker nodes can
then come and go (autoscaling, spot instances, a lost host) without taking a
gateway with them.

The affinity is hard. They need no CPU, so any live node can take them, and
Ray 2.60's *soft* affinity turned out to be a coin toss for zero-CPU actors on
a head with ``num_cpus=0`` (measured: 1 to 3 of 4 actors placed elsewhere), which
is exactly the layout ``ray-cluster.yaml`` recommends.
"""

from __future__ import annotations

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

__all__ = ["on_this_node"]


def on_this_node() -> NodeAffinitySchedulingStrategy:
    """A scheduling strategy for the node this code (normally the driver) runs on."""
    return NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
