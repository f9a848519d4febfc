"""Offline simulated models: real strands `Model`s whose replies come from deterministic policies."""

from agents.simulated.model import ModelCall, Policy, Reply, SimSettings, SimulatedModel

__all__ = ["ModelCall", "Policy", "Reply", "SimSettings", "SimulatedModel"]
