"""What every local service shares: its directories, its process, its rendered configuration."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from string import Template

from rtml.settings import Settings
from rtml.stack.process import ManagedProcess, StackError


class LocalService(ABC):
    """A service of the local stack. Subclasses render config, build argv and say when it is ready."""

    name: str

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dir = settings.state_dir / self.name
        self.process = ManagedProcess(
            name=self.name,
            run_dir=settings.state_dir / "run",
            log_file=settings.state_dir / "logs" / f"{self.name}.log",
        )

    @property
    @abstractmethod
    def address(self) -> str: ...

    @abstractmethod
    def prepare(self) -> list[str]:
        """Write configuration (and format storage) under ``self.dir``; return the argv to run."""

    @abstractmethod
    def ports(self) -> list[tuple[str, int, str]]: ...

    @abstractmethod
    def ready(self) -> bool:
        """One real readiness probe (a metadata request, a PING), fast and side-effect free."""

    def start(self) -> int:
        if (pid := self.process.pid()) is not None:
            return pid
        self.dir.mkdir(parents=True, exist_ok=True)
        pid = self.process.start(self.prepare(), ports=self.ports(), env=self.env(), user=self.os_user())
        self.process.wait_ready(self.ready, self.settings.start_timeout_s)
        return pid

    def stop(self) -> bool:
        return self.process.stop(self.settings.stop_timeout_s)

    def env(self) -> dict[str, str]:
        return {}

    def os_user(self) -> str | None:
        """The OS user the process runs as; None: the current one."""
        return None

    def detail(self) -> str:
        """One line for `rtml status` beyond ready/not ready (a connector's state, a lag); empty by default."""
        return ""

    def render(self, template: str, target: Path, **values: object) -> Path:
        source = self.settings.infra_dir / template
        try:
            text = Template(source.read_text()).substitute({k: str(v) for k, v in values.items()})
        except FileNotFoundError:
            raise StackError(f"{self.name}: configuration template {source} is missing") from None
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return target
