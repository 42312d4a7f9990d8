"""One shift, one drift event: alarm states per (kind, detector, feature) and a cooldown per (kind, detector).

A key is armed until a finding on it drifts; it then fires once and stays silent until its findings have been quiet
(not drifted) for ``rearm_after`` consecutive windows, or until it drifts more severely than when it fired (a
feature whose PSI starts at a warning and grows past the critical bound fires again, as critical). The alarms that
fire in one window are grouped per (kind, detector) into one ``Alarm`` (one drift event listing every drifted
feature, the strongest first), unless that (kind, detector) raised an event less than ``cooldown_ms`` of event time
before: then the alarm is suppressed (counted), its keys stay fired, and re-arm as usual. An escalation passes the
cooldown: an alarm more severe than the group's last event (a critical shift of one feature after a warning on
another) is reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from schemas.drift import Severity
from stream_jobs.drift.detectors import Finding

SEVERITY_ORDER: dict[Severity, int] = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True)
class Alarm:
    """The findings of one (kind, detector) that fired together, strongest first."""

    findings: list[Finding]

    @property
    def top(self) -> Finding:
        return self.findings[0]

    @property
    def severity(self) -> Severity:
        return max((f.severity for f in self.findings), key=SEVERITY_ORDER.__getitem__)


class Debouncer:
    """Turns per-window findings into alarms; plain attributes, so it pickles with the monitor."""

    def __init__(self, rearm_after: int = 3, cooldown_ms: int = 60_000) -> None:
        if rearm_after < 1 or cooldown_ms < 0:
            raise ValueError(f"rearm_after must be >= 1 and cooldown_ms >= 0, got {rearm_after}, {cooldown_ms}")
        self.rearm_after = rearm_after
        self.cooldown_ms = cooldown_ms
        self.quiet: dict[tuple[str, str, str | None], int] = {}  # fired keys -> quiet windows since
        self.level: dict[tuple[str, str, str | None], Severity] = {}  # fired keys -> the severity they fired at
        self.last_event: dict[tuple[str, str], int] = {}  # (kind, detector) -> ts of its last event
        self.last_severity: dict[tuple[str, str], Severity] = {}  # (kind, detector) -> severity of its last event
        self.suppressed = 0

    def __setstate__(self, state: dict[str, object]) -> None:
        """Snapshots taken before ``level`` existed: their fired keys count as fired at their worst."""
        self.__dict__.update(state)
        if "level" not in state:
            self.level = {key: "critical" for key in self.quiet}

    def fired(self, key: tuple[str, str, str | None]) -> bool:
        return key in self.quiet

    def update(self, findings: Iterable[Finding], ts: int) -> list[Alarm]:
        """Findings of one window (or batch) ending at event time ``ts`` -> the alarms to report."""
        new: dict[tuple[str, str], list[Finding]] = {}
        for finding in findings:
            key = finding.key
            if finding.drifted:
                fired_at = self.level.get(key) if key in self.quiet else None
                if fired_at is None or SEVERITY_ORDER[finding.severity] > SEVERITY_ORDER[fired_at]:
                    new.setdefault((finding.kind, finding.detector), []).append(finding)
                    self.level[key] = finding.severity
                self.quiet[key] = 0
            elif key in self.quiet:
                self.quiet[key] += 1
                if self.quiet[key] >= self.rearm_after:
                    del self.quiet[key]
                    self.level.pop(key, None)
        alarms = []
        for group, fired in new.items():
            fired.sort(key=lambda f: (SEVERITY_ORDER[f.severity], f.statistic / f.threshold if f.threshold else 0.0))
            alarm = Alarm(fired[::-1])
            last = self.last_event.get(group)
            if last is not None and ts - last < self.cooldown_ms:
                previous = self.last_severity.get(group, "critical")
                if SEVERITY_ORDER[alarm.severity] <= SEVERITY_ORDER[previous]:
                    self.suppressed += 1
                    continue
            self.last_event[group] = ts
            self.last_severity[group] = alarm.severity
            alarms.append(alarm)
        return alarms
