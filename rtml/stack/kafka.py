"""Single-node KRaft Kafka broker from the Maven jars under ``<home>/lib/kafka``."""

from __future__ import annotations

import base64
import subprocess
import uuid

from rtml.stack.process import StackError
from rtml.stack.service import LocalService


class KafkaService(LocalService):
    name = "kafka"

    @property
    def address(self) -> str:
        return f"{self.settings.host}:{self.settings.kafka_port}"

    def ports(self) -> list[tuple[str, int, str]]:
        s = self.settings
        return [
            (s.host, s.kafka_port, "RTML_KAFKA_PORT"),
            (s.host, s.kafka_controller_port, "RTML_KAFKA_CONTROLLER_PORT"),
        ]

    def classpath(self) -> str:
        lib = self.settings.lib_dir / "kafka"
        if not any(lib.glob("kafka_2.13-*.jar")):
            raise StackError(f"kafka: no broker jars in {lib}; run scripts/setup to fetch them from Maven Central")
        return f"{lib}/*"

    def java(self, main: str, *args: str, heap: str = "256m", initial_heap: str | None = None) -> list[str]:
        logs = self.dir / "server-logs"
        return [
            self.settings.java,
            f"-Xmx{heap}",
            *([f"-Xms{initial_heap}"] if initial_heap else []),
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={logs}",
            f"-Dlog4j2.configurationFile={self.settings.infra_dir / 'kafka' / 'log4j2.yaml'}",
            "-cp",
            self.classpath(),
            main,
            *args,
        ]

    def prepare(self) -> list[str]:
        s = self.settings
        config = self.render(
            "kafka/server.properties",
            self.dir / "server.properties",
            host=s.host,
            port=s.kafka_port,
            controller_port=s.kafka_controller_port,
            log_dirs=self.dir / "data",
            transaction_max_timeout_ms=s.transaction_max_timeout_ms,
        )
        if not (self.dir / "data" / "meta.properties").exists():
            self._format(config)
        # The whole heap from the start: G1 sizes the young generation from the committed heap, and with the
        # JVM's default start (a fraction of -Xmx) the broker paused 4-8 ms for a young collection every ~0.7 s
        # at 2k scored events/s; with -Xms = -Xmx, every ~6 s (a pause hits every record in flight then).
        return self.java("kafka.Kafka", str(config), heap=s.kafka_heap, initial_heap=s.kafka_heap)

    def _format(self, config: object) -> None:
        """Format KRaft storage once (first start): a fresh cluster id, this node as sole controller."""
        cluster_id = "-"
        while cluster_id.startswith("-"):  # as Kafka's Uuid.randomUuid(): never a leading dash
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        argv = self.java(
            "kafka.tools.StorageTool",
            "format",
            f"--cluster-id={cluster_id}",
            f"--config={config}",
            "--standalone",
        )
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        except FileNotFoundError:
            raise StackError(
                f"kafka: Java not found ({self.settings.java!r}); install Java 17 or set JAVA_HOME"
            ) from None
        if done.returncode != 0:
            raise StackError(f"kafka: formatting storage in {self.dir / 'data'} failed:\n{done.stdout}{done.stderr}")

    def ready(self) -> bool:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.address, "log_level": 0, "socket.timeout.ms": 1000})
        try:
            metadata = admin.list_topics(timeout=1.0)
        except Exception:
            return False
        return bool(metadata.brokers) and metadata.controller_id >= 0
