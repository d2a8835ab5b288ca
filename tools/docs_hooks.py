"""mkdocs hook (mkdocs.yml `hooks:`): fills the generated reference pages from the code at build time.

A page holds a marker comment; the build replaces it with Markdown made by liftoff/reference.py from the
pydantic models (configuration, prompt files, eval suites, cases and checks) or the click commands, so the
reference is never edited by hand."""

from liftoff.reference import (
    case_reference,
    checks_reference,
    cli_reference,
    config_reference,
    config_summary,
    knowledge_reference,
    prompt_file_reference,
    retrieval_reference,
    suite_reference,
)

GENERATED = {
    "<!-- liftoff:config-summary -->": config_summary,
    "<!-- liftoff:config-reference -->": config_reference,
    "<!-- liftoff:cli-reference -->": cli_reference,
    "<!-- liftoff:prompt-file-reference -->": prompt_file_reference,
    "<!-- liftoff:suite-reference -->": suite_reference,
    "<!-- liftoff:case-reference -->": case_reference,
    "<!-- liftoff:checks-reference -->": checks_reference,
    "<!-- liftoff:knowledge-reference -->": knowledge_reference,
    "<!-- liftoff:retrieval-reference -->": retrieval_reference,
}


def on_page_markdown(markdown: str, page, config, files) -> str:  # mkdocs calls it with these four
    for marker, make in GENERATED.items():
        if marker in markdown:
            markdown = markdown.replace(marker, make())
    return markdown
