"""Redis server with its own configuration (AOF, fsync every second) under the data dir."""

from __future__ import annotations

from rtml.stack.service import LocalService


class RedisService(LocalService):
    name = "redis"

    @property
    def address(self) -> str:
        return f"redis://{self.settings.host}:{self.settings.redis_port}/0"

    def ports(self) -> list[tuple[str, int, str]]:
        return [(self.settings.host, self.settings.redis_port, "RTML_REDIS_PORT")]

    def prepare(self) -> list[str]:
        config = self.render(
            "redis/redis.conf",
            self.dir / "redis.conf",
            host=self.settings.host,
            port=self.settings.redis_port,
            dir=self.dir,
            logfile=self.dir / "redis.log",
            maxmemory="1gb",
        )
        return [self.settings.redis_server, str(config)]

    def ready(self) -> bool:
        import redis

        client = redis.Redis(host=self.settings.host, port=self.settings.redis_port, socket_timeout=1.0)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()
