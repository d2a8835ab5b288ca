"""Today's spend of one use case: one DynamoDB item per UTC day, updated with an atomic ADD.

Item: pk `<use_case>#<YYYY-MM-DD>`, `spend_usd` (Number), `requests` (Number), `expires_at`
(epoch seconds, the table's TTL attribute; old days disappear on their own after `KEEP_DAYS`).
ADD is applied by DynamoDB itself, so concurrent writers never lose an update.

The ADD goes through a client that never retries it (`add_table`): it is not idempotent. What a
failed ADD certainly did not count is carried into the environment's next ADD.

Every read and every ADD returns the day's total; the counter keeps the latest as this execution
environment's reading (`reading`), so a cap check can be served in-process while the reading is fresh
(service.logic.invoke decides when that is safe).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError

TTL_ATTRIBUTE = "expires_at"  # the table's TTL attribute (stacks/constructs/spend_table.py)
KEEP_DAYS = 35  # a month of history for `liftoff cost report`, then TTL removes the item


class SpendCounterUnavailable(Exception):
    """DynamoDB could not be read or written; the caller decides what that means."""


@dataclass(frozen=True)
class DaySpend:
    day: date
    spend_usd: float
    requests: int


@dataclass(frozen=True)
class Reading:
    """The day's total as DynamoDB last returned it to this environment, and when (monotonic seconds)."""

    day: date
    spend_usd: float
    at: float


def utc_now() -> datetime:
    return datetime.now(UTC)


class SpendCounter:
    def __init__(
        self,
        table: Any,
        use_case: str,
        *,
        add_table: Any = None,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self._table = table
        self._use_case = use_case
        self._clock = clock
        self._monotonic = monotonic
        self._add_table = add_table if add_table is not None else table
        self._reading: Reading | None = None
        self.largest_add_usd = 0.0  # the most expensive request this environment has added
        # What failed ADDs left to count: one running amount (and its requests) for one day, so memory stays
        # bounded whatever the outage; lost if the environment ends first (docs/cost.md)
        self._carried: DaySpend | None = None
        self.dropped_usd = 0.0  # carried amounts of past days, never counted

    def reading(self, max_age_s: float) -> float | None:
        """Today's total as last seen by this environment, if seen within `max_age_s`; else None."""
        seen = self._reading
        if seen is None or seen.day != self.today() or self._monotonic() - seen.at > max_age_s:
            return None
        return seen.spend_usd + self.carried_usd

    def _remember(self, day: date, spend_usd: float) -> None:
        self._reading = Reading(day, spend_usd, self._monotonic())

    def _key(self, day: date) -> dict[str, str]:
        return {"pk": f"{self._use_case}#{day.isoformat()}"}

    def today(self) -> date:
        return self._clock().date()

    def seconds_until_reset(self) -> int:
        """Until 00:00 UTC, when a new day's counter starts at zero (for a Retry-After header)."""
        now = self._clock()
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        return max(1, int((midnight - now).total_seconds()))

    def spent_today_usd(self) -> float:
        """Strongly consistent read: a cap check must see every add that has completed."""
        today = self.today()
        spend = self.day(today).spend_usd
        self._remember(today, spend)
        return spend + self.carried_usd  # with what this environment has spent and not yet added

    def day(self, day: date) -> DaySpend:
        try:
            item = self._table.get_item(Key=self._key(day), ConsistentRead=True).get("Item") or {}
        except (ClientError, BotoCoreError) as exc:
            raise SpendCounterUnavailable(f"cannot read the spend of {day}: {exc}") from exc
        return DaySpend(day, float(item.get("spend_usd", 0)), int(item.get("requests", 0)))

    def add(self, cost_usd: float) -> float:
        """Add one request's cost to today's total and return the new total. The ADD is not idempotent, so
        it is sent once (the function's client does not retry it: a retry after a slow answer counted the
        cost twice). When it certainly did not apply (refused, throttled, never sent) the amount is carried
        into this environment's next ADD; when it may have applied (a read timeout, a 5xx) it is not, since
        counting it twice is as wrong as not at all. Either way SpendCounterUnavailable says which."""
        today = self.today()
        carried = self._carried if self._carried and self._carried.day == today else None
        if self._carried and carried is None:  # a past day's: its cap is over, and its item is not today's
            self.dropped_usd += self._carried.spend_usd
            self._carried = None
        amount = cost_usd if carried is None else round(float(cost_usd) + carried.spend_usd, 10)
        requests = 1 + (carried.requests if carried else 0)
        expires = datetime.combine(today + timedelta(days=KEEP_DAYS), datetime.min.time(), tzinfo=UTC)
        try:
            result = self._add_table.update_item(
                Key=self._key(today),
                UpdateExpression=f"ADD spend_usd :cost, requests :one SET {TTL_ATTRIBUTE} = if_not_exists({TTL_ATTRIBUTE}, :exp)",
                ExpressionAttributeValues={
                    # str() keeps the float's shortest exact decimal form; Decimal(float) would not
                    ":cost": Decimal(str(amount)),
                    ":one": requests,
                    ":exp": int(expires.timestamp()),
                },
                ReturnValues="UPDATED_NEW",
            )
        except (ClientError, BotoCoreError) as exc:
            if _may_have_applied(exc):
                self._carried = None
                raise SpendCounterUnavailable(
                    f"cannot add ${amount} to today's spend (DynamoDB may have applied it: not resent, not carried): {exc}"
                ) from exc
            self._carried = DaySpend(today, amount, requests)
            raise SpendCounterUnavailable(
                f"cannot add ${amount} to today's spend (carried into this environment's next add): {exc}"
            ) from exc
        self._carried = None
        total = float(result["Attributes"]["spend_usd"])
        self._remember(today, total)
        self.largest_add_usd = max(self.largest_add_usd, cost_usd)
        return total

    @property
    def carried_usd(self) -> float:
        """Today's spend of this environment that is not on the counter yet (a failed ADD's, carried)."""
        carried = self._carried
        return carried.spend_usd if carried and carried.day == self.today() else 0.0

    def history(self, days: int) -> list[DaySpend]:
        """The last `days` UTC days, today included, oldest first (a day with no spend reads 0)."""
        today = self.today()
        return [self.day(today - timedelta(days=offset)) for offset in range(days - 1, -1, -1)]


def _may_have_applied(exc: Exception) -> bool:
    """Whether a failed UpdateItem may still have been applied: the request reached DynamoDB and no answer
    says it was refused (a read timeout or dropped connection, a 5xx). A 4xx (throttling, validation,
    access) or a connection never made means it was not."""
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500
        return int(status) >= 500
    return isinstance(exc, HTTPClientError)  # ReadTimeoutError, ConnectionClosedError: sent, answer lost
