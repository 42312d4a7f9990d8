"""Launcher choice, and the Kubernetes launcher's one-line error without kubectl (no cluster here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.services import isolated_settings
from training.pipeline import TrainOptions
from training.trigger.launcher import KubectlMissing, KubernetesLauncher, LocalLauncher, launcher_for


def test_the_setting_picks_the_launcher(tmp_path: Path) -> None:
    assert isinstance(launcher_for(isolated_settings(tmp_path)), LocalLauncher)
    assert isinstance(launcher_for(isolated_settings(tmp_path, retrain_launcher="kubernetes")), KubernetesLauncher)


def test_without_kubectl_the_error_says_what_to_do(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path, retrain_launcher="kubernetes")
    launcher = KubernetesLauncher(settings, kubectl="kubectl-not-installed-here")
    with pytest.raises(KubectlMissing, match="not installed or not on PATH.*RTML_RETRAIN_LAUNCHER=local"):
        launcher.run("fraud", TrainOptions(trigger="d1"), lambda _: None)
    assert not (tmp_path / "training").exists()  # nothing was written before the check
