"""Kafka Connect (distributed mode, one worker) running the Debezium PostgreSQL connector (docs/decisions/0013).

The worker keeps connector configs, source offsets and statuses in Kafka topics (``<group>.configs``,
``.offsets``, ``.status``), so a restarted worker resumes from the last committed LSN without a new snapshot.
With exactly-once source support on (the default) records and their offsets are committed in one Kafka
transaction. ``start`` needs Kafka and PostgreSQL up; it makes sure the ``cdc.*`` topics (and their ``dlq.*``)
exist, starts the worker, registers the connector (``PUT /connectors/<name>/config``, only when it changed)
and waits until the connector and its task run.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from string import Template
from typing import Any

from rtml.settings import Settings
from rtml.stack.process import StackError
from rtml.stack.service import LocalService

PLUGIN = "debezium-postgres"


def slot_name(settings: Settings) -> str:
    """The replication slot (and publication) of the stack's connector: ``rtml_<db>``."""
    return "rtml_" + "".join(c if c.isalnum() else "_" for c in settings.postgres_db.lower())


def connector_config(settings: Settings, template: str) -> dict[str, str]:
    """The connector's config: ``template`` (``infra/debezium/bank-connector.json``) filled from settings.
    Values are JSON-escaped before substitution, so any password or name stays one JSON string."""
    s = settings
    values = {
        "host": s.host,
        "port": s.postgres_port,
        "user": s.postgres_user,
        "password": s.postgres_password,
        "dbname": s.postgres_db,
        "tables": ",".join(s.cdc_tables),
        "slot": slot_name(s),
    }
    escaped = {k: json.dumps(str(v))[1:-1] for k, v in values.items()}
    config = json.loads(Template(template).substitute(escaped))
    return {str(k): str(v) for k, v in config.items()}


class ConnectService(LocalService):
    name = "connect"

    @property
    def address(self) -> str:
        return self.settings.connect_url

    def ports(self) -> list[tuple[str, int, str]]:
        return [(self.settings.host, self.settings.connect_port, "RTML_CONNECT_PORT")]

    @property
    def plugin_path(self) -> Path:
        return self.settings.lib_dir / "connect-plugins"

    def classpath(self) -> str:
        lib = self.settings.lib_dir / "connect"
        if not any(lib.glob("connect-runtime-*.jar")):
            raise StackError(
                f"connect: no Kafka Connect jars in {lib}; run scripts/setup to fetch them from Maven Central"
            )
        if not any((self.plugin_path / PLUGIN).glob("debezium-connector-postgres-*.jar")):
            raise StackError(
                f"connect: the Debezium connector is missing from {self.plugin_path / PLUGIN}; run scripts/setup"
            )
        return f"{lib}/*"

    def prepare(self) -> list[str]:
        s = self.settings
        classpath = self.classpath()
        self._check_dependencies()
        config = self.render(
            "debezium/connect-distributed.properties",
            self.dir / "connect-distributed.properties",
            bootstrap=s.kafka_bootstrap,
            group=s.connect_group,
            host=s.host,
            port=s.connect_port,
            exactly_once="enabled" if s.connect_exactly_once else "disabled",
            plugin_path=self.plugin_path,
        )
        return [
            s.java,
            f"-Xms{s.connect_heap}",
            f"-Xmx{s.connect_heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={s.infra_dir / 'debezium' / 'log4j2.properties'}",
            "-cp",
            classpath,
            "org.apache.kafka.connect.cli.ConnectDistributed",
            str(config),
        ]

    def _check_dependencies(self) -> None:
        """Kafka and PostgreSQL must answer; the cdc topics and their dead-letter topics must exist."""
        from confluent_kafka.admin import AdminClient

        from rtml.stack.psql import Psql
        from rtml.topics import create_topics, topic_specs

        s = self.settings
        hint = "start it first: rtml up --only kafka,postgres,connect"
        admin = AdminClient({"bootstrap.servers": s.kafka_bootstrap, "log_level": 0, "socket.timeout.ms": 3000})
        try:
            admin.list_topics(timeout=5.0)
        except Exception:
            raise StackError(f"connect: Kafka at {s.kafka_bootstrap} does not answer; {hint}") from None
        if not Psql(s).is_ready():
            raise StackError(f"connect: PostgreSQL at {s.host}:{s.postgres_port} does not answer; {hint}")
        cdc = {f"cdc.{table}" for table in s.cdc_tables}
        create_topics(admin, [t for t in topic_specs(s) if t.name in cdc or t.name.removeprefix("dlq.") in cdc])

    def start(self) -> int:
        if (pid := self.process.pid()) is not None:
            return pid
        self.dir.mkdir(parents=True, exist_ok=True)
        pid = self.process.start(self.prepare(), ports=self.ports(), env=self.env())
        self.process.wait_ready(self.worker_ready, self.settings.start_timeout_s)
        self.register()
        self.wait_running(self.settings.start_timeout_s)
        return pid

    def register(self) -> bool:
        """Submit the connector's config unless the worker already has exactly it. True when it was submitted."""
        template = (self.settings.infra_dir / "debezium" / "bank-connector.json").read_text()
        wanted = connector_config(self.settings, template)
        path = f"/connectors/{self.settings.connect_connector}/config"
        if self._request("GET", path) == wanted:
            return False
        self._request("PUT", path, wanted)
        return True

    def wait_running(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = self.connector_status()
            failed = _failure(status)
            if failed:
                raise StackError(f"connect: connector {self.settings.connect_connector} failed: {failed}")
            if _running(status):
                return
            if self.process.pid() is None:
                raise StackError(f"connect exited during start-up; last log lines:\n{self.process.log_tail()}")
            time.sleep(0.25)
        raise StackError(
            f"connect: connector {self.settings.connect_connector} not running after {timeout_s:.0f} s "
            f"({_summary(self.connector_status())}); see {self.process.log_file}"
        )

    def worker_ready(self) -> bool:
        return self._request("GET", "/") is not None

    def connector_status(self) -> dict[str, Any] | None:
        return self._request("GET", f"/connectors/{self.settings.connect_connector}/status")

    def ready(self) -> bool:
        return _running(self.connector_status())

    def detail(self) -> str:
        """The connector's and tasks' states (Connect REST) and the replication slot's lag (WAL not yet confirmed)."""
        from rtml.stack.postgres import PostgresService

        if self.process.pid() is None:
            return ""
        if not self.worker_ready():
            return f"worker not answering on {self.address} (starting, or see {self.process.log_file})"
        text = _summary(self.connector_status())
        lag = PostgresService(self.settings).slot_lag_bytes(slot_name(self.settings))
        return text if lag is None else f"{text}; slot lag {_bytes(lag)}"

    def _request(self, method: str, path: str, body: object = None) -> Any:
        """JSON from the worker's REST API; None when it does not answer or the resource does not exist."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.address}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5.0) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            if exc.code == 404 or (exc.code == 409 and method == "GET"):  # 409: rebalancing, ask again
                return None
            raise StackError(f"connect: {method} {path} answered {exc.code}: {exc.read().decode()[:500]}") from None
        except (urllib.error.URLError, OSError, json.JSONDecodeError):
            return None


def _running(status: dict[str, Any] | None) -> bool:
    if not status or status.get("connector", {}).get("state") != "RUNNING":
        return False
    tasks = status.get("tasks") or []
    return bool(tasks) and all(t.get("state") == "RUNNING" for t in tasks)


def _failure(status: dict[str, Any] | None) -> str | None:
    if not status:
        return None
    for part in [status.get("connector", {}), *(status.get("tasks") or [])]:
        if part.get("state") == "FAILED":
            trace = (part.get("trace") or "no trace").strip().splitlines()
            return " | ".join(line.strip() for line in trace[:3])
    return None


def _summary(status: dict[str, Any] | None) -> str:
    if not status:
        return "connector not registered"
    tasks = ", ".join(f"task {t.get('id')} {t.get('state')}" for t in status.get("tasks") or []) or "no tasks"
    return f"{status.get('name')} {status.get('connector', {}).get('state')}, {tasks}"


def _bytes(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KiB" if n < 1024**2 else f"{n / 1024**2:.1f} MiB"
