"""Domain registry: domains are looked up by name and imported only when used."""

from __future__ import annotations

import importlib

from config import InputError
from simulation.domains.base import Case, Domain, DomainCard, Finding, World

DOMAINS: dict[str, str] = {
    "kyc": "simulation.domains.kyc:KycDomain",
    "crypto": "simulation.domains.crypto:CryptoDomain",
}


def get_domain(name: str) -> Domain:
    """The domain pack called `name`; an unknown name is an InputError listing the known ones."""
    target = DOMAINS.get(name)
    if target is None:
        raise InputError(f"unknown domain {name!r}; known domains: {', '.join(sorted(DOMAINS))}")
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)()


__all__ = ["Case", "Domain", "DomainCard", "Finding", "World", "get_domain", "DOMAINS"]
