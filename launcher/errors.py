"""The launcher's one user-facing error type, in a module of its own so `launch --help` imports no schema."""


class ConfigError(Exception):
    """A config or an input the user must fix; the CLI prints it as one line and exits 2."""
