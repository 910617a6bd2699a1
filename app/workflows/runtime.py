"""The workflows library's asyncio runtime, without the journal of every run's ticks.

The basic runtime keeps every tick of a run (each event, each step's result, each stamped copy)
in memory until the run ends, for snapshots and replay. Citestream takes neither: a run that
outlives its connection lives in the run log (`app/runs/`), not in the workflow. The journal
also kept the retrieved passages, and the rows behind them: 15 KB per open answer
(tracemalloc, 200 answers at once) while the answer step streamed inside the workflow. Since
the workflow ends before the first token (`app/workflows/answer_stream.py`), a journal would
live through an answer's start only, when a burst's answers all hold theirs at once.

What needs the journal does not work on this runtime: a run's context cannot be serialized
(`ctx.to_dict()`) nor asked for its running steps. Nothing here does either.
"""

from __future__ import annotations

from workflows.plugins.basic import BasicRuntime, InternalAsyncioAdapter
from workflows.runtime.types.plugin import InternalRunAdapter
from workflows.runtime.types.ticks import WorkflowTick
from workflows.workflow import Workflow


class _UnjournaledAdapter(InternalAsyncioAdapter):
    async def on_tick(self, tick: WorkflowTick) -> None:
        """Nothing kept: nobody replays a run or reads its journal."""


class UnjournaledRuntime(BasicRuntime):
    """BasicRuntime whose runs keep no journal (see the module's docstring)."""

    def get_internal_adapter(self, workflow: Workflow) -> InternalRunAdapter:
        adapter = super().get_internal_adapter(workflow)
        assert isinstance(adapter, InternalAsyncioAdapter)
        return _UnjournaledAdapter(adapter._queues)
