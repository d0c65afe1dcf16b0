"""The long-running parts' garbage-collection keeper: short collections, and no cycle kept for good."""
from __future__ import annotations

import gc
import weakref

from store.parts import gc_keeper


class Node:
    pass


def test_gc_keeper_freezes_and_sweeps_what_it_froze():
    try:
        node = Node()
        node.me = node            # a cycle: only the collector can free it
        gone = weakref.ref(node)
        gc_keeper(freeze_s=0, sweep_s=3600)()
        assert gc.get_freeze_count() > 0
        del node
        gc.collect()
        assert gone() is not None, "frozen: full collections leave it alone"
        gc_keeper(freeze_s=3600, sweep_s=0)()
        assert gone() is None, "the sweep thaws and collects it"
    finally:
        gc.unfreeze()
