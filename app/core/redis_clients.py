"""Redis clients made one way for every part of Citestream that talks to Redis."""

from __future__ import annotations

from functools import cache
from typing import Any

from redis.asyncio import Redis
from redis.driver_info import DriverInfo
from redis.exceptions import RedisError

# What a Redis call bounded by `within` raises when Redis could not answer it: an error of its
# own, a connection refused or cut, or no reply in time. The cache, admission, the runs mirror
# and worker presence treat these alike (Redis is away for now) and let anything else through
# as a bug.
REDIS_UNAVAILABLE: tuple[type[Exception], ...] = (RedisError, OSError, TimeoutError)


@cache
def _driver_info() -> DriverInfo:
    # Given none, redis-py builds a DriverInfo for every new connection, and each looks up its
    # own version in the installed packages' metadata: 0.6 ms of CPU per connection, paid a few
    # hundred times over when a burst of answers grows the pools.
    return DriverInfo()


def redis_client(url: str, **options: Any) -> Redis:
    """A client for `url` (redis-py's `Redis.from_url` with `options`) that names itself to
    the server as redis-py does by default (CLIENT SETINFO), found out once per process."""
    return Redis.from_url(url, driver_info=_driver_info(), **options)
