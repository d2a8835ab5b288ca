"""The `--use-case` option every command shares: one definition, one way to pick the default
(liftoff/usecases.py `choose_use_case`), one way to say what went wrong."""

from __future__ import annotations

import click

from liftoff.foundation.errors import ConfigError
from liftoff.foundation.usecases import USE_CASE_ENV, UnknownUseCase, require_use_case, resolve_use_case

DEFAULT_HELP = (
    f"The use case (usecases/NAME.yaml). Default: ${USE_CASE_ENV}, else cdk.json's context "
    "`liftoff:default_use_case`, else the only use case in usecases/; with several and none chosen, the command "
    "refuses and lists them."
)
EVERY_HELP = (
    "Only this use case (usecases/NAME.yaml). Default: every use case in usecases/ "
    f"(${USE_CASE_ENV} and cdk.json's default do not narrow it)."
)

KNOWLEDGE_HELP = (
    f"The retrieval use case (one with `knowledge:`). Default: ${USE_CASE_ENV} or cdk.json's "
    "`liftoff:default_use_case` when that one has `knowledge:`, else the only use case with `knowledge:`."
)
HELP = {"one": DEFAULT_HELP, "every": EVERY_HELP, "knowledge": KNOWLEDGE_HELP}


class UseCaseOption(click.Option):
    """`--use-case NAME`. kind `one`: resolved to one name (choose_use_case); `every`: no name means every use
    case; `knowledge`: no name is left to the command (the retrieval use case, liftoff/kb.py). Without a name,
    `every` and `knowledge` give None; a name given is checked in each kind."""

    def __init__(self, *args, kind: str = "one", **kwargs):
        self.kind = kind
        super().__init__(*args, **kwargs)

    @property
    def every(self) -> bool:
        return self.kind == "every"


def _resolve(ctx: click.Context, param: UseCaseOption, value: str | None) -> str | None:
    try:
        if param.kind != "one":
            if value is not None:
                require_use_case(value)
            return value
        return resolve_use_case(value)
    except UnknownUseCase as exc:
        if value is not None:  # typed on the command line: a bad value of the option
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from exc
        raise click.UsageError(str(exc), ctx=ctx) from exc
    except ConfigError as exc:
        raise click.UsageError(str(exc), ctx=ctx) from exc


def use_case_option(*, every: bool = False, kind: str | None = None):
    """The `--use-case` option: resolved to one name, or None for every use case (every=True); kind: see
    UseCaseOption."""
    kind = kind or ("every" if every else "one")
    return click.option(
        "--use-case",
        "use_case",
        cls=UseCaseOption,
        kind=kind,
        default=None,
        metavar="NAME",
        callback=_resolve,
        help=HELP[kind],
    )
