"""Money: cost from the usage an endpoint reports, estimates before a run, a hard budget.

Tokenizer files cannot be downloaded here, so estimates count characters (about four per
token for English). The budget never trusts the estimate to be an upper bound: it reserves
a call's worst case (max_tokens of output, a generous input count) before the call starts and
replaces the reservation by the real cost when the call ends.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

CHARS_PER_TOKEN = 4.0
MESSAGE_OVERHEAD_TOKENS = 4  # role and separators, per message


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def estimate_prompt_tokens(messages: list[dict[str, str]]) -> int:
    return sum(estimate_tokens(m["content"]) + MESSAGE_OVERHEAD_TOKENS for m in messages)


def cost_usd(input_tokens: int, output_tokens: int, input_price_per_million: float,
             output_price_per_million: float) -> float:
    return (input_tokens * input_price_per_million
            + output_tokens * output_price_per_million) / 1_000_000


@dataclass
class Budget:
    """Admits a call only if, even at its worst, the total stays within `max_cost`.

    The input worst case starts at one token per two characters (twice the usual count) and
    then follows the highest tokens-per-character ratio seen, with a 25% margin.
    """

    max_cost: float | None
    input_price_per_million: float
    output_price_per_million: float
    max_output_tokens: int
    spent: float = 0.0
    reserved: float = 0.0
    held: int = 0  # calls holding a reservation
    ratio: float = 0.5  # tokens per character assumed for the input's worst case
    seen_ratio: float = 0.0
    seen_calls: int = 0

    def worst_case(self, prompt_chars: int) -> float:
        tokens = math.ceil(prompt_chars * self.ratio) + 16
        return cost_usd(tokens, self.max_output_tokens, self.input_price_per_million,
                        self.output_price_per_million)

    def reserve(self, prompt_chars: int) -> float | None:
        """The amount reserved for one call, or None if the call could break the budget."""
        amount = self.worst_case(prompt_chars)
        if self.max_cost is not None and self.spent + self.reserved + amount > self.max_cost:
            return None
        self.reserved += amount
        self.held += 1
        return amount

    def settle(self, reserved: float, actual: float, *, prompt_chars: int = 0,
               input_tokens: int = 0) -> None:
        """Replace a reservation by what the call really cost (0 for a call that failed)."""
        self.reserved = max(0.0, self.reserved - reserved) if self.held > 1 else 0.0
        self.held -= 1
        self.spent += actual
        if prompt_chars > 0 and input_tokens > 0:
            self.seen_ratio = max(self.seen_ratio, input_tokens / prompt_chars)
            self.seen_calls += 1
            if self.seen_calls >= 20:
                self.ratio = self.seen_ratio * 1.25


class Ledger(Protocol):
    """A budget shared with other processes (services/budgets.SharedBudget, a database
    ledger): reserve a call's worst case against the shared cap, settle it afterwards."""

    def reserve(self, amount: float) -> int | None:
        """None when reserved; else the calls in flight elsewhere (whose settling may free
        room)."""

    def settle(self, reserved: float, actual: float) -> None: ...


LEDGER_POLL_S = 0.2  # how often a call waiting for other processes' calls to settle retries


class BudgetGate:
    """A Budget shared by concurrent calls: judge runs and generation runs admit their calls
    here (the arena applies the same Budget rule to a battle's two calls at once). Near the
    limit, a call that does not fit waits for the calls in flight to settle (their real cost
    is usually far below the worst case reserved) and tries again; it is refused only when
    nothing is in flight and it still does not fit.

    With a ``ledger``, the call must also fit in the budget it shares with other processes
    (the same cap on the same task, in the database): calls in flight there count as in
    flight here."""

    def __init__(self, budget: Budget, ledger: Ledger | None = None) -> None:
        self.budget = budget
        self.ledger = ledger
        self._settled = asyncio.Event()

    async def admit(self, prompt_chars: int, stopped: Callable[[], bool]) -> float | None:
        """The amount reserved for the call, or None when it may not start. The local
        Budget is only touched on the event loop; the ledger's round trip runs in a thread."""
        while True:
            reserved, elsewhere = self.budget.reserve(prompt_chars), 0
            if reserved is not None and self.ledger is not None:
                waiting = await asyncio.to_thread(self.ledger.reserve, reserved)
                if waiting is not None:
                    self.budget.settle(reserved, 0.0)  # take back the local reservation
                    self._settled.set()  # a call waiting for it may be refused for good now
                    reserved, elsewhere = None, waiting
            if reserved is not None or stopped():
                return reserved
            if self.budget.held:
                self._settled.clear()
                await self._settled.wait()
            elif elsewhere:
                await asyncio.sleep(LEDGER_POLL_S)
            else:
                return None

    async def settle(self, reserved: float, actual: float, *, prompt_chars: int = 0,
                     input_tokens: int = 0) -> None:
        if self.ledger is not None:
            await asyncio.to_thread(self.ledger.settle, reserved, actual)
        self.budget.settle(reserved, actual, prompt_chars=prompt_chars,
                           input_tokens=input_tokens)
        self._settled.set()
