"""The composition root: the `iiot` command line, the demo and the local stack.

Only this package imports the parts (simulators, producers, streams, sinks, dashboards); the
parts import `iiot` (the contract) and themselves, and talk to each other through topics.
`pyproject.toml` [tool.importlinter] holds the rule; `make lint` checks it.

main       the `iiot` app: contract commands, stack, topics, and every part's commands
errors     the one place that prints a one-line error
signals    SIGINT and SIGTERM alike: once, stop cleanly; twice, stop now
simulate   `iiot simulate` (the simulator handed to the producer)
publish    `iiot publish`: JSON Lines through the Publisher, as they come
sink       `iiot sink`, `iiot db`
stream     `iiot stream`
dashboards `iiot dashboards`
registry   `iiot registry export`, `iiot registry publish`: registry files
stack      `iiot stack`: the local services of deploy/local
demo/      `iiot demo`: the whole pipeline, its parts as processes
"""
