"""A check-in never waits for the sentence model more than 1 s (issue #10).

Run in a fresh process, where the model is not loaded yet, with its loading lock
held so the background load cannot finish: what the check-in path asks for is
recorded instead of timed.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def test_check_in_waits_at_most_one_second_and_never_for_a_crisis(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        from pathlib import Path
        from sonora.care import embedding
        from sonora.core.app import Core
        from sonora.settings import Settings

        waits = []
        real_wait = embedding.wait_ready

        def recording_wait(timeout_s):
            waits.append(timeout_s)
            return real_wait(timeout_s)

        embedding.wait_ready = recording_wait
        tmp = Path({str(tmp_path)!r})
        core = Core(Settings(data_dir=tmp, database_url=f"sqlite:///{{tmp / 'w.db'}}",
                             secret_key="k" * 40, triage_notes=True, calibrate_ahead=False))
        with embedding._LOCK:  # the loading thread cannot finish while this is held
            crisis = core.screen_note("I want to kill myself tonight", "GB")
            assert crisis["level"] == "crisis", crisis
            assert waits == [], waits  # a rules crisis never waits for the model
            calm = core.screen_note("a quiet day with some rain", "GB")
            assert calm["level"] == "everyday", calm
            assert any("still starting" in r for r in calm["reasons"]), calm
            assert waits and max(waits) <= 1.0, waits
            assert not embedding.is_ready()
        assert embedding.wait_ready(120.0)
        calm = core.screen_note("a quiet day with some rain", "GB")
        assert not any("still starting" in r for r in calm["reasons"]), calm
        print("ok")
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ok")
