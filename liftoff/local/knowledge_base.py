"""Local mode's stand-in for a Bedrock knowledge base: it answers bedrock-agent-runtime's `Retrieve`
(the real request and response shape, checked against botocore's service model in the tests) over the
use case's documents folder (`knowledge.documents_path`), chunked with the use case's chunking settings.

LEXICAL, NOT SEMANTIC. Passages are ranked with BM25 (the `bm25s` library, Lucene's variant, k1 1.5,
b 0.75) over stemmed words, not by embedding similarity: a question that shares no word with a passage
does not find it, however close in meaning ("PTO" does not find "annual leave"). Recall measured here
says how well the documents and questions share words, not what Titan embeddings and S3 Vectors retrieve.

How it approximates the service (documented, not hidden):
- Tokens are counted as words: one token = 0.75 words (the usual rule of thumb for English, ~1.3
  tokens a word), so a 300-token chunk holds 225 words.
- fixed_size: windows of `max_tokens` with `overlap_percentage` repeated in the next window.
- semantic: an APPROXIMATION. No sentence embeddings: paragraphs are packed into chunks of up to
  `max_tokens`, and a Markdown heading starts a new chunk (where a topic usually changes);
  `buffer_size` and `breakpoint_percentile_threshold` are not used.
- hierarchical: child windows of `child_max_tokens` inside parent windows of `parent_max_tokens`, both
  overlapping by `overlap_tokens`; children are searched and their parent's text is returned, once per
  parent (so fewer than `numberOfResults` may come back, as from Bedrock).
- Scores are normalised to 0..1 (the `min_score` of the use case and prompts applies to them): each
  distinct word w of the query counts its BM25 part, capped at what one occurrence in a chunk of average
  length gives, over the same for a chunk holding every query word once:
      score = sum_w min(bm25_w(chunk), idf(w) / (1 + k1)) / sum_w idf(w) / (1 + k1)
      idf(w) = ln(1 + (N - df(w) + 0.5) / (df(w) + 0.5)) over the N chunks (a word in no chunk: df 0)
  So 1.0 = every word of the question found (once, at average length, is enough), 0.5 = about half of the
  question's information found (rare words weigh more than common ones), and a word repeated cannot make
  up for one that is missing ("canteen" five times does not answer a question about the Lyon canteen).
  Chunks are ranked by that score, then by their full BM25 score. A chunk that shares no word with the
  query is not returned (a vector search would return it with a low score; min_score drops it either way).
- `[[sim:...]]` fault markers in the query are not words: they are removed before ranking.
  `[[sim:kb-throttle]]` makes Retrieve answer 429 ThrottlingException, `[[sim:kb-denied]]` 403
  AccessDeniedException (the request path's error mapping, end to end).
- Sources are `s3://liftoff-local-<use case>/<path relative to the documents folder>`; the metadata
  carries `x-amz-bedrock-kb-source-uri`, `x-amz-bedrock-kb-chunk-id`, `x-amz-bedrock-kb-data-source-id`
  and the document's `<file>.metadata.json` `metadataAttributes`, as the service returns them.
- Filters (`vectorSearchConfiguration.filter`), reranking and pagination are not simulated: a request
  with a filter is refused with a ValidationException that says so.

The index is built once per process and rebuilt when a file of the folder changes (checked at each
call), or on `rebuild()` (what `liftoff kb sync --local` calls through `sync()`).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import bm25s
import numpy as np
import snowballstemmer

from liftoff.foundation.config import ChunkingConfig

LABEL = "lexical (BM25), not semantic"
K1, B = 1.5, 0.75
WORDS_PER_TOKEN = 0.75
DEFAULT_RESULTS = 5  # Retrieve's numberOfResults when the request leaves it out
DOCUMENT_SUFFIXES = (".md", ".markdown", ".txt", ".csv", ".html", ".htm")
SIDECAR_SUFFIX = ".metadata.json"
KNOWLEDGE_BASE_ID = re.compile(
    r"^[0-9a-zA-Z]{10}$|^arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:knowledge-base/(?P<id>[0-9a-zA-Z]{10})$"
)
SIM_MARKER = re.compile(r"\[\[sim:[^\]]*\]\]")
KB_FAULTS = {
    "[[sim:kb-throttle]]": (429, "ThrottlingException", "Rate exceeded (simulated)."),
    "[[sim:kb-denied]]": (403, "AccessDeniedException", "Access denied to the knowledge base (simulated)."),
}
# Lucene's English stop words (bm25s.stopwords.STOPWORDS_EN) and the function words of a question: a question's
# "what", "how many" or "can I" are not what it is about, and would count as unmatched words
QUESTION_WORDS = (
    "about after all also am any before can could did do does doing from had has have he her here his how i "
    "its me might more most much must my our she should so some than them there what when where which who "
    "whom whose why would you your we us many"
)
STOPWORDS = frozenset(bm25s.stopwords.STOPWORDS_EN) | frozenset(QUESTION_WORDS.split(" "))
_WORD = re.compile(r"[a-z0-9]+")
_stemmer = snowballstemmer.stemmer("english")
_stem_lock = threading.Lock()  # a snowballstemmer stemmer keeps state between calls


def words(text: str) -> list[str]:
    """The searchable words of `text`: lower-cased, stop words dropped, Snowball (Porter2) stems."""
    found = [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]
    with _stem_lock:
        return _stemmer.stemWords(found)


def local_knowledge_base_id(use_case: str) -> str:
    """The id local mode gives the use case's knowledge base: 10 letters and digits, like Bedrock's."""
    return "LKB" + hashlib.sha256(use_case.encode()).hexdigest()[:7].upper()


def local_data_source_id(use_case: str) -> str:
    return "LDS" + hashlib.sha256(f"{use_case}#data-source".encode()).hexdigest()[:7].upper()


def local_bucket(use_case: str) -> str:
    return f"liftoff-local-{use_case}"


# ---------------------------------------------------------------------------------------------- chunking


def _spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in re.finditer(r"\S+", text)]


def _windows(text: str, size_tokens: int, overlap_words: int) -> list[str]:
    """Windows of `size_tokens` (as words) over `text`, each repeating `overlap_words` of the one before;
    the text between the first and the last word is kept as written (line breaks, tables)."""
    spans = _spans(text)
    size = max(1, math.floor(size_tokens * WORDS_PER_TOKEN))
    step = max(1, size - min(overlap_words, size - 1))
    out = []
    for start in range(0, len(spans), step):
        window = spans[start : start + size]
        out.append(text[window[0][0] : window[-1][1]])
        if start + size >= len(spans):
            break
    return out


def _semantic(text: str, max_tokens: int) -> list[str]:
    """Paragraphs packed up to `max_tokens`; a heading starts a new chunk (an approximation: see the module)."""
    limit = max(1, math.floor(max_tokens * WORDS_PER_TOKEN))
    chunks: list[str] = []
    current: list[str] = []
    count = 0
    for paragraph in (p.strip() for p in re.split(r"\n\s*\n", text)):
        if not paragraph:
            continue
        n = len(paragraph.split())
        if current and (paragraph.startswith("#") or count + n > limit):
            chunks.append("\n\n".join(current))
            current, count = [], 0
        if n > limit:  # one paragraph longer than a chunk: cut it in windows
            chunks += _windows(paragraph, max_tokens, 0)
            continue
        current.append(paragraph)
        count += n
    if current:
        chunks.append("\n\n".join(current))
    return chunks


@dataclass(frozen=True)
class Chunk:
    source: str  # path relative to the documents folder, with '/'
    index: int  # the chunk's place in its document
    text: str  # what Retrieve returns (the parent's text for hierarchical chunking)
    searched: str  # what is ranked (the child's text for hierarchical chunking)
    parent: int  # chunks of one parent are returned once (hierarchical); else its own index


def chunk_document(source: str, text: str, chunking: ChunkingConfig) -> list[Chunk]:
    """`text` split as the use case's chunking settings say (see the module for each strategy)."""
    if chunking.strategy == "hierarchical":
        overlap = math.floor(chunking.overlap_tokens * WORDS_PER_TOKEN)
        chunks = []
        for p, parent in enumerate(_windows(text, chunking.parent_max_tokens, overlap)):
            for child in _windows(parent, chunking.child_max_tokens, overlap):
                chunks.append(Chunk(source, len(chunks), parent, child, p))
        return chunks
    if chunking.strategy == "semantic":
        pieces = _semantic(text, chunking.max_tokens)
    else:
        size = math.floor(chunking.max_tokens * WORDS_PER_TOKEN)
        pieces = _windows(text, chunking.max_tokens, math.floor(size * chunking.overlap_percentage / 100))
    return [Chunk(source, i, piece, piece, i) for i, piece in enumerate(pieces)]


# ---------------------------------------------------------------------------------------------- documents


def _attribute_value(value: Any) -> Any:
    """A sidecar attribute as Retrieve returns it: plain JSON values as they are (numbers as floats), the
    typed form ({"value": {"type": "STRING", "stringValue": ...}, "includeForEmbedding": ...}) unwrapped."""
    if isinstance(value, dict) and isinstance(value.get("value"), dict):
        typed = value["value"]
        for key in ("stringValue", "numberValue", "booleanValue", "stringListValue"):
            if key in typed:
                return _attribute_value(typed[key])
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return float(value)


def read_metadata(sidecar: Path) -> dict[str, Any]:
    """The `metadataAttributes` of a Bedrock metadata sidecar; ValueError says what is wrong with it."""
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{sidecar.name} is not valid JSON: {exc}") from exc
    attributes = data.get("metadataAttributes") if isinstance(data, dict) else None
    if not isinstance(attributes, dict):
        raise ValueError(f"{sidecar.name} has no `metadataAttributes` object")
    return {str(k): _attribute_value(v) for k, v in attributes.items()}


def _read_text(path: Path) -> str:
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() in (".html", ".htm"):
        text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
        text = re.sub(r"<[^>]+>", " ", text)
    return text


@dataclass(frozen=True)
class IndexStatus:
    """What `liftoff kb status --local` shows: the folder, what was indexed, and what could not be."""

    knowledge_base_id: str
    documents_path: str
    documents: int
    chunks: int
    strategy: str
    built_at: float
    build_ms: float
    failed: tuple[tuple[str, str], ...] = ()  # (relative path, reason)
    label: str = LABEL

    def as_dict(self) -> dict:
        return {
            "knowledge_base_id": self.knowledge_base_id,
            "documents_path": self.documents_path,
            "documents": self.documents,
            "chunks": self.chunks,
            "strategy": self.strategy,
            "built_at": self.built_at,
            "build_ms": self.build_ms,
            "failed": [{"document": d, "reason": r} for d, r in self.failed],
            "label": self.label,
        }


@dataclass
class _Index:
    chunks: list[Chunk]
    metadata: dict[str, dict[str, Any]]  # source -> metadataAttributes
    retriever: bm25s.BM25 | None
    doc_freq: dict[str, int]
    fingerprint: tuple
    status: IndexStatus


class RetrieveError(Exception):
    """A Retrieve error as the service answers it: HTTP status, error code (x-amzn-ErrorType), message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class LocalKnowledgeBase:
    """One use case's knowledge base, served from its documents folder."""

    use_case: str
    folder: Path
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    knowledge_base_id: str = ""
    _index: _Index | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.knowledge_base_id = self.knowledge_base_id or local_knowledge_base_id(self.use_case)

    @classmethod
    def for_use_case(cls, use_case) -> LocalKnowledgeBase:
        """The stand-in for a loaded UseCase (liftoff.foundation.usecases) with a `knowledge:` section."""
        knowledge = use_case.config.knowledge
        if knowledge is None:
            raise ValueError(f"use case {use_case.name} has no `knowledge:` section")
        return cls(use_case.name, use_case.root / knowledge.documents_path(use_case.name), knowledge.chunking)

    # -- index

    def _files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.rglob("*") if p.is_file() and not p.name.startswith("."))

    def _fingerprint(self) -> tuple:
        out = []
        for path in self._files():
            stat = path.stat()
            out.append((str(path), stat.st_mtime_ns, stat.st_size))
        return (str(self.folder), tuple(out))

    def _build(self, fingerprint: tuple) -> _Index:
        started = time.perf_counter()
        chunks: list[Chunk] = []
        metadata: dict[str, dict[str, Any]] = {}
        failed: list[tuple[str, str]] = []
        documents = 0
        if not self.folder.is_dir():  # a sync of nothing is not a success: say where the documents were looked for
            failed.append(
                (str(self.folder), "the documents folder does not exist: create it or fix knowledge.documents.path")
            )
        for path in self._files():
            if path.name.endswith(SIDECAR_SUFFIX):
                if not path.with_name(path.name[: -len(SIDECAR_SUFFIX)]).is_file():
                    failed.append((path.relative_to(self.folder).as_posix(), "a metadata file for no document"))
                continue
            source = path.relative_to(self.folder).as_posix()
            if path.suffix.lower() not in DOCUMENT_SUFFIXES:
                failed.append((source, f"not read locally (only {', '.join(DOCUMENT_SUFFIXES)})"))
                continue
            sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
            try:
                metadata[source] = read_metadata(sidecar) if sidecar.is_file() else {}
            except ValueError as exc:  # Bedrock's ingestion fails a document whose metadata it cannot read
                failed.append((source, str(exc)))
                continue
            text = _read_text(path)
            if not text.strip():
                failed.append((source, "empty document"))
                continue
            document_chunks = chunk_document(source, text, self.chunking)
            if not any(words(c.searched) for c in document_chunks):  # binary, or no Latin-script word to rank
                failed.append((source, "no words the lexical stand-in can search (binary, or not in a Latin script)"))
                continue
            documents += 1
            chunks += document_chunks
        tokenized = [words(c.searched) for c in chunks]
        doc_freq: dict[str, int] = {}
        for tokens in tokenized:
            for word in set(tokens):
                doc_freq[word] = doc_freq.get(word, 0) + 1
        retriever = None
        if chunks:
            retriever = bm25s.BM25(method="lucene", k1=K1, b=B)
            retriever.index(tokenized, show_progress=False)
        status = IndexStatus(
            knowledge_base_id=self.knowledge_base_id,
            documents_path=str(self.folder),
            documents=documents,
            chunks=len(chunks),
            strategy=self.chunking.strategy,
            built_at=time.time(),
            build_ms=round((time.perf_counter() - started) * 1000, 1),
            failed=tuple(failed),
        )
        return _Index(chunks, metadata, retriever, doc_freq, fingerprint, status)

    def _current(self) -> _Index:
        fingerprint = self._fingerprint()
        with self._lock:
            if self._index is None or self._index.fingerprint != fingerprint:
                self._index = self._build(fingerprint)
            return self._index

    def rebuild(self) -> IndexStatus:
        """Index the folder again now (what `liftoff kb sync --local` does) and say what was indexed."""
        with self._lock:
            self._index = self._build(self._fingerprint())
            return self._index.status

    def status(self) -> IndexStatus:
        """The index as it stands (built first if it was not, or if a file changed)."""
        return self._current().status

    # -- ranking

    def scores(self, query: str) -> list[tuple[Chunk, float]]:
        """Every chunk sharing a word with `query`, with its normalised score (see the module), best first."""
        index = self._current()
        terms = sorted(set(words(SIM_MARKER.sub(" ", query))))
        if not terms or index.retriever is None:
            return []
        n = len(index.chunks)
        idf = {t: math.log(1 + (n - index.doc_freq.get(t, 0) + 0.5) / (index.doc_freq.get(t, 0) + 0.5)) for t in terms}
        reference = sum(idf.values()) / (1 + K1)
        known = [t for t in terms if t in index.doc_freq]
        if not known:
            return []
        raw, covered = np.zeros(n), np.zeros(n)
        for term in known:  # each word's BM25 part; capped, at one occurrence in an average-length chunk
            part = np.asarray(index.retriever.get_scores([term]), dtype=float)
            raw += part
            covered += np.minimum(part, idf[term] / (1 + K1))
        order = sorted(
            (i for i in range(n) if raw[i] > 0), key=lambda i: (-covered[i], -raw[i], index.chunks[i].source, i)
        )
        return [(index.chunks[i], min(1.0, float(covered[i]) / reference)) for i in order]

    # -- the API

    def retrieve(self, **request: Any) -> dict:
        """Retrieve's response for `request` (the API's parameters, as boto3 takes them). RetrieveError as
        the service answers: ResourceNotFoundException for another knowledge base id, ValidationException
        for a request it would refuse."""
        kb_id = str(request.get("knowledgeBaseId", ""))
        found = KNOWLEDGE_BASE_ID.match(kb_id)
        if not found:
            raise RetrieveError(400, "ValidationException", f"knowledgeBaseId `{kb_id}` is not a knowledge base id")
        if (found.group("id") or kb_id) != self.knowledge_base_id:
            raise RetrieveError(404, "ResourceNotFoundException", f"Knowledge base {kb_id} does not exist.")
        query = request.get("retrievalQuery")
        text = query.get("text") if isinstance(query, dict) else None
        if not isinstance(text, str) or not text.strip() or len(text) > 20000:
            raise RetrieveError(400, "ValidationException", "retrievalQuery.text must be 1-20000 characters")
        for marker, (status, code, message) in KB_FAULTS.items():
            if marker in text:
                raise RetrieveError(status, code, message)
        config = (request.get("retrievalConfiguration") or {}).get("vectorSearchConfiguration") or {}
        if config.get("filter") or config.get("rerankingConfiguration") or config.get("implicitFilterConfiguration"):
            raise RetrieveError(
                400,
                "ValidationException",
                "the local knowledge base does not simulate filters or reranking (lexical stand-in: "
                "liftoff/local/knowledge_base.py)",
            )
        k = config.get("numberOfResults", DEFAULT_RESULTS)
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 100:
            raise RetrieveError(400, "ValidationException", "numberOfResults must be an integer from 1 to 100")
        results, parents = [], set()
        for chunk, score in self.scores(text):
            if (chunk.source, chunk.parent) in parents:
                continue  # hierarchical: a parent is returned once, with its best child's score
            parents.add((chunk.source, chunk.parent))
            results.append(self._result(chunk, score))
            if len(results) == k:
                break
        return {"retrievalResults": results}

    def _result(self, chunk: Chunk, score: float) -> dict:
        uri = f"s3://{local_bucket(self.use_case)}/{chunk.source}"
        chunk_id = quote(f"1:0:{hashlib.sha256(f'{chunk.source}#{chunk.parent}'.encode()).hexdigest()[:20]}", safe="")
        return {
            "content": {"text": chunk.text, "type": "TEXT"},
            "location": {"type": "S3", "s3Location": {"uri": uri}},
            "score": round(score, 6),
            "metadata": {
                **self._current().metadata.get(chunk.source, {}),
                "x-amz-bedrock-kb-source-uri": uri,
                "x-amz-bedrock-kb-chunk-id": chunk_id,
                "x-amz-bedrock-kb-data-source-id": local_data_source_id(self.use_case),
            },
        }


# ---------------------------------------------------------------------------------------------- serving


RETRIEVE_PATH = re.compile(r"^/knowledgebases/(?P<kb>[^/]+)/retrieve$")


def retrieve_reply(
    knowledge_bases: dict[str, LocalKnowledgeBase], kb_id: str, body: dict
) -> tuple[int, dict, str | None]:
    """The HTTP reply (status, JSON body, x-amzn-ErrorType) of Retrieve on `kb_id` (the path's id)."""
    kb = knowledge_bases.get(kb_id)
    if kb is None:
        return 404, {"message": f"Knowledge base {kb_id} does not exist."}, "ResourceNotFoundException"
    try:
        return 200, kb.retrieve(**{**body, "knowledgeBaseId": kb_id}), None
    except RetrieveError as exc:
        return exc.status, {"message": exc.message}, exc.code


class LocalAgentRuntimeClient:
    """An in-memory `bedrock-agent-runtime` client with the stand-in behind it, for tests that use no
    HTTP: `retrieve(**kwargs)` answers like boto3's (the response dict, or botocore's ClientError)."""

    def __init__(self, *knowledge_bases: LocalKnowledgeBase):
        self.knowledge_bases = {kb.knowledge_base_id: kb for kb in knowledge_bases}
        self.calls: list[dict] = []

    def retrieve(self, **kwargs: Any) -> dict:
        from botocore.exceptions import ClientError

        self.calls.append(kwargs)
        kb_id = str(kwargs.get("knowledgeBaseId", ""))
        found = KNOWLEDGE_BASE_ID.match(kb_id)
        status, body, code = retrieve_reply(
            self.knowledge_bases, (found.group("id") or kb_id) if found else kb_id, kwargs
        )
        if code:
            error = {
                "Error": {"Code": code, "Message": body["message"]},
                "ResponseMetadata": {"HTTPStatusCode": status},
            }
            raise ClientError(error, "Retrieve")
        return {**body, "ResponseMetadata": {"HTTPStatusCode": 200}}


# ---------------------------------------------------------------------------------------------- kb CLI


def _running_url(use_case: str) -> str | None:
    from liftoff.local import runtime

    state = runtime.read_state(use_case)
    return state.bedrock_url if runtime.is_running(state) else None


def _ask(use_case: str, method: str, kb_id: str) -> IndexStatus | None:
    """The running local mode's answer about its own index (None when local mode is not running)."""
    import requests

    url = _running_url(use_case)
    if url is None:
        return None
    response = requests.request(method, f"{url}/_kb/{kb_id}/{'sync' if method == 'POST' else 'status'}", timeout=60)
    response.raise_for_status()
    data = response.json()
    failed = tuple((f["document"], f["reason"]) for f in data.pop("failed"))
    return IndexStatus(**{**data, "failed": failed})


def sync(use_case, *, ask: Callable[[str, str, str], IndexStatus | None] = _ask) -> IndexStatus:
    """`liftoff kb sync --local`: the running local mode of `use_case` (a UseCase) re-indexes its folder now;
    with none running, the folder is indexed here, to say what would be served."""
    kb = LocalKnowledgeBase.for_use_case(use_case)
    return ask(use_case.name, "POST", kb.knowledge_base_id) or kb.rebuild()


def status(use_case, *, ask: Callable[[str, str, str], IndexStatus | None] = _ask) -> IndexStatus:
    """`liftoff kb status --local`: what the running local mode serves (else what it would, indexed here)."""
    kb = LocalKnowledgeBase.for_use_case(use_case)
    return ask(use_case.name, "GET", kb.knowledge_base_id) or kb.status()
