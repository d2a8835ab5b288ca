"""A local stand-in for bedrock-runtime's Converse, over HTTP, so the real boto3 client is used
unchanged (point it here with AWS_ENDPOINT_URL_BEDROCK_RUNTIME).

THE SIMULATOR SAYS NOTHING ABOUT MODEL QUALITY. Its answers come from a keyword rule so the
pipeline (parsing, usage, cost, errors) runs end to end; accuracy measured against it is a test
of the plumbing, not of any model.

Deterministic per input. Faults are injected by a marker in the user text:
  [[sim:throttle]]  -> 429 ThrottlingException      [[sim:error]] -> 500 InternalServerException
  [[sim:timeout]]   -> answers after LIFTOFF_SIM_TIMEOUT_S (longer than the client waits)
  [[sim:model-timeout]] -> 408 ModelTimeoutException
  [[sim:throttle-N]] -> the first N calls with this exact text throttle, later ones answer
                        (a burst that retries outlast)
  [[sim:down=TEXT]]  -> 500 for models whose id contains TEXT; others answer (fallback tests)
  [[sim:too-long]]   -> 400 ValidationException (input too long)   [[sim:no-access]] -> 403 AccessDeniedException
  [[sim:not-found]]  -> 404 ResourceNotFoundException
  [[sim:content-filtered]] -> stopReason content_filtered with no output
  [[sim:invalid-output]] -> the first answer does not match the prompt's schema; a repair turn gets a valid one
Structured output as Converse does it: outputConfig.textFormat -> the JSON answer as text; a forced tool
(toolChoice.tool) -> stopReason tool_use and a toolUse block (toolUseId, name, input).
An application inference profile ARN as the model id resolves to its model (SimulatorConfig.profiles);
an unknown one is a 404, as in Bedrock. With a guardrail and trace enabled, the trace carries the
guardrail's usage in text units, as Converse's does.

Retrieval prompts (the user text holds `[P1] (source: ...)` passages) get an extractive answer citing
passage ids, and guardContent `grounding_source`/`query` blocks a local contextual grounding check (not
of a forced tool's answer, which Converse's guardrail does not evaluate at all, its output filters included:
ApplyGuardrail, answered here with the same local rules, checks it)
(liftoff/local/retrieval_answers.py; `[[sim:ungrounded]]` makes an ungrounded answer). The same server
answers bedrock-agent-runtime's Retrieve for the knowledge bases it is given (point the client here
with AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME): liftoff/local/knowledge_base.py, a LEXICAL stand-in.
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass
from urllib.parse import unquote

from liftoff.local.http import LocalHTTPServer, LocalRequestHandler
from liftoff.local.knowledge_base import RETRIEVE_PATH, LocalKnowledgeBase, retrieve_reply
from liftoff.local.retrieval_answers import has_passages, retrieval_answer

CONVERSE_PATH = re.compile(r"^/model/(?P<model>[^/]+)/converse$")
APPLY_GUARDRAIL_PATH = re.compile(r"^/guardrail/(?P<id>[^/]+)/version/(?P<version>[^/]+)/apply$")
KB_ADMIN = re.compile(r"^/_kb/(?P<kb>[0-9A-Za-z]+)/(?P<action>status|sync)$")  # liftoff kb status|sync --local
FAULT_MARKER = re.compile(r"\[\[sim:(throttle|error|timeout|model-timeout|too-long|no-access|not-found)\]\]")
THROTTLE_N = re.compile(r"\[\[sim:throttle-(\d+)\]\]")
INVALID_OUTPUT = "[[sim:invalid-output]]"
MODEL_DOWN = re.compile(r"\[\[sim:down=([\w.:-]+)\]\]")
ERRORS = {
    "throttle": (429, "ThrottlingException", "Too many requests, please wait before trying again."),
    "error": (500, "InternalServerException", "The simulator was told to fail."),
    "model-timeout": (408, "ModelTimeoutException", "Model has timed out in processing the request."),
    # client errors: the request is wrong for this model or account; another model will not fix them
    "too-long": (400, "ValidationException", "Input is too long for requested model."),
    "no-access": (403, "AccessDeniedException", "You don't have access to the model with the specified model ID."),
    "not-found": (404, "ResourceNotFoundException", "The provided model identifier is invalid."),
}
CATEGORY_KEYWORDS = {
    "billing": ("refund", "charge", "charged", "invoice", "payment", "billing", "price", "subscription"),
    "shipping": ("delivery", "shipping", "shipped", "package", "parcel", "tracking", "courier", "arrived"),
    "account": ("password", "login", "log in", "account", "sign in", "2fa", "email address", "locked"),
    "technical": ("error", "crash", "bug", "app", "website", "not working", "broken", "loading", "500"),
}
HIGH_PRIORITY = ("urgent", "immediately", "asap", "twice", "fraud", "stolen", "cannot", "can't", "lawyer")
LOW_PRIORITY = ("question", "wondering", "curious", "feedback", "suggestion", "how do i")


def estimate_tokens(text: str) -> int:
    """About four characters a token: realistic enough for usage and cost arithmetic."""
    return max(1, math.ceil(len(text) / 4))


def triage_answer(message: str) -> str:
    lowered = message.lower()
    scores = {cat: sum(lowered.count(k) for k in keys) for cat, keys in CATEGORY_KEYWORDS.items()}
    category = max(scores, key=lambda c: scores[c]) if any(scores.values()) else "other"
    if any(k in lowered for k in HIGH_PRIORITY):
        priority = "high"
    elif any(k in lowered for k in LOW_PRIORITY):
        priority = "low"
    else:
        priority = "medium"
    words = re.sub(r"\s+", " ", message).strip().split(" ")
    summary = " ".join(words[:12]) + ("..." if len(words) > 12 else "")
    return json.dumps({"category": category, "priority": priority, "summary": f"Customer writes: {summary}"})


def judge_answer(user_text: str) -> str:
    """A grader's reply (eval LLM-as-judge): 4 for an answer that is JSON, 2 otherwise."""
    found = re.search(r"<answer>\s*(.*?)\s*</answer>", user_text, re.S)
    try:
        json.loads(found.group(1) if found else "")
    except ValueError:
        return json.dumps({"score": 2, "reason": "simulated judge: the answer is not JSON"})
    return json.dumps({"score": 4, "reason": "simulated judge: the answer is JSON"})


def summary_answer(user_text: str) -> str:
    """An extractive 'summary': the document's first sentences up to the word limit, and its first
    sentences as key points (no model, no understanding: enough to exercise the pipeline)."""
    found = re.search(r"<document>\s*(.*?)\s*</document>", user_text, re.S)
    document = re.sub(r"\s+", " ", found.group(1) if found else user_text).strip()
    limit = re.search(r"at most (\d+) words", user_text)
    max_words = int(limit.group(1)) if limit else 60
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", document) if s.strip()]
    words: list[str] = []
    for sentence in sentences:
        if len(words) + len(sentence.split()) > max_words:
            break
        words += sentence.split()
    summary = " ".join(words or document.split()[:max_words])
    points = [" ".join(s.split()[:16]) for s in sentences[:3]]
    return json.dumps({"summary": summary, "key_points": points})


def context_answer(user_text: str) -> str:
    """Answer from a <context>: the context sentence sharing the most words with the question, or
    "The context does not say." when none shares two (a keyword rule, not understanding)."""
    question = re.search(r"Question:\s*(.*)", user_text)
    found = re.search(r"<context>\s*(.*?)\s*</context>", user_text, re.S)
    words = {w for w in re.findall(r"[a-z0-9]+", (question.group(1) if question else "").lower()) if len(w) > 3}
    best, overlap = "", 0
    for sentence in re.split(r"(?<=[.!?])\s+", found.group(1) if found else ""):
        shared = len(words & set(re.findall(r"[a-z0-9]+", sentence.lower())))
        if shared > overlap:
            best, overlap = sentence.strip(), shared
    return best if overlap >= 2 else "The context does not say."


def answer_for(system: str, user_text: str, query: str | None = None) -> str:
    """The simulator's reply: a grade when asked to grade, a summary when asked to summarise, a cited
    answer from numbered passages, a triage JSON when asked to triage, else a short echo. `query` is the
    request's guardContent query block, if any."""
    if '"score"' in system and "rubric" in system.lower():
        return judge_answer(user_text)
    if '"summary"' in system and '"key_points"' in system:
        return summary_answer(user_text)
    if has_passages(user_text):
        return retrieval_answer(system, user_text, query)
    if "<context>" in user_text:
        return context_answer(user_text)
    if '"category"' in system or "triage" in system.lower():
        found = re.search(r"<message>\s*(.*?)\s*</message>", user_text, re.S)
        return triage_answer(found.group(1) if found else user_text)
    snippet = re.sub(r"\s+", " ", user_text).strip()[:160]
    return f"[simulated answer] {snippet}"


class SimulatorConfig:
    def __init__(
        self,
        latency_ms: float = 0.0,
        timeout_s: float = 3.0,
        guardrail=None,
        latency_sigma: float = 0.0,
        profiles: dict[str, str] | None = None,
        *,
        knowledge_bases: list[LocalKnowledgeBase] | None = None,
    ):
        # bedrock-agent-runtime's Retrieve, for these knowledge bases (by id)
        self.knowledge_bases = {kb.knowledge_base_id: kb for kb in knowledge_bases or ()}
        self.retrievals = 0  # Retrieve calls (`calls` counts model calls only)
        # application inference profile ARN -> the model it routes to (Bedrock resolves these ARNs)
        self.profiles = dict(profiles or {})
        self.latency_ms = latency_ms
        self.latency_sigma = latency_sigma  # > 0: log-normal latency around latency_ms, like a real model
        self.timeout_s = timeout_s
        self.guardrail = guardrail  # liftoff.local.guardrail_rules.GuardrailRules, applied on guardrailConfig
        self.calls = 0
        self.guardrail_checks = 0  # ApplyGuardrail calls (not counted in `calls`)
        self._lock = threading.Lock()
        self._throttled: dict[str, int] = {}

    def count(self) -> None:
        with self._lock:
            self.calls += 1

    def count_check(self) -> None:
        with self._lock:
            self.guardrail_checks += 1

    def count_retrieval(self) -> None:
        with self._lock:
            self.retrievals += 1

    def throttle_now(self, text: str, times: int) -> bool:
        """True for the first `times` calls with this text."""
        with self._lock:
            seen = self._throttled.get(text, 0)
            self._throttled[text] = seen + 1
            return seen < times


Reply = tuple[int, dict, str | None]  # HTTP status, JSON body, x-amzn-ErrorType


def _error(kind: str) -> Reply:
    status, error_type, message = ERRORS[kind]
    return status, {"message": message}, error_type


def fault_reply(config: SimulatorConfig, model: str, user_text: str) -> Reply | None:
    """The error a fault marker asks for (None: answer normally). `[[sim:timeout]]` sleeps, then answers."""
    down = MODEL_DOWN.search(user_text)
    if down and down.group(1) in model:
        return 500, {"message": f"{model} is down (simulated)"}, "InternalServerException"
    burst = THROTTLE_N.search(user_text)
    if burst and config.throttle_now(user_text, int(burst.group(1))):
        return _error("throttle")
    fault = FAULT_MARKER.search(user_text)
    if fault and fault.group(1) == "timeout":
        time.sleep(config.timeout_s)
    elif fault and fault.group(1) in ERRORS:
        return _error(fault.group(1))
    return None


def guardrail_usage(rules, text: str) -> dict:
    """GuardrailUsage as Converse's trace reports it: text units (1,000 characters each, rounded up)
    for every policy the guardrail has."""
    units = max(1, math.ceil(len(text) / 1000))
    return {
        "topicPolicyUnits": units if rules.denied_topics else 0,
        "contentPolicyUnits": units if rules.content_filters else 0,
        "wordPolicyUnits": units if rules.blocked_words or rules.managed_words else 0,
        "sensitiveInformationPolicyUnits": units if rules.pii_entities else 0,
        "sensitiveInformationPolicyFreeUnits": units if rules.regexes else 0,
        "contextualGroundingPolicyUnits": 0,
    }


GUARDRAIL_USAGE_MEMBERS = (
    "topicPolicyUnits",
    "contentPolicyUnits",
    "wordPolicyUnits",
    "sensitiveInformationPolicyUnits",
    "sensitiveInformationPolicyFreeUnits",
    "contextualGroundingPolicyUnits",
)


def converse_reply(config: SimulatorConfig, model: str, request: dict) -> Reply:
    """What Converse answers to `request` for `model` (faults, guardrail, truncation included)."""
    started = time.perf_counter()
    try:
        messages = request["messages"]
        # the question is the first user turn; later turns are a conversation about the answer (a repair)
        turn = read_user_turn(messages[0].get("content", []))
        user_text = turn.text
        system = "".join(b.get("text", "") for b in request.get("system", []))
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        return 400, {"message": f"malformed Converse request: {exc}"}, "ValidationException"
    failed = fault_reply(config, model, user_text)
    if failed:
        return failed
    if config.latency_ms:
        spread = random.lognormvariate(0, config.latency_sigma) if config.latency_sigma else 1.0
        time.sleep(config.latency_ms * spread / 1000)
    max_tokens = int(request.get("inferenceConfig", {}).get("maxTokens", 512))
    in_tokens = estimate_tokens(system) + estimate_tokens(user_text)
    guardrail_config = request.get("guardrailConfig")
    guard = config.guardrail if guardrail_config else None
    trace: dict = {}
    verdict = guard.check_input(turn.guarded_input) if guard else None
    if guard:
        usage = guardrail_usage(guard, turn.guarded_input)
        assessment = {**verdict.assessment, "invocationMetrics": {"usage": usage}}
        trace["inputAssessment"] = {guardrail_config["guardrailIdentifier"]: assessment}
    if verdict and verdict.action == "BLOCKED":
        text, out_tokens, stop = verdict.text, 0, "guardrail_intervened"
    elif "[[sim:content-filtered]]" in user_text:
        text, out_tokens, stop = "", 0, "content_filtered"  # the model's own filter: no answer, input billed
    else:
        text = answer_for(system, user_text, turn.query or None)
        if INVALID_OUTPUT in user_text and len(messages) == 1:  # the first answer breaks the schema; a repair fixes it
            text = json.dumps({"answer": "not what the schema asks for"})
        out_tokens = estimate_tokens(text)
        stop = "end_turn"
        if out_tokens > max_tokens:
            text, out_tokens, stop = text[: max_tokens * 4], max_tokens, "max_tokens"
        if guard and not (_forced_tool(request) is not None and stop == "end_turn"):
            # Converse's guardrail does not evaluate a forced tool's input at all (Bedrock user guide, "Include a
            # guardrail with the Converse API": no output filter, no grounding check); the service checks such an
            # answer with ApplyGuardrail, which apply_guardrail_reply answers
            verdict, assessment = check_output(guard, text, turn)
            trace["outputAssessments"] = {guardrail_config["guardrailIdentifier"]: [assessment]}
            if verdict.action != "NONE":
                text, stop = verdict.text, "guardrail_intervened"
    traced = guardrail_config and guardrail_config.get("trace") == "enabled"
    content, stop = _as_forced_tool(request, text, stop)
    return (
        200,
        {
            **({"trace": {"guardrail": trace}} if traced and trace else {}),
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop,
            "usage": {"inputTokens": in_tokens, "outputTokens": out_tokens, "totalTokens": in_tokens + out_tokens},
            "metrics": {"latencyMs": round((time.perf_counter() - started) * 1000)},
            "additionalModelResponseFields": {"simulator": True, "modelId": model},
        },
        None,
    )


@dataclass(frozen=True)
class UserTurn:
    text: str  # what the model reads: the text blocks, then the guardContent blocks' text
    guarded_input: str  # what the guardrail's input filters read
    sources: tuple[str, ...] = ()  # guardContent `grounding_source` blocks
    query: str = ""  # guardContent `query` blocks


def read_user_turn(content: list[dict]) -> UserTurn:
    """A user message's content. With guardContent blocks, the input filters read only those, and not the
    grounding sources (no qualifier means guard_content)."""
    plain = "".join(b.get("text", "") for b in content)
    guarded = []
    for block in content:
        text = block.get("guardContent", {}).get("text")
        if isinstance(text, dict):
            guarded.append((str(text.get("text", "")), set(text.get("qualifiers") or ["guard_content"])))
    if not guarded:
        return UserTurn(plain, plain)
    return UserTurn(
        text="\n".join(part for part in (plain, *(t for t, _ in guarded)) if part),
        guarded_input="\n".join(t for t, q in guarded if q - {"grounding_source"}),
        sources=tuple(t for t, q in guarded if "grounding_source" in q),
        query="\n".join(t for t, q in guarded if "query" in q),
    )


def check_output(guard, text: str, turn: UserTurn):
    """The guardrail on the answer: its output filters, then (with grounding sources and a grounding filter)
    the contextual grounding check; the verdict and the output assessment, with its text units."""
    verdict = guard.check_output(text)
    usage = guardrail_usage(guard, text)
    assessment = dict(verdict.assessment)
    if verdict.action != "BLOCKED" and turn.sources and guard.grounding:
        grounded = guard.check_grounding(verdict.text, list(turn.sources), turn.query)
        assessment.update(grounded.assessment)
        # text units of the grounding sources, the query and the answer (1,000 characters each)
        usage["contextualGroundingPolicyUnits"] = math.ceil(len("".join(turn.sources) + turn.query + text) / 1000)
        if grounded.action == "BLOCKED":
            verdict = grounded
    return verdict, {**assessment, "invocationMetrics": {"usage": usage}}


def _forced_tool(request: dict) -> str | None:
    return request.get("toolConfig", {}).get("toolChoice", {}).get("tool", {}).get("name")


def apply_guardrail_reply(config: SimulatorConfig, guardrail_id: str, body: dict) -> Reply:
    """What ApplyGuardrail answers: the local guardrail on `content` (its guard_content text; with
    grounding_source and query blocks, the contextual grounding check too, for source OUTPUT)."""
    guard = config.guardrail
    source, content = body.get("source"), body.get("content")
    if source not in ("INPUT", "OUTPUT") or not isinstance(content, list) or not content:
        return 400, {"message": "source must be INPUT or OUTPUT and content a list of blocks"}, "ValidationException"
    config.count_check()
    if guard is None:  # a guardrail without local rules (as Converse's guardrailConfig without them): nothing applies
        usage = dict.fromkeys(GUARDRAIL_USAGE_MEMBERS, 0)
        return 200, {"usage": usage, "action": "NONE", "outputs": [], "assessments": []}, None
    blocks = [
        (str(b["text"].get("text", "")), set(b["text"].get("qualifiers") or ["guard_content"]))
        for b in content
        if isinstance(b, dict) and isinstance(b.get("text"), dict)
    ]
    guarded = "\n".join(t for t, q in blocks if "guard_content" in q)
    turn = UserTurn(
        text=guarded,
        guarded_input=guarded,
        sources=tuple(t for t, q in blocks if "grounding_source" in q),
        query="\n".join(t for t, q in blocks if "query" in q),
    )
    if source == "INPUT":
        verdict = guard.check_input(guarded)
        assessment = {**verdict.assessment, "invocationMetrics": {"usage": guardrail_usage(guard, guarded)}}
    else:
        verdict, assessment = check_output(guard, guarded, turn)
    intervened = verdict.action != "NONE"
    return (
        200,
        {
            "usage": assessment["invocationMetrics"]["usage"],
            "action": "GUARDRAIL_INTERVENED" if intervened else "NONE",
            "outputs": [{"text": verdict.text}] if intervened else [],
            "assessments": [assessment],
        },
        None,
    )


def _as_forced_tool(request: dict, text: str, stop: str) -> tuple[list[dict], str]:
    """Converse's answer when a tool is forced (toolChoice.tool): a toolUse block with the answer as
    its input, stopReason tool_use. Otherwise the text, as is (outputConfig's JSON answer is text)."""
    forced = _forced_tool(request)
    if not forced or stop != "end_turn":
        return [{"text": text}], stop
    try:
        value = json.loads(text)
    except ValueError:
        value = {"answer": text}
    if not isinstance(value, dict):
        value = {"value": value}
    tool_use = {"toolUseId": f"tooluse_{uuid.uuid4().hex[:22]}", "name": forced, "input": value}
    return [{"toolUse": tool_use}], "tool_use"


def _make_handler(config: SimulatorConfig):
    class Handler(LocalRequestHandler):
        def _send(self, status: int, body: dict, error_type: str | None = None) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("x-amzn-RequestId", f"sim-{config.calls}")
            if error_type:
                self.send_header("x-amzn-ErrorType", error_type)
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            index = KB_ADMIN.match(self.path)
            if self.path == "/_sim/health":
                health = {
                    "calls": config.calls,
                    "retrievals": config.retrievals,
                    "guardrail_checks": config.guardrail_checks,
                }
                self._send(200, {"ok": True, **health})
            elif index and index["action"] == "status" and index["kb"] in config.knowledge_bases:
                self._send(200, config.knowledge_bases[index["kb"]].status().as_dict())
            else:
                self._send(404, {"message": "not found"}, "ResourceNotFoundException")

        def _retrieve(self, kb_id: str, raw: bytes) -> None:
            config.count_retrieval()
            try:
                body = json.loads(raw or b"{}")
            except ValueError as exc:
                self._send(400, {"message": f"malformed Retrieve request: {exc}"}, "ValidationException")
                return
            self._send(*retrieve_reply(config.knowledge_bases, unquote(kb_id), body))

        def _json(self, raw: bytes, operation: str) -> dict | None:
            """The request's JSON body, or None after answering 400 ValidationException."""
            try:
                return json.loads(raw or b"{}")
            except ValueError as exc:
                self._send(400, {"message": f"malformed {operation} request: {exc}"}, "ValidationException")
                return None

        def _serve_other(self, raw: bytes) -> bool:
            """Retrieve, ApplyGuardrail (a guardrail check, not a model call: not counted in `calls`) and the
            knowledge base's sync; False for anything else."""
            retrieve, index = RETRIEVE_PATH.match(self.path), KB_ADMIN.match(self.path)
            applied = APPLY_GUARDRAIL_PATH.match(self.path)
            sync = bool(index and index["action"] == "sync" and index["kb"] in config.knowledge_bases)
            if retrieve:
                self._retrieve(retrieve["kb"], raw)
            elif sync:
                self._send(200, config.knowledge_bases[index["kb"]].rebuild().as_dict())
            elif applied:
                body = self._json(raw, "ApplyGuardrail")
                if body is not None:
                    self._send(*apply_guardrail_reply(config, unquote(applied["id"]), body))
            return bool(retrieve or sync or applied)

        def do_POST(self):
            match = CONVERSE_PATH.match(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self._serve_other(raw):
                return
            if not match:
                self._send(404, {"message": f"no such operation {self.path}"}, "UnknownOperationException")
                return
            config.count()
            model = unquote(match["model"])
            if ":application-inference-profile/" in model:
                if model not in config.profiles:
                    message = f"The application inference profile {model} was not found."
                    self._send(404, {"message": message}, "ResourceNotFoundException")
                    return
                model = config.profiles[model]
            request = self._json(raw, "Converse")
            if request is not None:
                self._send(*converse_reply(config, model, request))

    return Handler


def start_simulator(port: int = 0, config: SimulatorConfig | None = None) -> tuple[LocalHTTPServer, str]:
    """Start on 127.0.0.1 in a daemon thread; returns the server and its base URL."""
    server = LocalHTTPServer(("127.0.0.1", port), _make_handler(config or SimulatorConfig()))
    threading.Thread(target=server.serve_forever, name="bedrock-simulator", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
