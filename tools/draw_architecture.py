"""Draw docs/img/architecture.svg: one use-case stack, its constructs and how a request flows through them.

The picture is diagram-as-code: NODES names, for each box, the construct module in stacks/constructs/ it
stands for (or None for what lives outside the stack), and tests/infra/test_architecture_picture.py checks
that every construct the stack is built from has a box, that every box's construct exists, and that the
committed SVG is what this script draws. Run it after adding a construct:

    .venv/bin/python tools/draw_architecture.py
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from html import escape
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "docs" / "img" / "architecture.svg"

CELL_W, CELL_H = 250, 118
BOX_W, BOX_H = 184, 70
MARGIN_X, MARGIN_Y = 24, 64


@dataclass(frozen=True)
class Node:
    key: str
    title: str
    detail: str
    col: float
    row: float
    construct: str | None  # module of stacks/constructs/, None for what is outside the stack
    kind: str = "aws"  # aws | data | watch | outside


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""
    dashed: bool = False
    at: float = 0.5  # where along the arrow its label sits (0: at the source, 1: at the target)


# Laid out so that no two solid arrows cross: the feedback function's arrows (verify, rating) stay left of
# the invoke function's, and the golden canary sits beside what it calls (the profiles) and rolls back (prompts).
NODES = [
    # a use case with `knowledge:` (the row above the request path)
    Node("ingestion", "Ingestion on deploy", "a job when documents change", 1, 0, "knowledge_ingestion"),
    Node("kb", "Bedrock knowledge base", "S3 data source, embeddings", 2, 0, "knowledge_base"),
    Node("vectors", "S3 Vectors index", "cosine; vector bucket", 3, 0, "vector_store", "data"),
    Node("waf", "AWS WAF web ACL", "managed rules, rate limit (prod)", 1, 1.2, "web_acl"),
    Node("guardrail", "Bedrock Guardrail", "filters, topics, PII", 3, 1.2, "model_guardrail"),
    Node("boundary", "Permissions boundary", "on every role of the stack", 4, 1.2, "permissions_boundary"),
    Node("client", "Client", "API key, IAM or Cognito", 0, 2.2, None, "outside"),
    Node("api", "API Gateway (REST)", "usage plan, body schemas, logs", 1, 2.2, "api_front_door"),
    Node("invoke", "Lambda: invoke", "Powertools; the tested package", 2, 2.2, "invoke_function"),
    Node("profiles", "Application inference", "profiles (tagged, per model)", 3, 2.2, "model_profiles"),
    Node("bedrock", "Amazon Bedrock", "Converse", 4, 2.2, None, "outside"),
    Node("key", "Feedback key", "Secrets Manager: signs tokens", 0, 3.4, "feedback_key"),
    Node("feedback", "Lambda: feedback", "POST /v1/feedback", 1, 3.4, "feedback_function"),
    Node("spend", "Spend table", "today's spend: the hard cap", 2, 3.4, "spend_table", "data"),
    Node("idempotency", "Idempotency table", "replayed answers", 3, 3.4, "idempotency_table", "data"),
    Node("golden", "Golden canary", "golden cases on a schedule", 4, 3.4, "golden_canary", "watch"),
    Node("capture", "Capture table", "ratings; captures (opt-in)", 1, 4.6, "capture_table", "data"),
    Node("sync", "PromptSync", "deploy: prompts/ -> table", 2, 4.6, "prompt_sync"),
    Node("prompts", "Prompts table", "versions, aliases, canary", 3, 4.6, "prompts_table", "data"),
    Node("monitoring", "Dashboard + alarms", "on the functions' metrics", 4, 4.6, "monitoring", "watch"),
    Node("budget", "AWS Budgets", "monthly, on the use-case tag", 3, 5.8, "monthly_budget", "watch"),
    Node("topic", "SNS alarm topic", "KMS, TLS only -> email", 4, 5.8, "alarm_topic", "watch"),
    Node("documents", "Documents bucket", "deploy: knowledge/<use case>/", 0, 1.2, "knowledge_documents", "data"),
]

EDGES = [
    Edge("client", "api", "HTTPS"),
    Edge("waf", "api", "filters"),
    Edge("api", "invoke", "invoke"),
    Edge("api", "feedback", "feedback"),
    Edge("invoke", "profiles", "Converse"),
    Edge("profiles", "bedrock"),
    Edge("invoke", "guardrail", "guardrailConfig"),
    Edge("invoke", "spend", "cap"),
    Edge("invoke", "idempotency", "Idempotency-Key", at=0.62),
    Edge("invoke", "prompts", "resolve (cached)", at=0.72),
    Edge("invoke", "capture", "capture", at=0.72),
    Edge("invoke", "key", "sign", dashed=True, at=0.3),
    Edge("feedback", "key", "verify", dashed=True),
    Edge("feedback", "capture", "rating"),
    Edge("sync", "prompts", "publish"),
    Edge("golden", "profiles", "Converse"),
    Edge("golden", "prompts", "rollback", at=0.6),
    Edge("monitoring", "golden", "canary alarm"),
    Edge("monitoring", "topic", "alarms"),
    Edge("budget", "topic", "80/100 %"),
    Edge("invoke", "kb", "Retrieve", at=0.3),
    Edge("documents", "ingestion", "deployed first"),
    Edge("ingestion", "kb", "start job"),
    Edge("kb", "vectors", "embeddings"),
]

FILL = {"aws": "#eef2ff", "data": "#ecfdf5", "watch": "#fff7ed", "outside": "#f3f4f6"}
STROKE = {"aws": "#4f46e5", "data": "#059669", "watch": "#ea580c", "outside": "#6b7280"}


def _box(node: Node) -> tuple[float, float, float, float]:
    x = MARGIN_X + node.col * CELL_W + (CELL_W - BOX_W) / 2
    y = MARGIN_Y + node.row * CELL_H + (CELL_H - BOX_H) / 2
    return x, y, BOX_W, BOX_H


def _center(node: Node) -> tuple[float, float]:
    x, y, w, h = _box(node)
    return x + w / 2, y + h / 2


def _border_point(node: Node, toward: tuple[float, float]) -> tuple[float, float]:
    """Where the line from the box's centre toward `toward` leaves the box."""
    cx, cy = _center(node)
    dx, dy = toward[0] - cx, toward[1] - cy
    half_w, half_h = BOX_W / 2 + 3, BOX_H / 2 + 3
    scale = min(half_w / abs(dx) if dx else float("inf"), half_h / abs(dy) if dy else float("inf"))
    return cx + dx * scale, cy + dy * scale


def draw() -> str:
    nodes = {node.key: node for node in NODES}
    cols = max(node.col for node in NODES) + 1
    rows = max(node.row for node in NODES) + 1
    width = int(2 * MARGIN_X + cols * CELL_W)
    height = int(MARGIN_Y + rows * CELL_H + 24)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif">',
        "<title>Liftoff: one CloudFormation stack per use case and stage</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#374151"/></marker></defs>',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{MARGIN_X}" y="26" font-size="17" font-weight="bold" fill="#111827">'
        "Liftoff: one stack per use case and stage (Liftoff-&lt;use-case&gt;-&lt;stage&gt;)</text>",
        f'<text x="{MARGIN_X}" y="46" font-size="12" fill="#4b5563">'
        "coloured: in the stack (blue compute and edge, green data, orange watching); grey: outside it. "
        "Dashed arrow: reads a key.</text>",
    ]
    labels = []
    for edge in EDGES:
        source, target = nodes[edge.source], nodes[edge.target]
        x1, y1 = _border_point(source, _center(target))
        x2, y2 = _border_point(target, _center(source))
        dash = ' stroke-dasharray="5 4"' if edge.dashed else ""
        parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#374151" '
            f'stroke-width="1.6"{dash} marker-end="url(#arrow)"/>'
        )
        if edge.label:
            mx, my = x1 + (x2 - x1) * edge.at, y1 + (y2 - y1) * edge.at
            label_w = 6.2 * len(edge.label) + 8
            labels += [
                f'<rect x="{mx - label_w / 2:.1f}" y="{my - 9:.1f}" width="{label_w:.1f}" height="16" rx="3" '
                'fill="#ffffff" fill-opacity="0.92"/>',
                f'<text x="{mx:.1f}" y="{my + 3:.1f}" font-size="11" fill="#374151" '
                f'text-anchor="middle">{escape(edge.label)}</text>',
            ]
    for node in NODES:
        x, y, w, h = _box(node)
        parts += [
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{w}" height="{h}" rx="9" fill="{FILL[node.kind]}" '
            f'stroke="{STROKE[node.kind]}" stroke-width="1.8"/>',
            f'<text x="{x + w / 2:.1f}" y="{y + 29:.1f}" font-size="14" font-weight="bold" fill="#111827" '
            f'text-anchor="middle">{escape(node.title)}</text>',
            f'<text x="{x + w / 2:.1f}" y="{y + 49:.1f}" font-size="11" fill="#374151" '
            f'text-anchor="middle">{escape(node.detail)}</text>',
        ]
    parts += labels
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main() -> int:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(draw(), encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
