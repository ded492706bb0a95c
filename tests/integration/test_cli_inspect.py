"""``mjapi inspect`` as a user runs it: a real ``python -m mjapi`` process on real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from mjapi.cli import app
from tests.conftest import CAPTURES, load_capture

ROOT = Path(__file__).parents[2]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mjapi", "inspect", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )


def succeeds(*args: str, stdin: str | None = None) -> Any:
    result = run(*args, stdin=stdin)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    return json.loads(result.stdout)


def fails(*args: str) -> str:
    result = run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    return result.stderr


def test_a_final_grid_frame() -> None:
    [result] = succeeds(str(CAPTURES / "10-gw-imagine-final-grid-fast.json"))

    assert (result["event"], result["kind"], result["status"]) == (
        "MESSAGE_CREATE",
        "done",
        "completed",
    )
    assert result["job_hash"] == "a03e625f-383b-4592-8121-77f87ded20d4"
    assert [b["label"] for b in result["buttons"]] == [
        *("U1", "U2", "U3", "U4", "🔄", "V1", "V2", "V3", "V4")
    ]


def test_rest_bodies_and_requests() -> None:
    [rate] = succeeds(str(CAPTURES / "34-rest-error-429-rate-limited.json"))
    [stale] = succeeds(str(CAPTURES / "33-rest-error-400-command-outdated.json"))
    [click] = succeeds(str(CAPTURES / "35-req-interaction-type3-upsample-dm.json"))

    assert (rate["retry_after"], rate["global"]) == (2.06, False)
    assert stale["errors"][0]["code"] == "INTERACTION_APPLICATION_COMMAND_INVALID_VERSION"
    assert click["click"]["job_hash"] == "350fb24a-dd72-45f2-ade8-048379a2ed5a"


def test_compact_prints_one_line_per_result() -> None:
    result = run("--compact", str(CAPTURES / "03-gw-sequence-imagine-fast-full-lifecycle.json"))

    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 15 + 2  # "[", one line per frame, "]"
    kinds = [json.loads(line.rstrip(","))["kind"] for line in lines[1:-1]]
    assert kinds[:4] == ["interaction_create", "interaction_success", "waiting", "progress"]
    assert kinds[-3:] == ["done", "message_delete", "heartbeat_ack"]


def test_a_json_lines_gateway_log(tmp_path: Path) -> None:
    frames = load_capture("03-gw-sequence-imagine-fast-full-lifecycle.json")
    log = tmp_path / "gateway.jsonl"
    log.write_text("\n".join(json.dumps(f, ensure_ascii=False) for f in frames) + "\n")

    from_lines = succeeds(str(log))

    assert from_lines == succeeds(str(CAPTURES / "03-gw-sequence-imagine-fast-full-lifecycle.json"))
    assert [r["progress"] for r in from_lines if r["kind"] == "progress"] == [
        *(0, 15, 31, 46, 62, 78, 93)
    ]


def test_stdin() -> None:
    body = (CAPTURES / "29-rest-non-bot-user-message.json").read_text(encoding="utf-8")
    [result] = succeeds("-", stdin=body)
    assert result["kind"] == "user_message"


def test_invalid_json_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"op": 0, "t": "MESSAGE_CREATE",\n  "d": {oops}}\n')

    error = fails(str(broken))

    assert error.startswith(f"mjapi inspect: {broken}: not valid JSON")
    assert "line 2" in error


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    assert fails(str(missing)) == f"mjapi inspect: {missing}: no such file\n"


def test_a_directory_or_binary_file_is_a_clear_error(tmp_path: Path) -> None:
    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    assert "not UTF-8 text" in fails(str(binary))
    assert "is a directory" in fails(str(tmp_path))


def test_help_names_the_argument_and_the_flag() -> None:
    result = CliRunner().invoke(
        app, ["inspect", "--help"], env={"NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200"}
    )
    assert result.exit_code == 0
    assert "FILE" in result.output and "--compact" in result.output
