"""Version floors of dependencies with known security fixes. No vulnerability database is
reachable from here, so the floors are written down and the installed versions checked."""

from importlib.metadata import version

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

FLOORS = {
    # Unbounded websocket frames and request header smuggling fixed in 4.2.2.
    "daphne": ">=4.2.2",
    # JSON bodies read past the upload size limits fixed in 3.17.2.
    "djangorestframework": ">=3.17.2",
    # Decompression bombs in image decoders fixed in 12.2.0.
    "pillow": ">=12.2.0",
    # redis-py 8 sets a 5 s socket timeout that kills channels-redis's blocking read.
    "redis": ">=7,<8",
}


@pytest.mark.parametrize(("package", "allowed"), FLOORS.items())
def test_installed_version_is_within_its_floor(package, allowed):
    installed = Version(version(package))
    assert installed in SpecifierSet(allowed), f"{package} {installed} is not {allowed}"


def test_channels_redis_is_installed_beside_the_pinned_redis():
    # The pin only matters with channels-redis; if the layer changes, revisit the pin.
    assert Version(version("channels-redis")) >= Version("4.3")


def test_redis_py_parses_with_hiredis():
    # redis[hiredis]: without it redis-py silently parses in Python, which cost a typing
    # event to 500 sockets ~13% of daphne's CPU (bench/LOG.md).
    from redis.utils import HIREDIS_AVAILABLE

    assert HIREDIS_AVAILABLE


def test_the_neo4j_driver_decodes_with_its_rust_codec():
    # neo4j-rust-ext: without it the driver silently falls back to pure Python, which cost
    # the suggestions call about half its client time (bench/LOG.md).
    from neo4j._codec.packstream import v1

    assert v1._rust_unpack is not None
    assert Version(version("neo4j-rust-ext")).release[:3] == Version(version("neo4j")).release
