"""An eval record: what a `liftoff eval run` measured for one exact prompt version (its content hash),
kept in the prompt registry so promotion can require it (service/logic/prompt_registry.py)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

REAL_MODEL_TARGETS = ("api", "bedrock")


@dataclass(frozen=True)
class EvalEvidence:
    use_case: str
    prompt_id: str
    version: int
    content_hash: str
    model_id: str
    guardrail_id: str | None
    guardrail_version: str | None
    guardrail_applied: bool
    target: str  # local | api | bedrock
    simulated: bool  # the answers came from the Bedrock simulator
    git_commit: str | None
    eval_set_hash: str
    passed: bool  # every exit criterion met
    criteria: dict[str, dict]  # name -> {"value": float|None, "limit": float, "met": bool|None}
    report: str  # where report.json was written (path or URI)
    created: str  # ISO-8601 UTC
    # part of the eval set only (--limit, --tag, --file): never enough on a deployed stage
    sample: bool = False

    @property
    def real_model(self) -> bool:
        """Measured on a real model: through a deployed API or Bedrock itself, not the simulator."""
        return self.target in REAL_MODEL_TARGETS and not self.simulated

    @property
    def conclusive(self) -> bool:
        """What a deployed stage's gate and readiness count: the whole eval set on a real model."""
        return self.real_model and not self.sample

    @property
    def label(self) -> str:
        """How a person reads it: `PASS on api (real model), report ...`."""
        source = "real model" if self.real_model else "Bedrock simulator" if self.simulated else self.target
        source += ", a sample of the eval set" if self.sample else ""
        return (
            f"{'PASS' if self.passed else 'FAIL'} on {self.target} ({source}) at {self.created}, report {self.report}"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalEvidence:
        # a record written before a field with a default existed reads with the default
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})
