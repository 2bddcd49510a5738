"""Every provider × every contract scenario of its protocol (tests/providers/scenarios.py's tables), over
real HTTP against the local emulators, through the real job runner.

Each case must end as its scenario says (``Scenario.job_end``), within the run's time limit, with the
scenario's number of paid submits sent and at most one accepted, and without the key ever reaching a host
other than the provider's API. The table of outcomes is printed at the end of the run.
"""

from __future__ import annotations

import pytest

from tests.emulators.base import SCENARIOS
from tests.providers.job_scenarios import CONTRACT_PAIRS, JOB_RIGS, Rig, Scenario, drive_contract

OUTCOMES: dict[tuple[str, str], str] = {}


@pytest.mark.parametrize(
    ("rig", "scenario"), CONTRACT_PAIRS, ids=[f"{r.name}-{s.name}" for r, s in CONTRACT_PAIRS]
)
def test_fault(rig: Rig, scenario: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    OUTCOMES[(rig.name, scenario.name)] = drive_contract(rig, scenario, monkeypatch)


def test_print_the_fault_table(capsys):
    """Runs last in this module: the provider × fault table (blank where a case did not run)."""
    providers = [r.name for r in JOB_RIGS]
    width = max(len(s) for s in SCENARIOS)
    lines = ["", "fault".ljust(width) + " | " + " | ".join(p.ljust(19) for p in providers)]
    for sc in SCENARIOS:
        lines.append(
            sc.ljust(width) + " | " + " | ".join(OUTCOMES.get((p, sc), "").ljust(19) for p in providers)
        )
    with capsys.disabled():
        print("\n".join(lines))
    assert all(OUTCOMES.values())
