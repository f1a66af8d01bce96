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


def test_start_up_warm_up_leaves_the_first_note_nothing_to_load(tmp_path: Path) -> None:
    """In a fresh process: after the app's start-up warm-up, screening the first note
    reads no data file (rules, concern families, the reader's weights are all loaded)."""
    code = textwrap.dedent(
        f"""
        import tomllib
        from pathlib import Path
        import numpy as np
        from fastapi.testclient import TestClient
        from sonora.care import embedding
        from sonora.core.app import Core
        from sonora.settings import Settings
        from sonora.web.app import create_app
        tmp = Path({str(tmp_path)!r})
        s = Settings(data_dir=tmp, database_url=f"sqlite:///{{tmp / 'w.db'}}",
                     secret_key="k" * 40, triage_notes=True, calibrate_ahead=False)
        with TestClient(create_app(s)) as client:
            assert embedding.wait_ready(120.0)
            assert "warm_seconds" in embedding._STATE
            reads = []
            real_loads, real_npload = tomllib.loads, np.load
            tomllib.loads = lambda *a, **k: reads.append("toml") or real_loads(*a, **k)
            np.load = lambda *a, **k: reads.append("npz") or real_npload(*a, **k)
            core = client.app.state.core
            r = core.screen_note("Tired after a long week; my neck aches.", "GB")
            assert r["level"] == "everyday", r
            assert reads == [], reads
        print("ok")
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ok")


def test_a_note_during_the_warm_up_waits_for_it_and_loads_nothing_twice() -> None:
    """In a fresh process: while the warm-up runs (held here on an event), the model is
    loaded but not called ready, so a note waits for the warm-up instead of loading
    beside it; two threads asking for a table at once share one load."""
    code = textwrap.dedent(
        """
        import threading, time
        from sonora.care import concern, embedding
        from sonora.care.once import once
        release = threading.Event()
        warming = threading.Event()

        def warm():
            warming.set()
            release.wait(60)

        assert embedding.start_background_load(warm=warm) is not None
        assert warming.wait(120)
        assert "model" in embedding._STATE and not embedding.is_ready()
        assert not embedding.wait_ready(0.05)  # a note would wait (its 1 s at most)
        release.set()
        assert embedding.wait_ready(60.0)

        calls = []

        @once
        def slow():
            calls.append(1)
            time.sleep(0.2)
            return 7

        ts = [threading.Thread(target=slow) for _ in range(4)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        assert calls == [1], calls
        assert concern.load_families() is concern.load_families()
        print("ok")
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ok")
