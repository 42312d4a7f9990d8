"""The Redis online store: one string per entity and view, newer-wins writes in Lua, reads with one MGET."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import cast
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.exceptions import NoScriptError

from feature_pipelines.definitions import AnyView
from feature_pipelines.online.store import OnlineStore, OnlineStoreUnavailable

# KEYS[i]: row keys. ARGV[1]: TTL in ms (<= 0: none). ARGV[2]: the size of one packed value.
# ARGV[3]: the packed values of KEYS[1..n] back to back (one argument, not n: packing and parsing
# arguments is most of the client's cost). Per key, atomically: SET (with PX TTL) unless the stored
# value's window_end (its 8-byte big-endian header, read with struct: Lua's string `<` collates by
# locale) is >= the new one's. Returns one character per key: "1" stored, "0" skipped (stale or replay).
WRITE_NEWER = """
local ttl = tonumber(ARGV[1])
local size = tonumber(ARGV[2])
local packed = ARGV[3]
local stored = {}
for i, key in ipairs(KEYS) do
  local new = string.sub(packed, (i - 1) * size + 1, i * size)
  local old = redis.call('GET', key)
  if (not old) or string.len(old) < 8 or struct.unpack('>I8', old) < struct.unpack('>I8', new) then
    if ttl > 0 then
      redis.call('SET', key, new, 'PX', ttl)
    else
      redis.call('SET', key, new)
    end
    stored[i] = '1'
  else
    stored[i] = '0'
  end
end
return table.concat(stored)
"""
WRITE_NEWER_SHA = hashlib.sha1(WRITE_NEWER.encode()).hexdigest()
_STORED = ord("1")


def redacted(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


class RedisUnavailable(OnlineStoreUnavailable):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"cannot reach Redis at {redacted(url)} ({reason}): run `rtml up --only redis` or set RTML_REDIS_URL"
        )
        self.url = redacted(url)


class RedisOnlineStore(OnlineStore):
    """Writes go in chunks of ``chunk_rows`` keys per script call, all chunks in one pipeline."""

    def __init__(
        self,
        url: str,
        *,
        views: Mapping[str, AnyView] | None = None,
        chunk_rows: int = 500,
        timeout_s: float = 5.0,
    ) -> None:
        super().__init__(views)
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
        self.url = url
        self.chunk_rows = chunk_rows
        self.client = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, decode_responses=False
        )

    @classmethod
    def from_url(cls, url: str, views: Mapping[str, AnyView] | None = None) -> RedisOnlineStore:
        return cls(url, views=views)

    def __repr__(self) -> str:
        return f"RedisOnlineStore({redacted(self.url)!r})"

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise RedisUnavailable(self.url, str(exc) or type(exc).__name__) from None

    def check(self) -> None:
        with self._reachable():
            self.client.ping()

    def close(self) -> None:
        self.client.close()

    def put_newer(self, keys: Sequence[bytes], values: Sequence[bytes], ttl_ms: int) -> list[bool]:
        if len(keys) != len(values):
            raise ValueError(f"{len(keys)} keys but {len(values)} values")
        with self._reachable():
            try:
                replies = self._write_chunks(keys, values, ttl_ms)
            except NoScriptError:  # first use, or Redis restarted / SCRIPT FLUSH: writes are idempotent
                self.client.script_load(WRITE_NEWER)
                replies = self._write_chunks(keys, values, ttl_ms)
        return [flag == _STORED for reply in replies for flag in reply]

    def _write_chunks(self, keys: Sequence[bytes], values: Sequence[bytes], ttl_ms: int) -> list[bytes]:
        size = len(values[0]) if values else 0
        if any(len(v) != size for v in values):
            raise ValueError("put_newer needs values of one size (one view's layout) per call")
        pipe = self.client.pipeline(transaction=False)
        step = self.chunk_rows
        for i in range(0, len(keys), step):
            chunk = keys[i : i + step]
            packed = b"".join(values[i : i + step])
            pipe.execute_command("EVALSHA", WRITE_NEWER_SHA, len(chunk), *chunk, ttl_ms, size, packed)
        return cast(list[bytes], pipe.execute())

    def get_values(self, keys: Sequence[bytes]) -> list[bytes | None]:
        with self._reachable():
            return cast(list[bytes | None], self.client.execute_command("MGET", *keys))

    def send_get_values(self, keys: Sequence[bytes]) -> Callable[[], list[bytes | None]]:
        """The MGET is sent on a connection of its own, held until its reply is taken."""
        pool = self.client.connection_pool
        with self._reachable():
            connection = pool.get_connection()
            try:
                connection.send_command("MGET", *keys)
            except BaseException:
                connection.disconnect()
                pool.release(connection)
                raise

        def reply() -> list[bytes | None]:
            try:
                with self._reachable():
                    return cast(list[bytes | None], connection.read_response())
            except BaseException:
                connection.disconnect()  # a reply read in part must not meet the next command
                raise
            finally:
                pool.release(connection)

        return reply

    def delete_keys(self, keys: Sequence[bytes]) -> int:
        with self._reachable():
            return cast(int, self.client.execute_command("DEL", *keys))

    def pttl_ms(self, key: bytes) -> int | None:
        """Milliseconds until ``key`` expires, None if it never does or does not exist."""
        with self._reachable():
            ms = cast(int, self.client.execute_command("PTTL", key))
        return ms if ms >= 0 else None
