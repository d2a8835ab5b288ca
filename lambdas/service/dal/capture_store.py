"""Captured requests and their ratings: one item per answer in the capture table, keyed by the capture
id the server chose for it (logic/feedback_token.py), never by a request id a client may send twice.

- invoke puts the capture record (`put`), only when capture is on and the request was sampled, and
  only if no item has its key (a conditional put never replaces a capture or its rating);
- feedback updates the rating fields (`rate`) and learns the rating it replaced, so a rating is counted
  once; the item is created when there was no capture, so a rating is kept alone;
- the harvest (liftoff eval harvest) queries the `by-rating` index by rating and time (`rated`).
Every item expires through TTL `expires_at`.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import BotoCoreError, ClientError

TTL_ATTRIBUTE = "expires_at"
RATING_INDEX = "by-rating"  # partition key `rating`, sort key `rated_at` (ISO 8601, UTC)


class CaptureUnavailable(Exception):
    """DynamoDB could not store or update the record."""


def _dynamo(value: Any) -> Any:
    """Floats as Decimal (DynamoDB numbers), recursively."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dynamo(v) for v in value]
    return value


class CaptureStore:
    def __init__(self, table: Any):
        self._table = table

    def put(self, record: dict) -> None:
        try:
            self._table.put_item(Item=_dynamo(record), ConditionExpression="attribute_not_exists(pk)")
        except (ClientError, BotoCoreError) as exc:
            raise CaptureUnavailable(f"cannot store the capture of {record.get('pk')}: {exc}") from exc

    def rate(self, capture_id: str, fields: dict, expires_at: int) -> str | None:
        """Set the rating fields (the latest rating stands); the record keeps its own expiry when it has one.
        Returns the rating this one replaced (None for the first), read in the same atomic update."""
        names = {f"#{i}": name for i, name in enumerate(fields)}
        values = {f":{i}": _dynamo(value) for i, value in enumerate(fields.values())}
        assignments = ", ".join(f"#{i} = :{i}" for i in range(len(fields)))
        try:
            result = self._table.update_item(
                Key={"pk": capture_id},
                UpdateExpression=f"SET {assignments}, {TTL_ATTRIBUTE} = if_not_exists({TTL_ATTRIBUTE}, :exp)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={**values, ":exp": expires_at},
                ReturnValues="ALL_OLD",  # the item before: its rating even when unchanged
            )
        except (ClientError, BotoCoreError) as exc:
            raise CaptureUnavailable(f"cannot store the rating of {capture_id}: {exc}") from exc
        return (result.get("Attributes") or {}).get("rating")

    def rated(self, rating: str, since_iso: str) -> Iterator[dict]:
        """Every item rated `rating` at or after `since_iso`, newest first (a Query on the index, no Scan)."""
        kwargs: dict = {
            "IndexName": RATING_INDEX,
            "KeyConditionExpression": Key("rating").eq(rating) & Key("rated_at").gte(since_iso),
            "ScanIndexForward": False,
        }
        while True:
            page = self._table.query(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
