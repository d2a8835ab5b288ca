"""Handlers for tests/unit/test_environments.py, imported by the pool's spawned processes."""

import json
import os
import time


def handler(event: dict, _context) -> dict:
    time.sleep(event.get("sleep", 0))
    if event.get("exit"):
        os._exit(3)  # the environment dies mid-request
    left_ms = _context.get_remaining_time_in_millis()
    return {"statusCode": 200, "body": json.dumps({"pid": os.getpid(), "left_ms": left_ms})}
