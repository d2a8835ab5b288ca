"""A figure no run produced cannot stand in the docs: the README's and docs/benchmarks.md's figure blocks
are rendered from benchmarks/results.json, which the last full `make bench` wrote."""

import pytest

from benchmarks.figures import DOCS, ROWS, blocks, recorded, render, value_at


@pytest.mark.parametrize("block", sorted(DOCS))
def test_the_docs_figures_are_the_recorded_run(block):
    # Given what make bench recorded / Then the document's block is exactly its rendering
    text = DOCS[block].read_text()
    assert block in blocks(text), f"{DOCS[block]}: no figures:{block} block"
    assert blocks(text)[block] == render(recorded(), block), f"{DOCS[block]} differs from benchmarks/results.json"


def test_every_figure_quoted_is_in_the_results():
    results = recorded()
    for rows in ROWS.values():
        for _what, path, _written, _target in rows:
            value_at(results, path)  # a KeyError names the figure no run produced
