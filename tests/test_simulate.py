"""bench/simulate.py's core at a small size: two simulated hours across the night-to-early
shift change, through the real routing, SLA and paging code. Nothing is routed to an
agent off shift; the check itself catches a routing that ignores shifts."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from datetime import timedelta
from types import ModuleType

import pytest

import conversation.assignment as assignment
from tests.conftest import ROOT


def simulation() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_simulate", ROOT / "bench" / "simulate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_two_simulated_hours_route_nothing_off_shift() -> None:
    sim = simulation()
    day = sim.simulate(3, hours=2, contacts=900, start_hour=6, drain=timedelta(minutes=30))
    assert len(day.arrivals) > 20
    assert day.hub.off_shift == 0
    assert day.hub.never_assigned == 0
    answered = [v for v in day.hub.frt.values() if v is not None]
    assert len(answered) == len(day.arrivals)
    # the shift-blind baseline gives tickets to agents who are not there
    rr = day.round_robin.frt_values(day.arrivals, day.end)
    assert sim.percentile(rr, 0.9) > sim.percentile(day.hub.frt_values(day.arrivals, day.end), 0.9)


def test_the_off_shift_count_sees_a_routing_blind_to_shifts_and_presence(monkeypatch: pytest.MonkeyPatch) -> None:
    sim = simulation()
    qualifies = assignment.qualifies
    monkeypatch.setattr(
        assignment,
        "qualifies",
        lambda c, need, weights: qualifies(replace(c, on_shift=True, presence="online"), need, weights),
    )
    day = sim.simulate(3, hours=1, contacts=900, start_hour=6, drain=timedelta(minutes=20))
    assert day.hub.off_shift > 0


def test_each_agents_row_says_their_shift_or_backup_duty() -> None:
    sim = simulation()
    assert sim.role_of("zhang-wei") == "早班 07:00-15:00"
    assert sim.role_of(sim.ABSENT) == "中班 15:00-23:00, absent"
    assert sim.role_of("ma-lin") == "中班备班 15:00-23:00 backup"
