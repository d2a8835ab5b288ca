"""matplotlib for the CLI's charts, imported on first use: it takes about half a second, and most
commands draw nothing (`liftoff --help`, `prompts list` and local mode's start should not pay for it)."""

from __future__ import annotations

import functools
import io
from types import ModuleType


@functools.cache
def pyplot() -> ModuleType:
    """matplotlib.pyplot on the Agg backend (no display), SVG text kept as text (smaller, selectable)."""
    import matplotlib as mpl

    mpl.use("Agg")
    mpl.rcParams["svg.fonttype"] = "none"
    import matplotlib.pyplot as plt

    return plt


def svg(fig) -> str:
    """The figure as an inline <svg> element (no XML prolog), and the figure closed."""
    plt = pyplot()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]
