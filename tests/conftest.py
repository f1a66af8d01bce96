"""Pytest set-up: the shared fixtures and hooks (defined in :mod:`testkit`) and markers.

Markers (registered in ``pyproject.toml``):

* ``postgres`` — needs the PostgreSQL service (the ``postgresql`` store parameter);
* ``browser`` — drives Chromium through Playwright (everything under ``tests/web/e2e``);
* ``slow`` — renders minutes of audio or measures a whole process (the per-scene
  measurements, the memory probes, the live-stream server).

``make test-fast`` runs ``-m "not postgres and not browser and not slow"`` on two
processes (pytest-xdist, ``-n 2``): every test makes its own temporary folder, free
port and PostgreSQL schema, so tests never share state across workers.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Loudness is measured in a thread in tests, in this process and in every server or worker
# a test starts (they inherit the environment): the default on a machine with more than
# one CPU is a pool of spawned measuring processes, which would cost each test's Core
# seconds of start-up.  The process mode has its own tests
# (tests/core/test_calibration_queue.py), and tests/test_settings.py checks the default.
os.environ.setdefault("SONORA_CALIBRATION_PROCESSES", "false")
from testkit import (  # noqa: F401  (fixtures and hooks pytest finds here)
    db_url,
    memory_probes,
    pytest_collection_finish,
    pytest_sessionfinish,
    rng,
    scene_metrics,
    store,
)

HERE = Path(__file__).parent

#: Cheap argon2id in every app, command and server the tests start (the settings
#: ``password_hash_*``; production keeps argon2-cffi's 64 MiB x 3 passes): a hash takes
#: well under a millisecond instead of ~60 ms.  Hashing and verifying stay real;
#: ``tests/web/test_passwords.py`` checks the parameters reach the hash.  Set these
#: variables yourself to run the suite at production cost.
os.environ.setdefault("SONORA_PASSWORD_HASH_MEMORY_KIB", "64")
os.environ.setdefault("SONORA_PASSWORD_HASH_TIME_COST", "1")
#: Test modules that measure whole processes or long renders.
SLOW_MODULES = {"test_memory.py", "test_web_stream.py"}
#: ... and those that start servers, workers, RabbitMQ/Redis clients or nginx (scale-out).
SLOW_MODULES |= {"test_jobs.py", "test_two_servers.py", "test_nginx.py"}
#: Fixtures that render minutes of audio or start processes.
SLOW_FIXTURES = {"scene_metrics", "memory_probes"}
#: ... a 5-minute sleep plan calibrated and rendered (tests/plan/test_plan.py: its
#: darkening and its loudness; a 5.5-minute sleep plan's calibration path stays in the
#: fast run: tests/scenes/test_calibration.py::test_there_is_one_predictor_...)
SLOW_FIXTURES |= {"sleep_render"}
#: Tests that render minutes of audio or run whole processes (``make test`` runs them;
#: ``make test-fast`` leaves them out).  Measured on the loaded 2-core machine with
#: ``pytest --durations=60``, these took about half of the unit run.
SLOW_TESTS = {
    # every README command as a real process: a server, two 5-minute session renders
    ("test_readme.py", "test_readme_commands_run"),
    # a 31-minute render in a child process, its peak memory measured
    ("test_cli_render.py", "test_long_render_checks_in_stream_with_flat_memory"),
    # every built-in scene rendered at -14 LUFS and encoded to Opus and MP3
    ("test_cli_render.py", "test_lossy_decoded_true_peak_stays_below_minus_one"),
    # 150 s of three struck-instrument scenes, the guard's every decision recorded
    ("test_sound.py", "test_guard_acts_at_most_two_percent_of_the_time"),
    # a 5-minute focus plan each (gong, bowls) rendered with the guard's every decision
    # recorded: 12 s of CPU for both, 25-40 s each on the loaded machine
    ("test_sound_rules.py", "test_gong_plan_strokes_leave_the_guard_alone"),
    ("test_sound_rules.py", "test_bowls_plan_is_balanced_and_leaves_the_guard_alone_once_it_rings"),
    # 190 s of four scenes each, rendered twice around a seek (the seek itself stays
    # in the fast run: test_seek_matches_continuous_render_when_sources_keep_time)
    ("test_seek.py", "test_seek_sounds_like_continuous_render_for_random_scenes"),
    # `sonora recommend --render`: a 5-minute plan rendered and measured
    ("test_match_cli.py", "test_cli_renders_the_plan"),
    # a recommended 5-minute plan file rendered twice from the command line (the plan
    # file itself stays in the fast run: the rest of tests/plan/test_plan_cli.py)
    ("test_plan_cli.py", "test_render_a_recommended_plan_file_identically"),
    # 210 s of every fifth bedtime recipe, each rendered and measured: an evaluation
    # across recipes (one sleep plan's darkening stays: test_sleep_plan_gets_quieter_and_darker)
    ("test_plan.py", "test_sleep_plans_darken_across_recipes"),
    # a 5.5-minute sleep plan rendered and measured (one 5-minute sleep plan's and one
    # steady plan's calibration stay: test_sleep_plan_loudness_is_calibrated,
    # test_steady_plan_loudness_is_calibrated)
    ("test_plan.py", "test_longer_sleep_plan_loudness_is_predicted"),
    # a 5-minute layered plan rendered and measured
    ("test_recipes.py", "test_a_layered_mix_is_calibrated_as_a_whole"),
    # a 5-minute steady plan calibrated, rendered and measured
    ("test_plan.py", "test_steady_plan_loudness_is_calibrated"),
    # each layer of a 5-minute sleep plan rendered alone over 3.5 minutes
    ("test_recipes.py", "test_each_layer_follows_its_role_over_the_trajectory"),
    # a plan's stream rendered to its end and 60 s past it, twice (the endless mix's
    # length stays in the fast run: its other tests in tests/web/test_mixes.py)
    ("test_mixes.py", "test_endless_keeps_the_final_sound_past_the_end"),
    # a 5-minute plan measured here and again in a worker process
    (
        "test_calibration_queue.py",
        "test_measuring_in_a_worker_process_gives_the_same_gains_at_lower_priority",
    ),
    # a 5-minute plan calibrated, then its provisional and calibrated streams rendered
    (
        "test_calibration_queue.py",
        "test_provisional_gain_glides_to_the_calibrated_gain_without_a_jump",
    ),
    # the matching benchmark run end to end (an evaluation on simulated listeners)
    ("test_simulator.py", "test_benchmark_accepts_an_outside_population"),
    ("test_simulator.py", "test_benchmark_main_writes_the_png_and_reports"),
    # evaluations of the matcher on populations of simulated listeners
    ("test_simulator.py", "test_personal_evidence_is_calibrated_on_simulated_listeners"),
    ("test_simulator.py", "test_matcher_converges_on_simulated_listeners_who_say_nothing"),
    ("test_simulator.py", "test_context_population_taste_shifts_with_goal_and_time_of_day"),
    # `sonora render` as a whole process: a 2-hour render stopped by a signal; a scene
    # rendered pinned to one CPU and on two; 0.4 and 4.2 minutes rendered by the
    # command and again by the library (rendering to a file from the command line
    # stays in the fast run: tests/test_cli.py::test_render_rain_to_flac)
    ("test_cli_render.py", "test_signal_mid_render_leaves_no_file"),
    ("test_cli_render.py", "test_one_cpu_or_two_the_file_is_the_same"),
    ("test_cli_render.py", "test_the_cli_writes_the_samples_the_library_writes"),
    # a fresh Python process that starts a Core and loads the sentence model
    ("test_model_wait.py", "test_check_in_waits_at_most_one_second_and_never_for_a_crisis"),
    # the ffmpeg program run on encoded tracks (libsndfile's decoding stays)
    ("test_library_decode_without_pyav.py", "test_the_ffmpeg_program_decodes_m4a_and_mp3"),
    # a fresh Python process that starts the app and loads the 67 MB sentence model
    # (triage itself stays in the fast run: tests/care/test_triage*.py)
    ("test_triage_language.py", "test_web_start_up_loads_the_model_in_the_background"),
    # a fresh Python process importing the whole engine and web stack with numpy's and
    # scipy's test folders blocked
    ("test_install.py", "test_the_runtime_imports_nothing_from_numpy_or_scipy_test_folders"),
    # a 5-minute plan calibrated, rendered and encoded to MP3 by the app's download
    # thread while the old URL waits for it (the job itself stays in the fast run:
    # test_a_download_renders_once_and_a_second_run_of_its_job_keeps_the_file)
    ("test_downloads.py", "test_the_old_url_sends_the_finished_file"),
    # a 2-minute plan rendered and encoded to Opus by a second Core after a restart
    # (stopping on close stays in the fast run: tests/core/test_background_stop.py)
    ("test_downloads.py", "test_without_a_broker_a_render_stopped_by_a_restart_resumes"),
    # a 5.5-minute sleep plan's predicted calibration, twice (one and two processes;
    # scenes calibrated in two processes stay: test_calibration_in_two_processes_...)
    ("test_forked.py", "test_plan_calibration_in_two_processes_gives_the_same_master_gain"),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.path))
        if (HERE / "web" / "e2e") in path.parents:
            item.add_marker(pytest.mark.browser)
        name = getattr(item, "originalname", item.name)
        if (
            path.name in SLOW_MODULES
            or (path.name, name) in SLOW_TESTS
            or SLOW_FIXTURES & set(getattr(item, "fixturenames", ()))
        ):
            item.add_marker(pytest.mark.slow)
