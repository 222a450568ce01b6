"""The tool-based deployment checks (docker-compose config, promtool, kubectl kustomize), run
through scripts/check-deploy.sh so CI and a developer run exactly the same commands.
A missing tool fails with the command that installs it: these checks are never skipped."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check-deploy.sh"


@pytest.mark.parametrize("step", ["compose", "prometheus", "kustomize"])
def test_check_deploy_step(step: str) -> None:
    done = subprocess.run(
        ["bash", str(SCRIPT), step], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, (
        f"scripts/check-deploy.sh {step} failed:\n{done.stdout}\n{done.stderr}"
    )
