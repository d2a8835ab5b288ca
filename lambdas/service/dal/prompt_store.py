"""Prompt registry in DynamoDB: the only module that reads or writes the prompts table.

Items (one table per use case and stage):
  version  pk=<use_case>#<prompt_id>  sk=v#000001      immutable, written once with a conditional put
  alias    pk=<use_case>#<prompt_id>  sk=alias#<name>  {version, revision, history}; moved by conditional update
  evidence pk=<use_case>#<prompt_id>  sk=evidence#v#000001#<created>  an eval record of that version (added, never changed)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from service.models.errors import Misconfigured, RegistryUnavailable, ServiceError, with_detail
from service.models.evidence import EvalEvidence
from service.models.prompt import PromptSpec

VERSION_PREFIX = "v#"
ALIAS_PREFIX = "alias#"
EVIDENCE_PREFIX = "evidence#"
LIVE_ALIAS = "live"
HISTORY_LIMIT = 50
_PUBLISH_ATTEMPTS = 5


class AliasConflict(ServiceError):
    status = 409
    code = "AliasConflict"


@dataclass(frozen=True)
class PromptVersion:
    prompt_id: str
    version: int
    spec: PromptSpec
    content_hash: str
    created_at: str
    author: str
    message: str


@dataclass(frozen=True)
class PromptAlias:
    """Where an alias points; with a canary, `canary_weight` % of unpinned requests get `canary_version`."""

    prompt_id: str
    name: str
    version: int
    revision: int
    history: list[dict[str, Any]]
    canary_version: int | None = None
    canary_weight: int = 0
    # the canary ends by itself when one of its alarms fires (service/handlers/canary_rollback.py)
    auto_rollback: bool = True


@dataclass(frozen=True)
class PublishResult:
    prompt_id: str
    version: int
    created: bool
    live_set: bool


def version_key(version: int) -> str:
    return f"{VERSION_PREFIX}{version:06d}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _is_conditional_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class PromptStore:
    """Typed access to one use case's prompt registry table."""

    def __init__(self, table: Any, use_case: str):
        self._table = table
        self._use_case = use_case

    @property
    def use_case(self) -> str:
        return self._use_case

    def _pk(self, prompt_id: str) -> str:
        return f"{self._use_case}#{prompt_id}"

    def _call(self, fn, **kwargs):
        try:
            return fn(**kwargs)
        except ClientError as exc:
            if _is_conditional_failure(exc):
                raise
            raise RegistryUnavailable(f"prompt registry error: {exc.response['Error'].get('Code')}") from exc
        except BotoCoreError as exc:
            raise with_detail(RegistryUnavailable("prompt registry unreachable"), str(exc)) from exc

    def _all_items(self, operation, **kwargs) -> Iterator[dict[str, Any]]:
        """Every item of a query or scan, page after page."""
        while True:
            resp = self._call(operation, **kwargs)
            yield from resp.get("Items", [])
            if "LastEvaluatedKey" not in resp:
                return
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def _versions_condition(self, prompt_id: str):
        return Key("pk").eq(self._pk(prompt_id)) & Key("sk").begins_with(VERSION_PREFIX)

    def _to_version(self, item: dict[str, Any]) -> PromptVersion:
        try:
            spec = PromptSpec.model_validate_json(item["spec"])
        except ValidationError as exc:  # stored before a rule existed (a dangling $ref), or written by hand
            raise with_detail(
                Misconfigured(
                    f"prompt `{item['prompt_id']}` v{item['version']} in the registry breaks the prompt rules; "
                    "publish a fixed version and move the alias to it"
                ),
                str(exc),
            ) from exc
        return PromptVersion(
            prompt_id=item["prompt_id"],
            version=int(item["version"]),
            spec=spec,
            content_hash=item["content_hash"],
            created_at=item["created_at"],
            author=item.get("author", ""),
            message=item.get("message", ""),
        )

    # ---- reads -------------------------------------------------------------------------------
    def get_version(self, prompt_id: str, version: int) -> PromptVersion | None:
        key = {"pk": self._pk(prompt_id), "sk": version_key(version)}
        item = self._call(self._table.get_item, Key=key, ConsistentRead=True).get("Item")
        return self._to_version(item) if item else None

    def latest_version(self, prompt_id: str) -> PromptVersion | None:
        resp = self._call(
            self._table.query,
            KeyConditionExpression=self._versions_condition(prompt_id),
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = resp.get("Items", [])
        return self._to_version(items[0]) if items else None

    def get_alias(self, prompt_id: str, name: str) -> PromptAlias | None:
        key = {"pk": self._pk(prompt_id), "sk": f"{ALIAS_PREFIX}{name}"}
        item = self._call(self._table.get_item, Key=key, ConsistentRead=True).get("Item")
        if not item:
            return None
        canary = item.get("canary_version")
        return PromptAlias(
            prompt_id=prompt_id,
            name=name,
            version=int(item["version"]),
            revision=int(item["revision"]),
            history=[{**h, "version": int(h["version"])} for h in item.get("history", [])],
            canary_version=int(canary) if canary is not None else None,
            canary_weight=int(item.get("canary_weight", 0)),
            auto_rollback=bool(item.get("auto_rollback", True)),
        )

    def list_versions(self, prompt_id: str) -> list[PromptVersion]:
        items = self._all_items(
            self._table.query, KeyConditionExpression=self._versions_condition(prompt_id), ConsistentRead=True
        )
        return [self._to_version(i) for i in items]

    # ---- writes ------------------------------------------------------------------------------
    def publish(self, spec: PromptSpec, *, author: str, message: str = "") -> PublishResult:
        """Store `spec` as the next immutable version unless it equals the latest one (a no-op).
        Points alias `live` at it when the prompt has no `live` alias yet (first publish only)."""
        digest = spec.content_hash()
        for _ in range(_PUBLISH_ATTEMPTS):
            latest = self.latest_version(spec.prompt_id)
            if latest and latest.content_hash == digest:
                return PublishResult(spec.prompt_id, latest.version, created=False, live_set=False)
            version = latest.version + 1 if latest else 1
            item = {
                "pk": self._pk(spec.prompt_id),
                "sk": version_key(version),
                "prompt_id": spec.prompt_id,
                "version": version,
                "spec": spec.model_dump_json(),
                "content_hash": digest,
                "created_at": _now(),
                "author": author,
                "message": message,
            }
            try:
                self._call(self._table.put_item, Item=item, ConditionExpression="attribute_not_exists(sk)")
            except ClientError as exc:
                if _is_conditional_failure(exc):
                    continue  # someone published the same number concurrently: take the next one
                raise
            live_set = self._create_alias_if_absent(spec.prompt_id, LIVE_ALIAS, version, author)
            return PublishResult(spec.prompt_id, version, created=True, live_set=live_set)
        raise AliasConflict(f"could not publish {spec.prompt_id}: too many concurrent publishes, try again")

    def _create_alias_if_absent(self, prompt_id: str, name: str, version: int, author: str) -> bool:
        try:
            self.move_alias(prompt_id, name, current=None, version=version, author=author, action="publish")
        except AliasConflict:
            return False  # the alias exists: never move it on publish
        return True

    def move_alias(
        self,
        prompt_id: str,
        name: str,
        *,
        current: PromptAlias | None,
        version: int,
        author: str,
        action: str,
        canary_version: int | None = None,
        canary_weight: int = 0,
        auto_rollback: bool = True,
        note: str | None = None,
        evidence: dict[str, Any] | None = None,
    ) -> PromptAlias:
        """Point `name` at `version` if nobody moved it since it was read as `current` (None: it must
        not exist yet). A lost race raises AliasConflict instead of overwriting the other move.
        `evidence` (the eval record behind the move, or the reason it was forced) goes into the history."""
        history = current.history if current else []
        revision = (current.revision if current else 0) + 1
        entry = {"version": version, "at": _now(), "by": author, "action": action}
        if canary_version is not None:
            entry["canary"] = {"version": canary_version, "weight": canary_weight, "auto_rollback": auto_rollback}
        if note:
            entry["note"] = note
        if evidence:
            entry["evidence"] = evidence
        item: dict[str, Any] = {
            "pk": self._pk(prompt_id),
            "sk": f"{ALIAS_PREFIX}{name}",
            "prompt_id": prompt_id,
            "alias": name,
            "version": version,
            "revision": revision,
            "history": [*history, entry][-HISTORY_LIMIT:],
        }
        if canary_version is not None:
            item |= {"canary_version": canary_version, "canary_weight": canary_weight, "auto_rollback": auto_rollback}
        if current is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(sk)"}
        else:
            condition = {
                "ConditionExpression": "revision = :expected",
                "ExpressionAttributeValues": {":expected": current.revision},
            }
        try:
            self._call(self._table.put_item, Item=item, **condition)
        except ClientError as exc:
            if _is_conditional_failure(exc):
                current = self.get_alias(prompt_id, name)
                now = f"v{current.version} (revision {current.revision})" if current else "deleted"
                raise AliasConflict(
                    f"alias `{name}` of `{prompt_id}` was moved by someone else while you were changing it "
                    f"(it is now {now}); check `liftoff prompts history {prompt_id}` and run the command again"
                ) from exc
            raise
        return self.get_alias(prompt_id, name)

    # ---- eval evidence -----------------------------------------------------------------------
    def record_evidence(self, evidence: EvalEvidence) -> None:
        """Keep one eval record of a version (records are never changed: each run adds one)."""
        item = {
            "pk": self._pk(evidence.prompt_id),
            "sk": f"{EVIDENCE_PREFIX}{version_key(evidence.version)}#{evidence.created}",
            "prompt_id": evidence.prompt_id,
            "version": evidence.version,
            "content_hash": evidence.content_hash,
            "passed": evidence.passed,
            # the whole record as JSON: floats and nulls survive DynamoDB without Decimal conversions
            "evidence": json.dumps(evidence.to_dict(), sort_keys=True),
        }
        self._call(self._table.put_item, Item=item)

    def list_evidence(self, prompt_id: str, version: int | None = None) -> list[EvalEvidence]:
        """The eval records of a prompt (or of one version), newest first."""
        prefix = EVIDENCE_PREFIX + (f"{version_key(version)}#" if version is not None else VERSION_PREFIX)
        condition = Key("pk").eq(self._pk(prompt_id)) & Key("sk").begins_with(prefix)
        items = self._all_items(self._table.query, KeyConditionExpression=condition, ConsistentRead=True)
        records = [EvalEvidence.from_dict(json.loads(i["evidence"])) for i in items]
        return sorted(records, key=lambda e: e.created, reverse=True)

    def list_prompt_ids(self) -> list[str]:
        """Every prompt id of this use case that has a version (a scan: for the CLI and deploys, never on
        the request path)."""
        items = self._all_items(self._table.scan, ProjectionExpression="pk, prompt_id, sk")
        mine = f"{self._use_case}#"
        return sorted(
            {i["prompt_id"] for i in items if i["sk"].startswith(VERSION_PREFIX) and i["pk"].startswith(mine)}
        )

    def retire(self, prompt_id: str) -> list[str]:
        """Remove every alias of `prompt_id` (its file left the repo): requests by alias get 404
        PromptNotFound. The immutable versions stay, as history and for explicit version pins."""
        condition = Key("pk").eq(self._pk(prompt_id)) & Key("sk").begins_with(ALIAS_PREFIX)
        removed = []
        for item in self._all_items(self._table.query, KeyConditionExpression=condition, ConsistentRead=True):
            self._call(self._table.delete_item, Key={"pk": item["pk"], "sk": item["sk"]})
            removed.append(item["sk"].removeprefix(ALIAS_PREFIX))
        return removed
