"""The `firewall` command, run in-process (`firewall.cli.main`) and once as `python -m firewall`."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from firewall import Firewall, Limits
from firewall.cli import EXIT_BAD_INPUT, EXIT_CLEAN, EXIT_DETECTED, main
from firewall.engine import checks

SqsEvent = Callable[..., dict[str, Any]]
"""The `sqs_event` fixture (conftest): bodies -> an SQS event."""

REPO = Path(__file__).resolve().parents[2]
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def good(fixtures_dir: Path) -> str:
    return str(fixtures_dir / "good")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_exit_codes_are_distinct() -> None:
    assert (EXIT_CLEAN, EXIT_DETECTED, EXIT_BAD_INPUT) == (0, 1, 2)


# --- scan --text --------------------------------------------------------------------------------------


def test_scan_text_detected(capsys: pytest.CaptureFixture[str], good: str) -> None:
    code, out, _ = _run(capsys, "scan", "--text", SCRIPT, "--signatures", good)
    assert code == EXIT_DETECTED
    assert "QUARANTINE" in out
    assert "FW-TEST-001" in out
    assert "score 5" in out


def test_scan_text_clean(capsys: pytest.CaptureFixture[str], good: str) -> None:
    code, out, _ = _run(capsys, "scan", "--text", "a script for the play", "--signatures", good)
    assert code == EXIT_CLEAN
    assert "FORWARD" in out
    assert "FW-TEST" not in out


def test_scan_text_below_threshold_is_clean_but_lists_the_match(capsys: pytest.CaptureFixture[str], good: str) -> None:
    code, out, _ = _run(capsys, "scan", "--text", "1 union select 2", "--signatures", good)
    assert code == EXIT_CLEAN
    assert "FW-TESTMORE-001" in out
    assert "score 2" in out


def test_scan_text_monitor_mode_still_exits_detected(capsys: pytest.CaptureFixture[str], good: str) -> None:
    code, out, _ = _run(capsys, "scan", "--text", SCRIPT, "--signatures", good, "--mode", "monitor")
    assert code == EXIT_DETECTED
    assert "FORWARD (detected)" in out


def test_scan_text_paranoia_option(capsys: pytest.CaptureFixture[str], good: str) -> None:
    assert _run(capsys, "scan", "--text", "1 and sleep(5)", "--signatures", good)[1].count("FW-TEST-003") == 0
    code, out, _ = _run(capsys, "scan", "--text", "1 and sleep(5)", "--signatures", good, "--paranoia", "2")
    assert code == EXIT_CLEAN  # low severity: reported, below the threshold
    assert "FW-TEST-003" in out


def test_scan_json_output_parses(capsys: pytest.CaptureFixture[str], good: str) -> None:
    code, out, _ = _run(capsys, "scan", "--text", SCRIPT, "--signatures", good, "--json")
    assert code == EXIT_DETECTED
    document = json.loads(out)
    assert document["signature_set"] == Firewall.load(good).version
    (record,) = document["records"]
    assert record["detected"] is True
    assert record["action"] == "quarantine"
    assert [m["signature_id"] for m in record["matches"]] == ["FW-TEST-001"]


def test_scan_uses_the_bundled_signatures_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "scan", "--text", "1' OR '1'='1", "--json")
    assert code == EXIT_DETECTED
    assert {m["category"] for m in json.loads(out)["records"][0]["matches"]} == {"sqli"}


# --- scan of events -------------------------------------------------------------------------------------


def test_scan_event_file(
    capsys: pytest.CaptureFixture[str], good: str, tmp_path: Path, sqs_event: SqsEvent
) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(sqs_event("hello", json.dumps({"note": SCRIPT}))))
    code, out, _ = _run(capsys, "scan", str(path), "--signatures", good)
    assert code == EXIT_DETECTED
    assert "msg-1: FORWARD" in out
    assert "msg-2: QUARANTINE" in out
    assert "1 forwarded, 1 quarantined" in out


def test_scan_clean_event_file(
    capsys: pytest.CaptureFixture[str], good: str, tmp_path: Path, sqs_event: SqsEvent
) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(sqs_event("hello", "world")))
    code, out, _ = _run(capsys, "scan", str(path), "--signatures", good, "--json")
    assert code == EXIT_CLEAN
    assert [r["record_id"] for r in json.loads(out)["records"]] == ["msg-1", "msg-2"]


def test_scan_event_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, good: str, sqs_event: SqsEvent
) -> None:
    monkeypatch.setattr(sys, "stdin", _stdin(json.dumps(sqs_event(SCRIPT)).encode()))
    code, out, _ = _run(capsys, "scan", "-", "--signatures", good, "--json")
    assert code == EXIT_DETECTED
    assert json.loads(out)["records"][0]["record_id"] == "msg-1"


@pytest.mark.parametrize("as_json", [False, True])
@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("", "not valid JSON"),
        ('{"hello": "world"}', "expected"),  # unknown event shape: the error names what is expected
        ("[1, 2, 3]", "expected"),
        ('{"Records": [], "n": ' + "9" * 5_000 + "}", "holds a number Python does not read"),
        ("[" * 10_000 + "]" * 10_000, "nests JSON too deeply"),
    ],
)
def test_scan_bad_event_exits_2(
    capsys: pytest.CaptureFixture[str], good: str, tmp_path: Path, content: str, message: str, as_json: bool
) -> None:
    """With --json, standard output holds an error document as well."""
    path = tmp_path / "event.json"
    path.write_text(content)
    code, out, err = _run(capsys, "scan", str(path), "--signatures", good, *(["--json"] if as_json else []))
    assert code == EXIT_BAD_INPUT
    assert err.startswith("firewall: ")
    assert message in err
    if as_json:
        assert json.loads(out) == {"error": err.removeprefix("firewall: ").strip(), "exit": EXIT_BAD_INPUT}
    else:
        assert out == ""


def test_scan_bad_stdin_exits_2(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, good: str) -> None:
    monkeypatch.setattr(sys, "stdin", _stdin(b"garbage"))
    code, _, err = _run(capsys, "scan", "-", "--signatures", good)
    assert code == EXIT_BAD_INPUT
    assert "not valid JSON" in err


def test_invalid_utf8_is_refused_on_stdin_as_in_a_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, good: str, tmp_path: Path
) -> None:
    """Standard input used to be read with the locale's surrogateescape and judged clean."""
    event = b'{"Records":[{"eventSource":"aws:sqs","messageId":"m","body":"caf\xff"}]}'
    monkeypatch.setattr(sys, "stdin", _stdin(event))
    code, out, err = _run(capsys, "scan", "-", "--signatures", good)
    assert (code, out) == (EXIT_BAD_INPUT, "") and "cannot read -" in err and "utf-8" in err
    (tmp_path / "event.json").write_bytes(event)
    assert _run(capsys, "scan", str(tmp_path / "event.json"), "--signatures", good)[0] == EXIT_BAD_INPUT


def test_a_reader_that_stops_early_leaves_the_exit_status_and_no_traceback(tmp_path: Path, sqs_event: SqsEvent) -> None:
    """`firewall scan ... | head -1`: the rest of the output has nowhere to go, and the status still
    says an attack was found."""
    path = tmp_path / "event.json"
    path.write_text(json.dumps(sqs_event(*[SCRIPT] * 3_000)))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with subprocess.Popen(
        [sys.executable, "-m", "firewall", "scan", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    ) as child:
        assert child.stdout is not None and child.stderr is not None
        first = child.stdout.readline()
        child.stdout.close()
        errors = child.stderr.read()
        assert child.wait(timeout=120) == EXIT_DETECTED
    assert first.startswith(b"[1/3000] msg-1: QUARANTINE") and errors == b""


def _stdin(data: bytes) -> io.TextIOWrapper:
    """A standard input holding `data`, with the byte buffer a real one has (and the error handler
    Python gives it under the C locale)."""
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="surrogateescape")


def test_scan_missing_file_exits_2(capsys: pytest.CaptureFixture[str], good: str, tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    code, _, err = _run(capsys, "scan", str(missing), "--signatures", good)
    assert code == EXIT_BAD_INPUT
    assert str(missing) in err


def test_scan_with_missing_signatures_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(capsys, "scan", "--text", "x", "--signatures", str(tmp_path / "none"))
    assert code == EXIT_BAD_INPUT
    assert str(tmp_path / "none") in err


@pytest.mark.parametrize(
    "argv",
    [
        ["scan"],  # neither an event nor --text
        ["scan", "event.json", "--text", "x"],  # both
        ["scan", "--text", "x", "--paranoia", "7"],
        ["scan", "--text", "x", "--mode", "block"],
        ["signatures", "frobnicate"],
        [],
    ],
)
def test_bad_command_lines_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == EXIT_BAD_INPUT
    assert "usage:" in capsys.readouterr().err


def test_scan_of_an_event_with_an_escaped_lone_surrogate(good: str, tmp_path: Path, sqs_event: SqsEvent) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(sqs_event(SCRIPT)).replace("msg-1", "msg-\\ud800"))
    result = subprocess.run(
        [sys.executable, "-m", "firewall", "scan", str(path), "--signatures", good],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=_env(),
        timeout=60,
        check=False,
    )
    assert "Traceback" not in result.stderr  # an uncaught exception also exits 1
    assert result.returncode == EXIT_DETECTED
    assert "QUARANTINE" in result.stdout


# --- signatures test | lint | list --------------------------------------------------------------------


def test_signatures_test_good(capsys: pytest.CaptureFixture[str], good: str) -> None:
    code, out, err = _run(capsys, "signatures", "test", good)
    assert code == EXIT_CLEAN
    assert "5 signature(s) tested (23 examples): 0 error(s)" in out
    assert err == ""


def test_signatures_test_failing_examples_exit_1(
    capsys: pytest.CaptureFixture[str], fixtures_dir: Path, find_line: Any
) -> None:
    path = fixtures_dir / "failing" / "examples.yaml"
    code, out, err = _run(capsys, "signatures", "test", str(path))
    assert code == EXIT_DETECTED
    assert f"{path}:{find_line(path, '- id: FW-FAIL-001')} [FW-FAIL-001] error: match example not detected" in err
    assert f"{path}:{find_line(path, '- id: FW-FAIL-002')} [FW-FAIL-002] error: no_match example detected" in err
    assert "2 error(s)" in out


@pytest.mark.parametrize("action", ["test", "lint", "list"])
@pytest.mark.parametrize(
    ("name", "marker"), [("bad_regex.yaml", "pattern: (?:union"), ("bad_yaml.yaml", "colon trouble")]
)
def test_signatures_commands_on_a_bad_file_exit_2_with_path_and_line(
    capsys: pytest.CaptureFixture[str], fixtures_dir: Path, find_line: Any, action: str, name: str, marker: str
) -> None:
    path = fixtures_dir / "malformed" / name
    code, out, err = _run(capsys, "signatures", action, str(path))
    assert code == EXIT_BAD_INPUT
    assert f"{path}:{find_line(path, marker)}" in err
    assert out == ""


def test_signatures_on_a_directory_with_duplicate_ids_exit_2(
    capsys: pytest.CaptureFixture[str], fixtures_dir: Path
) -> None:
    code, _, err = _run(capsys, "signatures", "lint", str(fixtures_dir / "duplicate_across"))
    assert code == EXIT_BAD_INPUT
    assert "FW-DUP-001" in err
    assert "duplicate id" in err


def test_signatures_lint_good_passes_with_warnings(capsys: pytest.CaptureFixture[str], good: str) -> None:
    code, out, _ = _run(capsys, "signatures", "lint", good)
    assert code == EXIT_CLEAN
    # FW-TEST-002's pattern has no literal of three characters: a prefilter warning, not an error.
    assert "[FW-TEST-002] warning" in out
    assert "0 error(s), 1 warning(s)" in out


def test_signatures_lint_strict_fails_on_warnings(capsys: pytest.CaptureFixture[str], good: str) -> None:
    assert _run(capsys, "signatures", "lint", good, "--strict")[0] == EXIT_DETECTED


def test_signatures_lint_reports_catastrophic_backtracking(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "slow.yaml"
    path.write_text(
        "family: slow\nsignatures:\n  - id: FW-SLOW-001\n    title: nested quantifiers\n    severity: low\n"
        "    paranoia: 1\n    targets: [any]\n    transforms: []\n    pattern: '(a|aa)+$'\n"
        "    examples: {match: [aaa], no_match: [b]}\n"
    )
    code, _, err = _run(capsys, "signatures", "lint", str(path))
    assert code == EXIT_DETECTED
    assert f"{path}:3 [FW-SLOW-001] error: catastrophic backtracking" in err


def test_signatures_test_reports_an_example_that_times_out(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(checks, "EXAMPLE_LIMITS", Limits(regex_timeout=0.02, record_budget=0.5))  # keep it quick
    path = tmp_path / "slow.yaml"
    path.write_text(
        "family: slow\nsignatures:\n  - id: FW-SLOW-001\n    title: nested quantifiers\n    severity: low\n"
        "    paranoia: 1\n    targets: [any]\n    transforms: []\n    pattern: '(x+x+)+y(?!z)'\n"
        f"    examples: {{match: [xxy], no_match: [{'x' * 1000}yz]}}\n"
    )
    code, _, err = _run(capsys, "signatures", "test", str(path))
    assert code == EXIT_DETECTED
    assert "FW-SLOW-001" in err


def test_signatures_list(capsys: pytest.CaptureFixture[str], good: str) -> None:
    code, out, _ = _run(capsys, "signatures", "list", good)
    assert code == EXIT_CLEAN
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["ID", "FAMILY", "SEVERITY", "PL"]
    assert lines[1].split()[:4] == ["FW-TEST-001", "test", "critical", "1"]
    assert lines[-1] == "5 signature(s)"


def test_signatures_list_json(capsys: pytest.CaptureFixture[str], good: str) -> None:
    code, out, _ = _run(capsys, "signatures", "list", good, "--json")
    assert code == EXIT_CLEAN
    rows = json.loads(out)
    assert [r["id"] for r in rows] == ["FW-TEST-001", "FW-TEST-002", "FW-TEST-003", "FW-TEST-004", "FW-TESTMORE-001"]
    assert rows[2] == {
        "id": "FW-TEST-003",
        "family": "test",
        "severity": "low",
        "paranoia": 2,
        "title": "Timing function (paranoia 2)",
    }


# --- the real entry point -------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def test_python_dash_m_firewall_runs(good: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "firewall", "scan", "--text", SCRIPT, "--signatures", good, "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=_env(),
        timeout=60,
        check=False,
    )
    assert result.returncode == EXIT_DETECTED, result.stderr
    assert json.loads(result.stdout)["records"][0]["action"] == "quarantine"
