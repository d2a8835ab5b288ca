"""Load profiles for POST /v1/invoke, run headless by `liftoff load` (or `locust -f` by hand).

Environment (set by `liftoff load`): LIFTOFF_LOAD_KEY (API key), LIFTOFF_LOAD_CASES (a JSON file of
request bodies, taken from the use case's eval set), LIFTOFF_LOAD_SHAPE (steady | spike | soak),
LIFTOFF_LOAD_USERS, LIFTOFF_LOAD_SECONDS, LIFTOFF_LOAD_COSTS (where the summed cost is written).
"""

import json
import os
import random
import threading

from locust import HttpUser, LoadTestShape, between, events, task

BODIES = json.loads(open(os.environ["LIFTOFF_LOAD_CASES"]).read())  # noqa: PTH123, SIM115
USERS = int(os.environ.get("LIFTOFF_LOAD_USERS", "10"))
SECONDS = int(os.environ.get("LIFTOFF_LOAD_SECONDS", "60"))
SHAPE = os.environ.get("LIFTOFF_LOAD_SHAPE", "steady")
_costs = {"usd": 0.0, "answered": 0}
_lock = threading.Lock()


class Client(HttpUser):
    wait_time = between(0.05, 0.2)

    @task
    def invoke(self):
        body = random.choice(BODIES)  # noqa: S311 - load mix, not security
        headers = {"x-api-key": os.environ["LIFTOFF_LOAD_KEY"], "Content-Type": "application/json"}
        with self.client.post("/v1/invoke", json=body, headers=headers, catch_response=True, name="invoke") as r:
            if r.status_code == 200:
                with _lock:
                    _costs["usd"] += r.json().get("cost_usd", 0.0)
                    _costs["answered"] += 1
                r.success()
            elif r.status_code in (400, 404, 422):  # the case's own expected refusals, not load errors
                r.success()
            else:
                r.failure(f"{r.status_code} {r.text[:120]}")


@events.test_stop.add_listener
def _write_costs(**_kwargs):
    path = os.environ.get("LIFTOFF_LOAD_COSTS")
    if path:
        with open(path, "w") as out:  # noqa: PTH123
            json.dump(_costs, out)


class Profile(LoadTestShape):
    """steady: all users for the whole run; spike: a third of them, then all for the middle fifth;
    soak: a slow ramp to all users, held to the end."""

    def tick(self):
        t = self.get_run_time()
        if t > SECONDS:
            return None
        if SHAPE == "spike":
            spiking = 0.4 * SECONDS <= t < 0.6 * SECONDS
            return (USERS if spiking else max(1, USERS // 3)), USERS
        if SHAPE == "soak":
            return max(1, min(USERS, int(USERS * t / max(1, 0.2 * SECONDS)) + 1)), max(1, USERS // 5)
        return USERS, USERS
