"""The scale bench's parts that hold without timing: its arguments, the ratio and ceiling
arithmetic, and the Lua script it gives ``wrk`` (run for real against a local server that
records what it was sent)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from shutil import which

import pytest

from holder_api.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import scale  # noqa: E402
from scale_capacity import (  # noqa: E402
    Capacity,
    Spread,
    ceiling,
    cpu_per_request,
    parse_wrk,
    projected,
    round_ratios,
    wrk_command,
    wrk_script,
)

# ----------------------------------------------------------------------------------- arguments


def test_defaults_interleave_rounds_under_two_placements() -> None:
    args = scale.build_parser().parse_args([])
    assert (args.rounds, args.capacity_seconds, args.placements) == (4, 5, ["gen-last", "float"])
    assert (args.learners, args.replicas) == ([1000], [1, 2])
    # per replica: as many as one admits at once
    assert args.capacity_connections == Settings.from_env({}).max_in_flight == 8


def test_each_variant_is_a_comparison_of_its_own() -> None:
    args = scale.build_parser().parse_args([
        "--variant", "SATCHEL_MAX_IN_FLIGHT=16", "--variant",
        "SATCHEL_MAX_CONNECTIONS=0,SATCHEL_ADAPTIVE_IN_FLIGHT=1", "--storm", "4"])
    assert args.variant == [{"SATCHEL_MAX_IN_FLIGHT": "16"},
                            {"SATCHEL_MAX_CONNECTIONS": "0", "SATCHEL_ADAPTIVE_IN_FLIGHT": "1"}]
    assert args.storm == 4.0
    with pytest.raises(SystemExit):
        scale.build_parser().parse_args(["--variant", "MAX_IN_FLIGHT=16"])


def test_the_admission_rules_are_compared_in_one_pass(capsys: pytest.CaptureFixture[str]) -> None:
    """The overload rule before (head) beside the default (sojourn) and a baseline's code, each
    variant checked before anything runs: a misspelt name would be ignored by the replicas (the
    variant would measure the default again), a bad value would stop them at its turn."""
    root = Path(__file__).resolve().parents[1]
    args = scale.build_parser().parse_args([
        "--variant", "SATCHEL_ADMISSION_RULE=head", "--baseline-code", str(root)])
    assert args.variant == [{"SATCHEL_ADMISSION_RULE": "head"}]
    assert Settings.from_env(args.variant[0]).admission_rule == "head"
    assert Settings.from_env(args.replica_env).admission_rule == "sojourn"
    for argv, why in ((["--variant", "SATCHEL_ADMISSION_RUL=head"], "not a setting"),
                      (["--compare-env", "SATCHEL_ADMISSION_RUL=head"], "not a setting"),
                      (["--variant", "SATCHEL_ADMISSION_RULE=haed"], "SATCHEL_ADMISSION_RULE"),
                      (["--variant", "SATCHEL_QUEUE_TARGET=0.2"], "SATCHEL_QUEUE_TARGET")):
        with pytest.raises(SystemExit):
            scale.build_parser().parse_args(argv)
        assert why in capsys.readouterr().err
    # settings that hold only together are checked together
    both = scale.build_parser().parse_args([
        "--variant", "SATCHEL_QUEUE_TARGET=0.2,SATCHEL_QUEUE_INTERVAL=1"])
    assert both.variant == [{"SATCHEL_QUEUE_TARGET": "0.2", "SATCHEL_QUEUE_INTERVAL": "1"}]


def test_a_baseline_checkout_is_a_folder_with_the_packages(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    args = scale.build_parser().parse_args(["--baseline-code", str(root)])
    assert args.baseline_code == root
    assert scale.build_parser().parse_args([]).baseline_code is None
    with pytest.raises(SystemExit):
        scale.build_parser().parse_args(["--baseline-code", str(tmp_path)])


def test_placements_keep_their_order_and_drop_repeats() -> None:
    args = scale.build_parser().parse_args(["--placements", "shared-last,gen-last,shared-last"])
    assert args.placements == ["shared-last", "gen-last"]


@pytest.mark.parametrize("argv", [["--placements", "pinned"], ["--placements", ","],
                                  ["--rounds", "0"], ["--capacity-seconds", "1.5"],
                                  ["--learners", "1000,x"], ["--replicas", "0,2"],
                                  ["--capacity-connections", "0"]])
def test_bad_arguments_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        scale.build_parser().parse_args(argv)
    assert exit_.value.code == 2
    assert argv[0] in capsys.readouterr().err


def test_replica_settings_are_gathered_by_name_and_checked(
        capsys: pytest.CaptureFixture[str]) -> None:
    args = scale.build_parser().parse_args([
        "--replica-env", "SATCHEL_MAX_IN_FLIGHT=8", "--compare-env", "SATCHEL_ADAPTIVE_IN_FLIGHT=1",
        "--replica-env", "SATCHEL_MAX_QUEUED=4", "--replica-env", "SATCHEL_MAX_IN_FLIGHT=12"])
    assert args.replica_env == {"SATCHEL_MAX_IN_FLIGHT": "12", "SATCHEL_MAX_QUEUED": "4"}
    assert args.compare_env == {"SATCHEL_ADAPTIVE_IN_FLIGHT": "1"}
    defaults = scale.build_parser().parse_args([])
    assert (defaults.replica_env, defaults.compare_env) == ({}, {})
    for bad in ("SATCHEL_ADAPTIVE_IN_FLIGHT", "PATH=/tmp", "SATCHEL_X-Y=1"):
        with pytest.raises(SystemExit):
            scale.build_parser().parse_args(["--compare-env", bad])
        assert "--compare-env" in capsys.readouterr().err


def test_what_admitted_requests_paid_is_worded_from_the_metrics_difference() -> None:
    held = {"wait_sum": 0.5, "wait_count": 100.0, "wait_over_10ms": 7.0, "gc_cpu": 0.3}
    assert scale.paid(held, 15.0) == ("admitted requests' wait for a slot: mean 5.0 ms, 7.0% "
                                      "over 10 ms; garbage collection 20 ms of CPU a second")
    nothing = {"wait_sum": 0.0, "wait_count": 0.0, "wait_over_10ms": 0.0, "gc_cpu": 0.0}
    assert "mean 0.0 ms, 0.0% over 10 ms" in scale.paid(nothing, 15.0)


def test_a_step_under_the_capacity_says_what_it_shed() -> None:
    r = scale.Result(sent=7500, ok=6240, shed=1260, errors=0,
                     latencies_ms=[float(ms) for ms in range(1, 101)], seconds=15.0)
    assert scale.steady(r) == "51 / 96 / 100 ms; served 416/s, shed 1,260"


def test_help_names_every_placement() -> None:
    text = scale.build_parser().format_help()
    for name in ("gen-last", "float", "shared-last", "--rounds", "--capacity-seconds"):
        assert name in text


# ---------------------------------------------------------------------------------- arithmetic


def test_ceiling_is_the_cores_shared_with_postgresql_and_the_generator() -> None:
    # the figures of the quiet-machine runs: r 2.29 ms, p 0.3 ms, g 0.13 ms per request
    assert ceiling(2, 2, 2290, 300, 130) == pytest.approx(2 * 2290 / 2720)


def test_ceiling_is_the_replica_count_when_nothing_else_costs() -> None:
    assert ceiling(2, 2, 2000, 0, 0) == 2.0
    assert ceiling(2, 4, 2000, 300, 100) == 2.0  # spare cores: each replica has its own


def test_ceiling_on_fewer_cores_than_replicas() -> None:
    assert ceiling(2, 1, 1000, 250, 0) == pytest.approx(0.8)


def test_ceiling_refuses_a_replica_that_cost_nothing() -> None:
    with pytest.raises(ValueError):
        ceiling(2, 2, 0, 300, 130)


def test_projection_falls_when_a_replica_costs_more_beside_another() -> None:
    same = projected(2, 2, 2290, 2290, 300, 130)
    dearer = projected(2, 2, 2290, 2290 * 1.1, 300, 130)
    assert same == pytest.approx(ceiling(2, 2, 2290, 300, 130))
    assert dearer == pytest.approx(2 * 2290 / (2290 * 1.1 + 430))


def test_round_ratios_pair_each_run_with_the_one_before() -> None:
    assert round_ratios([400, 500], [700, 600]) == [1.75, 1.2]
    with pytest.raises(ValueError):
        round_ratios([400], [700, 600])


def test_spread_is_median_and_range() -> None:
    s = Spread.of([3.0, 1.0, 2.0, 10.0])
    assert (s.median, s.low, s.high) == (2.5, 1.0, 10.0)
    assert s.show("{:.1f}", "×") == "2.5× (1.0–10.0×)"


def _run(replicas: int, rate: float, shares: dict[str, float]) -> Capacity:
    return Capacity(replicas, "gen-last", rate, ok=int(rate * 5), non2xx=0, errors=0,
                    p99_ms=1.0, wall=5.0, cpu=shares)


def test_cpu_per_request_from_shares() -> None:
    run = _run(2, 800, {"replica 1": 0.9, "replica 2": 0.7, "PostgreSQL": 0.24,
                        "load generator": 0.04, "others": 0.1})
    per = cpu_per_request(run)
    assert per == pytest.approx({"replica": 1.6 / 800 * 1e6, "PostgreSQL": 300.0,
                                 "generator": 50.0})


def test_summary_takes_medians_and_round_ratios() -> None:
    ones = [_run(1, rate, {"replica 1": 1.0, "PostgreSQL": 0.12, "load generator": 0.02})
            for rate in (400, 500, 450)]
    twos = [_run(2, rate, {"replica 1": 0.9, "replica 2": 0.8, "PostgreSQL": 0.24,
                           "load generator": 0.04}) for rate in (720, 700, 810)]
    s = scale.summarise({1: ones, 2: twos}, cores=2)
    assert s["capacity"][1].median == 450
    assert s["capacity"][2] == Spread(720, 700, 810)
    assert s["ratio"][2] == Spread.of([1.8, 1.4, 1.8])
    r, p, g = (s["per_request_us"][1][k] for k in ("replica", "PostgreSQL", "generator"))
    assert (r, p, g) == pytest.approx((1e6 / 450, 0.12e6 / 450, 0.02e6 / 450))
    assert s["ceiling"][2] == pytest.approx(2 * r / (r + p + g))


def test_a_ratio_taken_beside_other_work_is_flagged() -> None:
    quiet = {1: {"replica 1": 0.99, "others": 0.04}, 2: {"replica 1": 0.9, "others": 0.08}}
    starved = {1: {"replica 1": 0.60, "others": 0.93}, 2: {"replica 1": 0.7, "others": 0.05}}
    crowded = {1: {"replica 1": 0.95, "others": 0.9}, 2: {"replica 1": 0.7, "others": 0.39}}
    assert scale.busy_caveat(quiet) == ""
    assert "one replica got 60% of its core" in scale.busy_caveat(starved)
    assert "other processes" not in scale.busy_caveat(starved)  # beside one: the free core
    assert "39%" in scale.busy_caveat(crowded) and "one replica" not in scale.busy_caveat(crowded)


# ------------------------------------------------------------------------------- wrk and Lua


def test_script_refuses_tokens_that_would_break_the_request() -> None:
    for bad in ('abc"def', "abc\r\nX-Evil: 1", "abc def"):
        with pytest.raises(ValueError):
            wrk_script(["good.token", bad], "/v1/credentials?limit=20")
    with pytest.raises(ValueError):
        wrk_script([], "/v1/credentials?limit=20")


def test_wrk_command_spreads_nothing_it_was_not_given() -> None:
    cmd = wrk_command("http://127.0.0.1:1", Path("/x.lua"), connections=16, seconds=5, seed=3)
    assert cmd[-2:] == ["--", "3"] and "-c16" in cmd and "-d5s" in cmd and "-t1" in cmd
    with pytest.raises(ValueError):
        wrk_command("http://127.0.0.1:1", Path("/x.lua"), connections=0, seconds=5, seed=0)


def test_parse_wrk_counts_answers_that_were_not_errors() -> None:
    line = json.dumps({"duration_us": 5_000_000, "requests": 2300, "non2xx": 7, "connect": 0,
                       "read": 2, "write": 0, "timeout": 1, "p50_us": 4100, "p99_us": 22000})
    run = parse_wrk("Running 5s test\n" + line + "\n")
    assert (run.ok, run.errors, run.seconds, run.p99_ms) == (2290, 3, 5.0, 22.0)
    with pytest.raises(ValueError):
        parse_wrk("Running 5s test\n")


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        _Recorder.seen.append((self.path, self.headers.get("Authorization", "")))
        body = b"{}"
        self.send_response(200 if len(_Recorder.seen) % 10 else 503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        return None


@pytest.fixture
def recorder() -> Iterator[str]:
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _wrk_sent(url: str, script: Path, seed: int) -> tuple[list[str], int]:
    """The tokens a one-second, one-connection ``wrk`` run sent, in order, and its non-2xx."""
    _Recorder.seen = []
    done = subprocess.run(wrk_command(url, script, connections=1, seconds=1, seed=seed),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    run = parse_wrk(done.stdout)
    seen = _Recorder.seen[:run.requests]
    assert seen and {p for p, _ in seen} == {"/v1/credentials?limit=20"}
    assert run.non2xx == len(seen) // 10  # the recorder answers every tenth with 503
    return [auth.removeprefix("Bearer ") for _, auth in seen], run.non2xx


# skipped with its reason on a machine without wrk; .ci/run installs it and sets
# SATCHEL_REQUIRE_WRK=1, so in CI a missing wrk fails the test instead of skipping it
@pytest.mark.skipif(which("wrk") is None and os.environ.get("SATCHEL_REQUIRE_WRK") != "1",
                    reason="wrk is not installed")
def test_wrk_runs_the_script_and_draws_among_the_tokens(recorder: str, tmp_path: Path) -> None:
    tokens = [f"tok{k}.part-{k}_x" for k in range(50)]
    script = tmp_path / "draw.lua"
    script.write_text(wrk_script(tokens, "/v1/credentials?limit=20"))
    first, _ = _wrk_sent(recorder, script, seed=1)
    again, _ = _wrk_sent(recorder, script, seed=1)
    other, _ = _wrk_sent(recorder, script, seed=2)
    assert set(first + again + other) <= set(tokens)
    n = min(len(first), len(again))
    assert first[:n] == again[:n]  # the draws follow the seed...
    assert first[0] != other[0]  # ...so each replica's generator, seeded apart, draws its own
    # and in no fixed order: a rotation (the replicas' caches would always miss it) would send
    # each token's successor next
    position = {t: k for k, t in enumerate(tokens)}
    assert any(position[b] != (position[a] + 1) % len(tokens)
               for a, b in zip(first, first[1:], strict=False))
