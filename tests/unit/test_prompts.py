import pytest

from service.dal.prompt_store import LIVE_ALIAS
from service.logic.prompt_resolver import PromptResolver
from service.logic.render import render_prompt
from service.models.errors import MissingVariable, PromptNotFound, RegistryUnavailable, UnknownVariable, VariableTooLong
from service.models.prompt import PromptSpec


def spec(template="Say {{word}}", **kw) -> PromptSpec:
    return PromptSpec(
        prompt_id="echo",
        model_id="us.amazon.nova-micro-v1:0",
        template=template,
        variables=kw.pop("variables", [{"name": "word", "max_length": 10}]),
        **kw,
    )


def test_render_substitutes_once_and_never_expands_values():
    rendered = render_prompt(spec(), {"word": "{{word}}"})
    assert rendered.user_text == "Say {{word}}"


@pytest.mark.parametrize(
    ("values", "error", "words"),
    [
        ({}, MissingVariable, "needs variable(s): word"),
        ({"word": "   "}, MissingVariable, "needs variable(s): word"),
        ({"word": "hi", "extra": "x"}, UnknownVariable, "no variable(s) extra"),
        ({"word": "x" * 11}, VariableTooLong, "11 characters; the limit is 10"),
    ],
)
def test_render_rejects_bad_values(values, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        render_prompt(spec(), values)


def test_optional_variable_may_be_absent():
    s = spec("A {{a}} B {{b}}", variables=[{"name": "a"}, {"name": "b", "required": False}])
    assert render_prompt(s, {"a": "1"}).user_text == "A 1 B "


def test_content_hash_is_stable_and_sensitive():
    assert spec().content_hash() == spec().content_hash()
    assert spec().content_hash() != spec(template="Shout {{word}}").content_hash()


def test_publish_versions_are_immutable_and_live_set_once(store):
    # Given a first publish
    first = store.publish(spec(), author="a")
    assert (first.version, first.created, first.live_set) == (1, True, True)
    # When the same content is published again / Then nothing is written
    again = store.publish(spec(), author="b")
    assert (again.version, again.created) == (1, False)
    # When the content changes / Then v2 exists but live still points at v1
    second = store.publish(spec(template="Shout {{word}}"), author="c", message="louder")
    assert (second.version, second.created, second.live_set) == (2, True, False)
    assert store.get_alias("echo", LIVE_ALIAS).version == 1
    assert store.get_version("echo", 2).message == "louder"
    assert store.latest_version("echo").version == 2
    assert store.list_prompt_ids() == ["echo"]


class CountingStore:
    def __init__(self, inner):
        self.inner, self.reads, self.down = inner, 0, False

    def get_alias(self, *a):
        return self._read(self.inner.get_alias, *a)

    def get_version(self, *a):
        return self._read(self.inner.get_version, *a)

    def _read(self, fn, *a):
        self.reads += 1
        if self.down:
            raise RegistryUnavailable("down")
        return fn(*a)


def test_resolver_caches_then_serves_stale_copy_when_registry_fails(store):
    store.publish(spec(), author="a")
    counting, now = CountingStore(store), [0.0]
    resolver = PromptResolver(counting, ttl_s=60, clock=lambda: now[0])
    assert resolver.resolve("echo", alias="live").version == 1
    reads = counting.reads
    resolver.resolve("echo", alias="live")
    assert counting.reads == reads  # a cache hit reads nothing
    now[0] = 61.0
    counting.down = True
    assert resolver.resolve("echo", alias="live").version == 1  # expired but served
    # and kept for another TTL: the next requests do not wait out the registry's timeouts again
    reads = counting.reads
    for _ in range(20):
        assert resolver.resolve("echo", alias="live").version == 1
    assert counting.reads == reads
    now[0] = 122.0  # a TTL later the registry is asked again (and, back, refreshes the pointer)
    counting.down = False
    resolver.resolve("echo", alias="live")
    assert counting.reads == reads + 1
    counting.down = True
    with pytest.raises(RegistryUnavailable):
        resolver.resolve("echo", alias="canary")  # nothing cached for this one


def test_resolver_reports_unknown_prompt_and_version(store):
    store.publish(spec(), author="a")
    resolver = PromptResolver(store, ttl_s=60)
    with pytest.raises(PromptNotFound, match="`nope` not found"):
        resolver.resolve("nope", alias="live")
    with pytest.raises(PromptNotFound, match="no version 7"):
        resolver.resolve("echo", alias="live", version=7)


def test_during_an_outage_a_canary_version_never_loaded_falls_back_to_the_cached_live_one(store):
    # Given live v1 with a 99 % canary on v2, seen by an environment that has only ever served v1
    from service.logic.prompt_registry import Proof, start_canary
    from service.logic.prompt_resolver import canary_bucket

    store.publish(spec(), author="a")
    store.publish(spec(template="Shout {{word}}"), author="a")
    counting, now = CountingStore(store), [0.0]
    resolver = PromptResolver(counting, ttl_s=60, clock=lambda: now[0])
    live_request = next(r for r in (f"r{i}" for i in range(1000)) if canary_bucket("echo", r) >= 99)
    canary_request = next(r for r in (f"r{i}" for i in range(1000)) if canary_bucket("echo", r) < 99)
    assert resolver.resolve("echo", alias="live", request_id=live_request).version == 1
    start_canary(store, "echo", version=2, weight=99, alias="live", author="a", proof=Proof(None, "test"))
    now[0] = 61.0
    assert resolver.resolve("echo", alias="live", request_id=live_request).version == 1  # the pointer, refreshed
    # When the registry goes down and a request lands in the canary's share
    counting.down = True
    # Then it is served the cached live version (a stale copy exists) rather than a 503
    assert resolver.resolve("echo", alias="live", request_id=canary_request).version == 1
