"""Ends prompt canaries when one of their alarms fires. EventBridge sends the CloudWatch alarm's state
change (only the canary alarms, only into ALARM: stacks/constructs/golden_canary.py); every prompt of
the use case whose `live` alias has a canary started with auto-rollback on goes back to its stable
version, with `auto-rollback` and the alarm's name in the alias history, and the alarm topic is told.
A canary the alarm may not be about (it fired before the canary started, or on data from an earlier
canary: logic/canary_alarm.py) is left alone, and the log says why. A human move since the alias was
read wins (optimistic lock): it is never overwritten."""

from __future__ import annotations

import json
from typing import Any

import boto3

from service.dal.prompt_store import PromptStore
from service.logic.canary_alarm import AlarmEvidence, not_this_canarys
from service.logic.prompt_registry import auto_rollback
from service.observability import logger
from service.settings import RollbackSettings


def lambda_handler(event: dict, context: Any) -> dict:
    detail = event.get("detail") or {}
    if (detail.get("state") or {}).get("value") != "ALARM":
        return {"rolled_back": []}
    evidence = AlarmEvidence.from_event(event)
    alarm = evidence.name
    settings = RollbackSettings.from_env()
    store = PromptStore(boto3.resource("dynamodb").Table(settings.prompts_table), settings.use_case)
    rolled, left = [], {}

    def applies(current) -> bool:
        why_not = not_this_canarys(current, evidence)
        if why_not:
            left[current.prompt_id] = why_not
        return why_not is None

    for prompt_id in store.list_prompt_ids():
        moved = auto_rollback(store, prompt_id, reason=f"alarm {alarm}", applies=applies)
        if moved is not None:
            rolled.append({"prompt_id": prompt_id, "stable_version": moved.version})
    logger.info("canary auto-rollback", extra={"alarm": alarm, "rolled_back": rolled, "left_alone": left})
    if rolled and settings.alarm_topic_arn:
        boto3.client("sns").publish(
            TopicArn=settings.alarm_topic_arn,
            Subject="Liftoff: prompt canary rolled back",
            Message=json.dumps({"alarm": alarm, "rolled_back": rolled}),
        )
    return {"rolled_back": rolled, **({"left_alone": left} if left else {})}
