"""The audio stream: Ogg Opus (or MP3) encoded while it renders, paced to real time.

:class:`AudioStreamResponse` is an ASGI response that

1. waits for the plan's loudness calibration (normally finished while the listener
   read the plan) and builds the graph, or takes the parked renderer of a dropped
   connection to resume at ``offset_s``;
2. renders and encodes in a worker thread (so the event loop never blocks), sending
   the headers at once, then audio a second at a time, staying
   at most ``stream_lead_s`` ahead of real time (so a mixer change is heard within
   seconds) and at least ``stream_lead_s`` minus a second (:func:`refill_seconds`);
3. stops rendering the moment the client goes away (it watches for
   ``http.disconnect`` while it sends or waits), parks the renderer for a resume and
   records how far the listener got.

Downloads are not streamed: a job renders them to a file (:mod:`sonora.core.downloads`).
"""

from __future__ import annotations

import functools
import logging
import time
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from sonora.core.audio import (
    FORMATS,
    Renderer,
    StreamJob,
    build_stream_mix,
    glide_when_calibrated,
    provisional_calibration,
    wait_for_future,
)
from sonora.engine.graph import MAX_DURATION_S
from sonora.listening.repo import PlanRecord
from sonora.plan import Plan

if TYPE_CHECKING:
    from sonora.core.app import Core

__all__ = ["ENDLESS_S", "AudioStreamResponse", "refill_seconds"]

log = logging.getLogger("sonora.web.stream")
#: Length of an endless stream, seconds: the plan, then its final state held (the
#: engine's longest render, 12 hours).
ENDLESS_S = MAX_DURATION_S
#: Extra seconds of audio kept, beyond the lead, for resuming a dropped connection.
RESUME_MARGIN_S = 4.0
#: Most seconds of audio encoded per trip to a worker thread (see :func:`refill_seconds`).
MAX_REFILL_S = 1.0
#: A stream due for a refill waits while another stream is less than half its lead
#: ahead (starting, or fallen behind), polling this often, seconds, for at most
#: :data:`GIVE_WAY_MAX_S` (and never below ``lead - refill - GIVE_WAY_MAX_S`` ahead, so
#: its own cushion shrinks by at most that much).
GIVE_WAY_POLL_S = 0.02
GIVE_WAY_MAX_S = 0.25


def refill_seconds(lead_s: float) -> float:
    """Seconds of audio a paced stream encodes per trip to a worker thread.

    A stream runs between ``lead_s - refill`` and ``lead_s`` ahead of real time: it
    sleeps until it has played ``refill`` seconds down, then encodes them in one trip.
    Each trip costs a thread hand-off and the interpreter lock twice over, so a second
    per trip (a quarter of the lead when the lead is short) rather than one 85 ms
    chunk spends the server's time on audio, not on hand-offs.  The first trip after
    the headers is the same second: the Ogg pages of the encoder lag what was rendered
    by about 0.3 s, so a second rendered is what gets the half second a player buffers
    before it starts into the listener's hands in one trip.
    """
    return min(MAX_REFILL_S, lead_s / 4)


class AudioStreamResponse(Response):
    """Stream a plan's audio (see the module docstring).

    Parameters
    ----------
    core : Core
    user_id : str
        The listener (already authorised for ``record``).
    record : PlanRecord
    plan : Plan
    fmt : {"opus", "mp3"}
    offset_s : float
        Where in the session to start, seconds.
    limiter : anyio.CapacityLimiter
        Worker threads for rendering.
    endless : bool
        Render past the plan's end with its final state held (automation keeps its
        last value), up to :data:`ENDLESS_S`; fades out only at that end.
    """

    def __init__(
        self,
        core: Core,
        *,
        user_id: str,
        record: PlanRecord,
        plan: Plan,
        fmt: str,
        offset_s: float,
        limiter: anyio.CapacityLimiter,
        endless: bool = False,
    ) -> None:
        self.core = core
        self.user_id = user_id
        self.record = record
        self.plan = plan
        self.fmt = fmt
        self.offset_s = float(offset_s)
        self.limiter = limiter
        self.endless = endless
        self.render_s = max(ENDLESS_S, plan.duration_s) if endless else plan.duration_s
        headers = {
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "X-Sonora-Offset": f"{self.offset_s:.3f}",
            "X-Sonora-Duration": f"{self.render_s:.3f}",
        }
        super().__init__(content=None, media_type=FORMATS[fmt][1], headers=headers)
        # No Content-Length: the body is produced as it renders.
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        core = self.core
        settings = core.settings
        rec = self.record
        key = core.calibrator.key(rec.plan) + (":endless" if self.endless else "")
        # Played now: measured before plans measured ahead, awaited without holding a
        # thread, for at most calibration_wait_s (then a safe provisional gain).
        future = core.calibrator.ensure(
            rec.id, rec.plan, rec.calibration, owner=self.user_id, play=True
        )
        calibration = await wait_for_future(future, settings.calibration_wait_s)
        parked = core.hub.take(rec.id, key, self.offset_s)
        compression = settings.opus_compression if self.fmt == "opus" else settings.mp3_compression
        disconnected = anyio.Event()

        def prepare() -> tuple[Renderer, StreamJob, bytes]:
            # One trip to a worker thread: the graph (a provisional gain costs no
            # rendering), the seek, the encoder and its first bytes.
            renderer = parked
            if renderer is None:
                chosen = calibration or provisional_calibration(
                    self.plan, sample_rate=settings.sample_rate, target_lufs=settings.target_lufs
                )
                mix = build_stream_mix(
                    self.plan,
                    chosen,
                    sample_rate=settings.sample_rate,
                    gains=rec.gains,
                    duration_s=self.render_s,
                )
                history_s = settings.stream_lead_s + RESUME_MARGIN_S
                renderer = Renderer(mix, history_s=history_s)
                if calibration is None:
                    glide_when_calibrated(renderer, future)
            renderer.seek(self.offset_s, should_stop=disconnected.is_set)
            job = StreamJob(
                renderer, self.fmt, compression, opus_complexity=settings.opus_complexity
            )
            return renderer, job, job.next_chunk()  # the stream's headers: small, at once

        try:
            renderer, job, first = await anyio.to_thread.run_sync(prepare, limiter=self.limiter)
        except BaseException:
            core.calibrator.stopped(rec.plan)
            raise
        core.hub.activate(rec.id, renderer)
        ended = "disconnected"
        short = False  # counted among the streams with a thin cushion (StreamHub.short)
        start_pos = renderer.position_s
        # The listening record is written while the first audio goes out.
        listening: dict[str, str] = {}
        recorded = anyio.Event()

        async def record_start() -> None:
            with anyio.CancelScope(shield=True):  # finished even if the client leaves
                try:
                    listening["id"] = await anyio.to_thread.run_sync(
                        lambda: core.store.start_listening(
                            self.user_id, rec.id, fmt=self.fmt, offset_s=self.offset_s
                        )
                    )
                finally:
                    recorded.set()

        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            async with anyio.create_task_group() as tg:

                async def watch() -> None:
                    while True:
                        message = await receive()
                        if message["type"] == "http.disconnect":
                            disconnected.set()
                            tg.cancel_scope.cancel()
                            return

                tg.start_soon(record_start)
                tg.start_soon(watch)
                if first:
                    await send({"type": "http.response.body", "body": first, "more_body": True})
                # Real time starts when the first audio has gone out (a player starts
                # once it has some): a slow first trip is a late start, not an underrun.
                t0: float | None = None
                lead = settings.stream_lead_s
                refill_s = refill_seconds(lead)
                rate = renderer.sample_rate
                trip_frames = round(refill_s * rate)
                behind = False
                hub = core.hub
                hub.set_short(True)  # starting: nothing buffered yet
                short = True
                while True:
                    if not short:  # give way to streams about to run dry
                        waited = 0.0
                        while hub.short and waited < GIVE_WAY_MAX_S:
                            if t0 is not None:
                                ahead = (renderer.position_s - start_pos) - (time.monotonic() - t0)
                                if ahead <= lead - refill_s - GIVE_WAY_MAX_S:
                                    break
                            await anyio.sleep(GIVE_WAY_POLL_S)
                            waited += GIVE_WAY_POLL_S
                    chunk = await anyio.to_thread.run_sync(
                        functools.partial(job.next_chunk, min_frames=trip_frames),
                        limiter=self.limiter,
                    )
                    if chunk:
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    if t0 is None:
                        t0 = time.monotonic()
                    if job.closed:
                        await send({"type": "http.response.body", "body": b"", "more_body": False})
                        ended = "finished"
                        break
                    ahead = (renderer.position_s - start_pos) - (time.monotonic() - t0)
                    if (ahead < lead / 2) != short:
                        short = not short
                        hub.set_short(short)
                    if ahead > lead - refill_s:  # refill a whole refill_s at a time
                        await anyio.sleep(ahead - (lead - refill_s))
                    elif ahead < -0.25 and not behind:  # the listener is waiting
                        behind = True
                        _underrun(scope)
                    elif ahead > 0:
                        behind = False
                tg.cancel_scope.cancel()
        except OSError:  # the socket went away under a send
            disconnected.set()
        finally:
            if short:
                core.hub.set_short(False)
            with anyio.CancelScope(shield=True):
                if not job.closed:
                    job.abort()
                core.hub.release(rec.id, key, renderer, park=ended != "finished")
                core.calibrator.stopped(rec.plan)  # no one waits: back to the ahead queue
                position = renderer.position_s
                try:
                    await recorded.wait()
                    if "id" in listening:
                        await anyio.to_thread.run_sync(
                            lambda: core.store.update_listening(
                                listening["id"], offset_s=position, ended=ended
                            )
                        )
                except Exception as exc:  # pragma: no cover - database gone at shutdown
                    log.warning("could not record the end of a stream: %s", exc)


def _underrun(scope: Any) -> None:
    """Count a stream falling behind real time (``sonora_stream_underruns``)."""
    metrics = getattr(scope["app"].state, "metrics", None) if "app" in scope else None
    if metrics is not None:
        metrics.underruns.inc()
