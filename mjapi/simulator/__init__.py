"""A fake Discord with a fake Midjourney Bot, over real HTTP and websockets on loopback.

It speaks Discord's user-account protocol (REST under ``/api/v9`` and ``/api/v10``, the Gateway
at ``/gateway``, a CDN for attachments) so mjapi's Discord transport runs unchanged against it::

    async with running_simulator(SimulatorConfig(step_delay=0.01)) as sim:
        ...  # point the transport at sim.base_url; assert on sim.state

Faults, rate limits and gateway trouble on demand: the control API under ``/_sim`` and, in
process, ``sim.faults`` / ``sim.control`` / ``sim.stats`` (docs/simulator.md).

Production code never imports this package (only the composition root, for demo mode).
"""

from mjapi.simulator.config import SimulatorConfig
from mjapi.simulator.server import Simulator, running_simulator, serve

__all__ = ["Simulator", "SimulatorConfig", "running_simulator", "serve"]
