"""Errors the tooling reports to a person: each says what is wrong, where, and what to do."""


class ConfigError(Exception):
    """A use-case config or prompt file is invalid. The message names the file and the field."""
