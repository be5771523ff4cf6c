"""The operator's approvals: orders for new names wait until the TUI or the CLI decides,
in another process, through the store."""

from __future__ import annotations

import asyncio

from certtui.acme.challenges import spawn
from certtui.acme.context import Context
from certtui.acme.problems import error
from certtui.core import acme_state as state

# How often the server looks in the store for the operator's approvals (the TUI or the CLI
# decide in another process): a decision takes effect within a second or two.
APPROVAL_POLL_S = 1.0


async def apply_decisions(ctx: Context) -> None:
    """Apply the operator's decisions, which another process writes into the store."""
    while True:
        try:
            for decision in state.decided(ctx.store):
                if decision.status == "approved":
                    for chall in state.waiting_challenges(ctx.store, decision.order_id):
                        spawn(ctx, chall, "approved")
                    state.applied(ctx.store, decision.order_id)
                    ctx.log(f"order {decision.order_id} approved: {', '.join(decision.names)}")
                else:
                    why = decision.reason or "no reason given"
                    state.refuse_order(
                        ctx.store,
                        decision.order_id,
                        error(
                            "rejectedIdentifier",
                            f"the operator refused {', '.join(decision.names)[:200]}: {why[:300]}",
                        ),
                    )
                    ctx.log(f"order {decision.order_id} refused: {', '.join(decision.names)}")
        except Exception as exc:  # a busy store, say: one line, and the loop goes on
            ctx.log(f"could not apply approvals: {type(exc).__name__}: {str(exc)[:200]}")
        await asyncio.sleep(APPROVAL_POLL_S)
