"""The one place that prints errors: one line on stderr, the message taken literally.

Messages quote user input and patterns such as `[a-z]` or `[key]`; printed as Rich markup
they would vanish, so they are printed as plain text behind a styled `error:`.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.text import Text

err_console = Console(stderr=True)


def say(message: str) -> None:
    """One line on stderr, exactly as given (no markup, no highlighting)."""
    err_console.print(Text(message), highlight=False, soft_wrap=True)


def warn(message: str) -> None:
    """`warning: message`: something went wrong that does not stop the command."""
    err_console.print(
        Text.assemble(("warning:", "yellow"), " ", message), highlight=False, soft_wrap=True
    )


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `error: message` and return the exit to raise: `raise fail(...)`."""
    err_console.print(
        Text.assemble(("error:", "bold red"), " ", message), highlight=False, soft_wrap=True
    )
    return typer.Exit(code)
