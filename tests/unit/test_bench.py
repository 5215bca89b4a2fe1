"""The bench's arithmetic and pictures: Sandbank held against the plainest bank, a run's
timeline by second, tracing's share, and the PNGs written from a small result."""

from __future__ import annotations

import json
from pathlib import Path

from bench.plots import plot_history, plot_run
from bench.tracing_cost import summary
from bench.transfers import against_plain, halves, timeline

PNG = b"\x89PNG\r\n\x1a\n"


def result(cpu: float, rate: float) -> dict[str, float]:
    return {"stack_cpu_ms_per_transfer": cpu, "completed_per_s": rate}


def test_sandbank_is_held_against_the_plain_bank_as_ratios() -> None:
    versus = against_plain(result(6.0, 250.0), result(0.3, 3000.0))

    assert versus["cpu_ratio"] == 20.0
    assert versus["throughput_ratio"] == round(250 / 3000, 3)
    assert (versus["sandbank_cpu_ms_per_transfer"], versus["plain_cpu_ms_per_transfer"]) == (6.0, 0.3)


def test_a_plain_bank_that_measured_nothing_gives_no_ratio() -> None:
    versus = against_plain(result(6.0, 250.0), result(0.0, 0.0))

    assert versus["cpu_ratio"] is None and versus["throughput_ratio"] is None


def test_the_timeline_counts_and_ranks_each_second() -> None:
    accepted = [(0.1, 0.010), (0.5, 0.030), (0.9, 0.020), (1.2, 0.050)]
    completed = [(1.5, 0.400), (2.1, 0.800)]

    seconds = timeline(accepted, completed)

    assert [s["accepted"] for s in seconds] == [3, 1, 0]
    assert [s["completed"] for s in seconds] == [0, 1, 1]
    assert seconds[0]["accept_ms"] == {"p50": 20.0, "p90": 30.0, "p99": 30.0}
    assert seconds[0]["completion_ms"]["p50"] is None
    assert seconds[2]["completion_ms"]["p99"] == 800.0


def test_each_second_says_how_much_cpu_each_process_spent_in_it() -> None:
    cpu = [{"payments": 1.0, "broker": 0.5}, {"payments": 1.2, "broker": 0.55}, {"payments": 1.5, "broker": 0.65}]

    seconds = timeline([(0.1, 0.01), (1.5, 0.02), (2.5, 0.03)], [], cpu)

    assert seconds[0]["cpu_ms"] == {"payments": 200, "broker": 50}
    assert seconds[1]["cpu_ms"] == {"payments": 300, "broker": 100}
    assert "cpu_ms" not in seconds[2]  # no sample at its end
    assert "cpu_ms" not in timeline([(0.1, 0.01)], [])[0]


def test_the_halves_show_a_run_that_slows_and_costs_more_as_it_goes() -> None:
    # 4 s of load: 3 transfers a second then 1, the stack's CPU 30 ms a second throughout
    # (the load generator's own is left out of the stack's).
    completed = [(s + i / 10, 0.5) for s in (0, 1) for i in range(3)] + [(2.5, 0.5), (3.5, 0.5)]
    accepted = [(0.5, 0.010), (1.5, 0.020), (2.5, 0.100), (3.5, 0.200)]
    cpu = [{"payments": 0.03 * k, "bench_client": 5.0 * k} for k in range(5)]

    found = halves(accepted, completed, cpu, 4)

    assert found["first"] == {
        "seconds": [0, 2],
        "completed_per_s": 3.0,
        "accept_p99_ms": 20.0,
        "stack_cpu_ms_per_transfer": 10.0,
    }
    assert found["second"]["completed_per_s"] == 1.0
    assert found["second"]["accept_p99_ms"] == 200.0
    assert found["second"]["stack_cpu_ms_per_transfer"] == 30.0


def test_a_half_without_cpu_samples_to_its_end_gives_no_cpu_figure() -> None:
    found = halves([(0.5, 0.01)], [(0.5, 0.4), (2.5, 0.4)], [{"payments": 0.0}, {"payments": 0.1}], 4)

    assert found["first"]["stack_cpu_ms_per_transfer"] is None
    assert found["second"]["completed_per_s"] == 0.5


def test_tracing_share_is_of_the_cpu_with_it_on() -> None:
    runs = [
        {"tracing": False, "stack_cpu_ms": 8.0, "completed_per_s": 100},
        {"tracing": True, "stack_cpu_ms": 10.0, "completed_per_s": 90},
        {"tracing": False, "stack_cpu_ms": 9.0, "completed_per_s": 100},
        {"tracing": True, "stack_cpu_ms": 11.0, "completed_per_s": 95},
        {"tracing": False, "stack_cpu_ms": 7.0, "completed_per_s": 100},
        {"tracing": True, "stack_cpu_ms": 12.0, "completed_per_s": 80},
    ]

    found = summary(runs)

    assert (found["off_ms"], found["on_ms"]) == (8.0, 11.0)
    assert found["ratio"] == round(11 / 8, 3)
    assert found["tracing_share"] == round(1 - 8 / 11, 3)
    assert summary(runs[:1])["tracing_share"] is None


def test_a_run_and_the_history_are_drawn_as_pngs(tmp_path: Path) -> None:
    run = {
        "when": "2026-12-01T00:00:00Z",
        "mode": "closed loop of 4 clients",
        "completed_per_s": 200.0,
        "stack_cpu_ms_per_transfer": 8.0,
        "timeline": timeline([(0.2, 0.01), (1.3, 0.02)], [(0.8, 0.3), (1.9, 0.4)]),
        "against_plain": against_plain(result(8.0, 200.0), result(0.4, 2000.0)),
    }
    older = {"completed_per_s": 180.0, "cpu_ms_per_transfer": {"payments": 4.0, "gateway": 3.0, "bench_client": 1.0}}
    (tmp_path / "transfers-20261130-000000.json").write_text(json.dumps(older))
    path = tmp_path / "transfers-20261201-000000.json"
    path.write_text(json.dumps(run))

    for png in (plot_run(path), plot_history(tmp_path)):
        assert png.parent == tmp_path
        data = png.read_bytes()
        assert data.startswith(PNG) and len(data) > 1000
