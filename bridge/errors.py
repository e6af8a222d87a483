"""The project's error hierarchy.

Library code raises these; only the CLI turns them into a message and an exit code.

    BridgeError                 base; never raised directly
    ├── InputError              exit 1: a file or the config is wrong
    │   ├── ConfigError         the TOML config (one or more problems, all listed)
    │   └── SourceError         a data file or API source (names the file, row or column)
    ├── ApplyError              exit 2: some actions failed while applying (or the panel was down: run again)
    └── SafetyRefusal           exit 3: refused for safety (balance, production)
"""

from __future__ import annotations


class BridgeError(Exception):
    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # one clear message, nothing else
        return self.message


class InputError(BridgeError):
    exit_code = 1


class ConfigError(InputError):
    """All problems in a config file, reported at once."""

    def __init__(self, path: object, problems: list[str]):
        self.path = str(path)
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{self.path}: {len(self.problems)} problem(s) in the config:\n{lines}")


class SourceError(InputError):
    pass


class ApplyError(BridgeError):
    exit_code = 2


class SafetyRefusal(BridgeError):
    exit_code = 3
