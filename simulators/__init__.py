"""The factory model: enterprises → plants → lines → devices, state machines, fault injection.

Publishes through Kafka topics only; imports `iiot` and its own modules. The CLI hands what
`Simulation.run()` yields to a publisher.
"""

# First: it decides, before anything imports them, whether the hot modules run compiled.
from simulators import native  # noqa: F401
from simulators.faults import FAULT_TYPES, FaultReport
from simulators.options import FaultRates, SimulationOptions
from simulators.pace import pace
from simulators.registry import registry_export
from simulators.simulation import Emitted, Simulation

__all__ = [
    "FAULT_TYPES",
    "Emitted",
    "FaultRates",
    "FaultReport",
    "Simulation",
    "SimulationOptions",
    "pace",
    "registry_export",
]
