"""Liftoff: configuration, prompt files and developer tooling (the `liftoff` CLI and local mode)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
