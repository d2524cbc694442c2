"""`iiot stream`: run a stream worker (more workers with the same settings share the work)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.errors import fail


def stream(
    loglevel: Annotated[str, typer.Option(help="Faust log level.")] = "warning",
) -> None:
    """Run a Faust stream worker: OEE windows, roll-ups, digitization, dead letters.

    Start more workers with the same settings to share the partitions; stop with Ctrl-C.
    """
    # Faust's worker stops on SIGINT and SIGTERM alike by itself (mode.Worker).
    import faust  # heavy: only when the command runs

    from iiot import kafka_admin
    from iiot.gc_tuning import quieten
    from iiot.settings import get_settings
    from streams.app import create_app, internal_topics
    from streams.runtime import use_uvloop

    settings = get_settings()
    use_uvloop()
    app = create_app(settings)
    try:
        kafka_admin.ensure_topics(settings)
        kafka_admin.ensure_named_topics(internal_topics(app), settings)
    except kafka_admin.BrokerUnreachable as exc:
        raise fail(str(exc)) from None
    quieten()  # iiot/gc_tuning.py: ~5 µs a sample of young collections (bench/README.md)
    faust.Worker(app, loglevel=loglevel.upper(), quiet=True).execute_from_commandline()
