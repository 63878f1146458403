"""Fitness-app world simulator: a seeded, scalable Segment event stream plus its ground truth.

cfg = SimConfig(users=2000, days=60, seed=7)
world = generate_world(cfg)
paths = write_world(world, settings.sim_dir)
report = send_http(load_world_messages(settings.sim_dir), url=..., write_key=...)
"""

from lake.simulator.config import SimConfig
from lake.simulator.engine.onboarding import experiment_variant
from lake.simulator.engine.simulation import Simulation
from lake.simulator.http import SendReport, send_http
from lake.simulator.world import (
    World,
    generate_world,
    load_ground_truth,
    load_world_messages,
    simulate_to_dir,
    write_world,
)

__all__ = [
    "SendReport",
    "SimConfig",
    "Simulation",
    "World",
    "experiment_variant",
    "generate_world",
    "load_ground_truth",
    "load_world_messages",
    "send_http",
    "simulate_to_dir",
    "write_world",
]
