"""A refused `satchel serve` leaves the data folder and the databases as they were: every setting,
file and store that can refuse the start is checked before anything is written. A setting
read after the session key used to leave ``session.key`` behind; a trust list, ``x5c`` anchor
or CA file that cannot be read, or a port in use, left the schema migrated, the store key and
the vault made and the deployment recorded."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.holder_api.served import ROOT, free_port


def _serve(data: Path, port: int = 0, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SATCHEL_")}
    return subprocess.run(
        [sys.executable, "-m", "holder_api.cli", "serve", "--data-dir", str(data),
         "--port", str(port)],
        env={**base, "PYTHONPATH": str(ROOT), "SATCHEL_ALLOW_WEAK_KDF": "1",
             "SATCHEL_KDF_MEMLIMIT_MIB": "1", **env},
        cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("env", "status", "said"), [
    # read after the session key: it was written first
    ({"SATCHEL_TOKEN_TTL": "5"}, 2, "SATCHEL_TOKEN_TTL"),
    ({"SATCHEL_METRICS_TOKEN": "short"}, 2, "SATCHEL_METRICS_TOKEN"),
    # files the stores' opening read last, after the schema, vault and record were made
    ({"SATCHEL_TRUST_LIST": "/nonexistent/trust.json"}, 1, "trust list"),
    ({"SATCHEL_X5C_ANCHORS_FILE": "/nonexistent/anchors.pem"}, 1, "x5c anchor"),
    ({"SATCHEL_EXTRA_CA_FILE": "/nonexistent/ca.pem"}, 1, "SATCHEL_EXTRA_CA_FILE"),
])
def test_a_refused_start_on_an_empty_data_folder_leaves_it_empty(
        tmp_path: Path, env: dict[str, str], status: int, said: str) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    r = _serve(data, **env)
    assert r.returncode == status, r.stderr
    assert said in r.stderr, r.stderr
    assert sorted(p.name for p in data.iterdir()) == [], r.stderr
    # nor is a data folder that does not exist made
    missing = tmp_path / "not-yet"
    assert _serve(missing, **env).returncode == status
    assert not missing.exists()


def test_a_port_in_use_refuses_before_anything_is_written(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        r = _serve(data, port=held.getsockname()[1])
    assert r.returncode == 1, r.stderr
    assert "cannot start" in r.stderr, r.stderr
    assert sorted(p.name for p in data.iterdir()) == [], r.stderr


def test_a_start_says_the_fitted_connection_bound_once(tmp_path: Path) -> None:
    """The start asks the open-files limit before it writes anything, and again as it serves:
    the bound fitted under a small limit is said once, by the start that serves."""
    def small_limit() -> None:  # the listen backlog (2048) and a reserve fit, 1024 do not
        resource.setrlimit(resource.RLIMIT_NOFILE, (3000, 3000))

    base = {k: v for k, v in os.environ.items() if not k.startswith("SATCHEL_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "holder_api.cli", "serve", "--data-dir", str(tmp_path / "data"),
         "--port", str(free_port())],
        env={**base, "PYTHONPATH": str(ROOT), "SATCHEL_ALLOW_WEAK_KDF": "1",
             "SATCHEL_KDF_MEMLIMIT_MIB": "1"},
        cwd=ROOT, stderr=subprocess.PIPE, text=True, preexec_fn=small_limit)
    lines = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if line.startswith("satchel: serving on"):
                break
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    said = "".join(lines) + (rest or "")
    assert proc.returncode == 0, said
    assert said.count("serving at most") == 1, said
