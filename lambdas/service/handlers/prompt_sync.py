"""Custom resource (CDK Provider framework, onEvent): publish the repo's prompts at deploy time.

Each prompt becomes a new immutable version only when its content changed; alias `live` is set
on a prompt's first publish only, so a promotion or rollback made by hand survives redeploys. A
prompt whose file was removed is retired: its aliases go, so it is no longer served by alias.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from service.dal.prompt_store import PromptStore
from service.models.prompt import PromptSpec
from service.observability import logger

DEPLOY_AUTHOR = "cloudformation-deploy"


def sync_prompts(store: PromptStore, prompts: list[dict[str, Any]], message: str) -> list[dict[str, Any]]:
    """Publish every prompt, and retire the prompts whose files are gone (their aliases are removed, so
    they are no longer served by alias); returns one summary line per prompt."""
    results = []
    for raw in prompts:
        spec = PromptSpec.model_validate(raw)
        result = store.publish(spec, author=DEPLOY_AUTHOR, message=message)
        results.append({"prompt_id": result.prompt_id, "version": result.version, "created": result.created})
    in_repo = {r["prompt_id"] for r in results}
    for prompt_id in store.list_prompt_ids():
        if prompt_id not in in_repo:
            retired = store.retire(prompt_id)
            logger.info("prompt retired: its file left the repo", extra={"prompt_id": prompt_id, "aliases": retired})
            results.append({"prompt_id": prompt_id, "retired": retired})
    return results


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    props = event["ResourceProperties"]
    physical_id = f"prompt-sync-{props['UseCase']}"
    if event["RequestType"] == "Delete":
        return {"PhysicalResourceId": physical_id}  # versions are history: the table's policy decides
    table = boto3.resource("dynamodb").Table(props["TableName"])
    results = sync_prompts(
        PromptStore(table, props["UseCase"]),
        json.loads(props["Prompts"]),
        message=f"deploy {props.get('Stage', '')}".strip(),
    )
    logger.info("prompts synced", extra={"results": results})
    summary = ", ".join(
        f"{r['prompt_id']}=retired"
        if "retired" in r
        else f"{r['prompt_id']}=v{r['version']}{'*' if r['created'] else ''}"
        for r in results
    )
    return {"PhysicalResourceId": physical_id, "Data": {"Summary": summary[:1000]}}
