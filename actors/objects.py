"""The one place where the driver pulls objects out of the object store.

Everything the coordinator awaits goes through ``get_object``, which makes
"page bodies never pass through the driver" checkable: the end-to-end test
watches this function and ``ray.get`` and asserts that no fetch result ever
goes through either.
"""

from __future__ import annotations

__all__ = ["get_object"]


async def get_object(ref):
    return await ref
