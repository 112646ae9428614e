"""Seeding a believable network of any size (`manage.py seed`); see network.py."""

from social.seeding.network import (
    SEED_PASSWORD,
    SeedError,
    SeedPlan,
    SeedReport,
    network_fingerprint,
    no_progress,
    seed_network,
)

__all__ = [
    "SEED_PASSWORD",
    "SeedError",
    "SeedPlan",
    "SeedReport",
    "network_fingerprint",
    "no_progress",
    "seed_network",
]
