"""Abuse benchmark: honest listeners keep their audio while one client floods the server.

A real server (``uvicorn``, one worker) on a fresh PostgreSQL database, with the
default limits.  A client process plays:

* **20 honest listeners**, each from its own address (``X-Forwarded-For`` from
  loopback, which uvicorn trusts): check in (a new plan each time, so its loudness is
  *not* measured yet), stream it like a player (playback starts once 0.5 s is
  buffered; any moment the audio received falls behind the wall clock is an
  underrun), check out, and again, for ``--seconds``.
* **One attacker address** flooding at the same time: check-ins of all-night plans
  (new guests when one account is limited), log-ins with wrong passwords against an
  honest account, and consult bookings for a victim's email address.
* **Seek**: streams of an all-night plan started at offsets up to 11 h (time to the
  first byte).

It prints honest time to first audio (p50/p95), underruns, 5xx count, the attacker's
status codes, seek first-byte times, and the emails written by the outbox (by
recipient).  Targets: honest p95 first audio <= 1 s, no underruns, no 5xx, the
attacker gets 429s, seek first byte <= 1 s.

Usage::

    python benchmarks/abuse.py [--seconds 60] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

The machine this runs on may be shared: the figures say what this run saw.  So that a
reader can tell the server's trouble from the machine's and the client's, each phase
also prints the server's CPU (``/proc``; its own process, not the calibration workers)
and that per second of honest audio received, the client process's CPU and how late
its own event loop woke (a late client reads late audio as a deficit: with its loop at
most a few hundred ms late and streams 3-4 s ahead, it is not what makes an underrun
here), the load average, where in each under-running stream its worst deficit fell,
and the server's own underrun counter (``sonora_stream_underruns`` on ``/metrics``,
cumulative over both phases).  The underrun rule is unchanged: any positive deficit
after a player would have started counts.  ``--set SONORA_NAME=VALUE`` runs the server
with a setting changed, to compare it with the default in another run.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import http.cookiejar
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serve import PY, Server, _granule_seconds, pct

ATTACKER = "203.0.113.66"
VICTIM = "victim@example.org"
HONEST_EMAIL = "honest-0@example.org"
HONEST_PASSWORD = "tide-lantern-orchard"


# -- client side (separate process) ------------------------------------------------------
async def _guest(client: Any, ip: str, codes: Any = None) -> dict[str, str]:
    r = await client.post("/api/guest", json={}, headers={"X-Forwarded-For": ip})
    if codes is not None:
        codes[r.status_code] += 1
    token = r.cookies.get("sonora_session")
    if r.status_code != 201 or not token:
        return {}
    return {"Cookie": f"sonora_session={token}", "X-Forwarded-For": ip}


async def _play(client: Any, url: str, headers: dict, seconds: float) -> dict[str, Any]:
    t_req = time.monotonic()
    play_after = None
    first = None
    start_play = None
    worst = 0.0
    worst_at = 0.0
    buf = bytearray()
    status = 0
    async with client.stream("GET", url, headers=headers) as r:
        status = r.status_code
        if status != 200:
            return {"status": status}
        async for chunk in r.aiter_raw():
            now = time.monotonic()
            if first is None:
                first = now - t_req
            buf += chunk
            have = _granule_seconds(bytes(buf[-65536:]))
            if start_play is None:
                if have >= 0.5:
                    start_play = now
                    play_after = now - t_req
            elif (now - start_play) - have > worst:
                worst, worst_at = (now - start_play) - have, now - start_play
            if start_play is not None and now - start_play >= seconds:
                break
    return {
        "status": status,
        "first_byte_s": first,
        "play_after_s": play_after,
        "worst_deficit_s": worst,
        "worst_at_s": worst_at,
        "audio_s": _granule_seconds(bytes(buf[-65536:])),
    }


async def honest(client: Any, i: int, until: float, out: dict[str, Any], net: int = 0) -> None:
    ip = f"10.{net}.{i // 200}.{i % 200 + 1}"
    headers = await _guest(client, ip, out["codes"])
    while not headers and time.monotonic() < until:  # counted in the status codes
        await asyncio.sleep(1.0)
        headers = await _guest(client, ip, out["codes"])
    await client.put("/api/profile", json={"loved": ["rain"]}, headers=headers)
    while time.monotonic() < until:
        r = await client.post(
            "/api/checkins",
            json={"tension": 6, "mood": 5, "goal": "unwind", "minutes": 20},
            headers=headers,
        )
        out["codes"][r.status_code] += 1
        if r.status_code != 201:
            await asyncio.sleep(1.0)
            continue
        pid = r.json()["plan"]["id"]
        if r.json()["plan"].get("quiet_rest"):
            continue
        res = await _play(client, f"/api/plans/{pid}/stream?format=opus", headers, 12.0)
        out["codes"][res["status"]] += 1
        if res["status"] == 200:
            out["ttfa"].append(res["first_byte_s"])
            if res["play_after_s"] is not None:
                out["play"].append(res["play_after_s"])
            out["deficit"].append(res["worst_deficit_s"])
            out["deficit_at"].append(res["worst_at_s"])
            out["audio_s"] += res["audio_s"]
        r = await client.post(f"/api/plans/{pid}/outcome", json={"mood": 6}, headers=headers)
        out["codes"][r.status_code] += 1


async def attacker(client: Any, until: float, out: dict[str, Any], therapist_id: str) -> None:
    headers = await _guest(client, ATTACKER)

    async def flood_checkins() -> None:
        nonlocal headers
        while time.monotonic() < until:
            r = await client.post(
                "/api/checkins", json={"tension": 5, "minutes": 480}, headers=headers
            )
            out["attacker"]["checkins"][r.status_code] += 1
            if r.status_code == 429 and "for you" in r.text:
                headers = await _guest(client, ATTACKER) or headers  # a fresh account
            if r.status_code == 429:
                await asyncio.sleep(0.05)

    async def flood_logins() -> None:
        while time.monotonic() < until:
            r = await client.post(
                "/api/login",
                json={"email": HONEST_EMAIL, "password": f"guess-{uuid.uuid4().hex[:6]}"},
                headers={"X-Forwarded-For": ATTACKER},
            )
            out["attacker"]["logins"][r.status_code] += 1
            client.cookies.clear()
            if r.status_code == 429:
                await asyncio.sleep(0.05)

    async def flood_bookings() -> None:
        slots = await client.get(f"/api/therapists/{therapist_id}/slots?tz=UTC")
        starts = [s["start"] for s in slots.json().get("slots", [])] or ["2030-01-01T10:00:00Z"]
        k = 0
        while time.monotonic() < until:
            body = {
                "start": starts[k % len(starts)],
                "tz": "UTC",
                "name": 'Eve "x"',
                "email": VICTIM,
            }
            k += 1
            r = await client.post(
                f"/api/therapists/{therapist_id}/bookings",
                json=body,
                headers={"X-Forwarded-For": ATTACKER},
            )
            out["attacker"]["bookings"][r.status_code] += 1
            if r.status_code == 429:
                await asyncio.sleep(0.05)

    await asyncio.gather(*[flood_checkins() for _ in range(4)], flood_logins(), flood_bookings())


async def seeks(client: Any, out: dict[str, Any]) -> None:
    headers = await _guest(client, "10.9.9.9")
    r = await client.post(
        "/api/checkins",
        json={"tension": 6, "goal": "sleep", "minutes": "all night"},
        headers=headers,
    )
    pid = r.json()["plan"]["id"]
    for offset in (600, 3600, 5 * 3600 + 17, 39_000):
        res = await _play(
            client, f"/api/plans/{pid}/stream?format=opus&offset_s={offset}", headers, 2.0
        )
        out["seek"].append({"offset_s": offset, **res})


async def client_main(
    base: str, seconds: float, listeners: int, therapist_id: str, *, attack: bool = True
) -> dict:
    """:func:`_client_main` with this process's own accounting: its CPU seconds and how
    late its event loop wakes (a late client would read late audio as an underrun)."""
    lags: list[float] = []

    async def ticker() -> None:
        while True:
            t = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append(time.monotonic() - t - 0.01)

    cpu0, wall0 = time.process_time(), time.monotonic()
    tick = asyncio.create_task(ticker())
    try:
        out = await _client_main(base, seconds, listeners, therapist_id, attack=attack)
    finally:
        tick.cancel()
    out["client"] = {
        "cpu_s": time.process_time() - cpu0,
        "wall_s": time.monotonic() - wall0,
        "lag_p95_s": pct(lags, 0.95),
        "lag_max_s": max(lags, default=0.0),
    }
    return out


async def _client_main(
    base: str, seconds: float, listeners: int, therapist_id: str, *, attack: bool = True
) -> dict:
    import httpx

    out: dict[str, Any] = {
        "ttfa": [],
        "play": [],
        "deficit": [],
        "deficit_at": [],
        "audio_s": 0.0,
        "codes": collections.Counter(),
        "attacker": {k: collections.Counter() for k in ("checkins", "logins", "bookings")},
        "seek": [],
    }
    limits = httpx.Limits(max_connections=listeners + 40, max_keepalive_connections=listeners + 40)
    # Each simulated person sends their own cookie header; the shared client keeps none
    # (a jar shared by concurrent tasks would sign one listener's request in as another).
    jar = http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits, cookies=jar) as client:
        # The honest account the attacker guesses at.
        if not attack:  # the reference: the same honest load, nobody attacking
            until = time.monotonic() + seconds
            tasks = []
            for i in range(listeners):
                tasks.append(asyncio.create_task(honest(client, i, until, out, net=1)))
                await asyncio.sleep(0.2)
            await asyncio.gather(*tasks)
            out["codes"] = dict(out["codes"])
            out["attacker"] = {}
            return out
        r = await client.post(
            "/api/signup",
            json={"email": HONEST_EMAIL, "password": HONEST_PASSWORD},
            headers={"X-Forwarded-For": "10.8.8.8"},
        )
        client.cookies.clear()
        until = time.monotonic() + seconds
        flood = asyncio.create_task(attacker(client, until, out, therapist_id))
        await asyncio.sleep(2.0)  # the flood is on before the listeners arrive
        tasks = []
        for i in range(listeners):
            tasks.append(asyncio.create_task(honest(client, i, until, out)))
            await asyncio.sleep(0.2)
        await asyncio.gather(*tasks)
        await flood
        await seeks(client, out)
        # The owner still logs in, from their own address.
        r = await client.post(
            "/api/login",
            json={"email": HONEST_EMAIL, "password": HONEST_PASSWORD},
            headers={"X-Forwarded-For": "10.8.8.8"},
        )
        out["owner_login"] = r.status_code
    out["codes"] = dict(out["codes"])
    out["attacker"] = {k: dict(v) for k, v in out["attacker"].items()}
    return out


# -- driver -------------------------------------------------------------------------------
def _server_underruns(base: str) -> float | None:
    """The server's own count of streams that fell behind (``/metrics``), if exposed."""
    import urllib.request

    try:
        with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
            text = r.read().decode()
    except Exception:
        return None
    for line in text.splitlines():
        if line.startswith("sonora_stream_underruns_total"):
            return float(line.split()[-1])
    return None


def _prepare(url: str, tmp: Path) -> str:
    """Migrate, add verified demo therapists; returns one therapist's id."""
    from sonora.core.app import Core
    from sonora.settings import Settings
    from sonora.therapists.demo import seed_demo, verify_demo

    core = Core(Settings(data_dir=tmp, database_url=url, secret_key="b" * 40))
    try:
        user = core.store.create_user()
        core.store.register(user.id, email="admin@example.org", password_hash="x")
        core.therapists.grant_admin("admin@example.org")
        made = seed_demo(core.therapists)
        verify_demo(core.therapists, "admin@example.org")
        return made[0].id
    finally:
        core.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--listeners", type=int, default=20)
    ap.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SONORA_NAME=VALUE",
        help="a server setting for this run (repeatable), e.g. to compare one against the default",
    )
    ap.add_argument("--client", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        base, seconds, listeners, tid, mode = args.client
        res = asyncio.run(
            client_main(base, float(seconds), int(listeners), tid, attack=mode == "attack")
        )
        print(json.dumps(res))
        return

    import subprocess

    import sqlalchemy as sa

    db = f"sonora_abuse_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{db}"'))
    url = sa.engine.make_url(args.postgres).set(database=db).render_as_string(hide_password=False)
    tmp = Path(tempfile.mkdtemp(prefix="sonora-abuse-"))
    outbox = tmp / "outbox"
    try:
        therapist_id = _prepare(url, tmp)
        env = {
            "SONORA_DATA_DIR": str(tmp),
            "SONORA_DATABASE_URL": url,
            "SONORA_SECRET_KEY": "bench-" + uuid.uuid4().hex,
            "SONORA_TRIAGE_NOTES": "false",
            "SONORA_OUTBOX_DIR": str(outbox),
            "SONORA_OUTBOX_INTERVAL_S": "1",
            **dict(kv.split("=", 1) for kv in args.set),
        }
        server = Server(env, cpu=None)

        def client(mode: str) -> dict[str, Any]:
            proc = subprocess.run(
                [
                    PY,
                    __file__,
                    "--client",
                    server.url,
                    str(args.seconds),
                    str(args.listeners),
                    therapist_id,
                    mode,
                ],
                capture_output=True,
                text=True,
                timeout=args.seconds + 600,
            )
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr[-3000:])
            return json.loads(proc.stdout.strip().splitlines()[-1])

        def phase(mode: str) -> dict[str, Any]:
            cpu0, wall0 = server.cpu_seconds(), time.monotonic()
            out = client(mode)
            out["server"] = {
                "cpu_s": server.cpu_seconds() - cpu0,
                "wall_s": time.monotonic() - wall0,
                "load": os.getloadavg(),
                "underruns_counted": _server_underruns(server.url),
            }
            return out

        try:
            ref = phase("reference")  # same run, same machine, no attacker
            res = phase("attack")
            time.sleep(2.0)  # the outbox sender's last pass
        finally:
            server.stop()
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()

    import email
    import email.policy

    mails = collections.Counter()  # (recipient, confirmation request or not)
    for f in sorted(outbox.glob("*.eml")) if outbox.exists() else []:
        msg = email.message_from_string(f.read_text(), policy=email.policy.default)
        kind = "confirm" if str(msg["Subject"]).startswith("Confirm your") else "other"
        mails[(", ".join(a.addr_spec for a in msg["To"].addresses), kind)] += 1
    ttfa, deficit = res["ttfa"], res["deficit"]
    underruns = sum(1 for d in deficit if d > 0.0)
    codes = {int(k): v for k, v in res["codes"].items()}
    five = sum(v for k, v in codes.items() if k >= 500)
    for part in res["attacker"].values():
        five += sum(v for k, v in part.items() if int(k) >= 500)
    print(f"honest listeners: {args.listeners}, {args.seconds:.0f} s, PostgreSQL, one worker")
    if args.set:
        print(f"  settings: {' '.join(args.set)}")
    r_ttfa, r_def = ref["ttfa"], ref["deficit"]
    print(
        f"  reference without an attacker (same run): first audio p50 "
        f"{pct(r_ttfa, 0.5) * 1000:.0f} ms  p95 {pct(r_ttfa, 0.95) * 1000:.0f} ms; "
        f"underruns {sum(1 for d in r_def if d > 0.0)} of {len(r_def)}"
    )
    print("  under attack:")
    print(
        f"  time to first audio: n={len(ttfa)}  p50 {pct(ttfa, 0.5) * 1000:.0f} ms  "
        f"p95 {pct(ttfa, 0.95) * 1000:.0f} ms  max {max(ttfa, default=float('nan')) * 1000:.0f} ms"
    )
    play = res["play"]
    print(
        f"  time to 0.5 s of audio received (a player starts): p50 {pct(play, 0.5) * 1000:.0f} ms"
        f"  p95 {pct(play, 0.95) * 1000:.0f} ms (reference p95 {pct(ref['play'], 0.95) * 1000:.0f} ms)"
    )
    print(
        f"  underruns: {underruns} of {len(deficit)} streams "
        f"(worst deficit {max(deficit, default=0.0):.3f} s)"
    )
    print(f"  honest status codes: {dict(sorted(codes.items()))}")
    print(f"  5xx responses (everyone): {five}")
    for kind, part in res["attacker"].items():
        print(f"  attacker {kind}: {dict(sorted((int(k), v) for k, v in part.items()))}")
    for s in res["seek"]:
        fb = s.get("first_byte_s")
        pa = s.get("play_after_s")
        print(
            f"  seek offset {s['offset_s']:>6} s: status {s['status']}, first byte "
            f"{fb * 1000:.0f} ms, 0.5 s of audio after {(pa or float('nan')) * 1000:.0f} ms"
            if fb is not None
            else f"  seek {s}"
        )
    print(f"  owner log-in from their own address after the attack: {res['owner_login']}")
    print(f"  emails written (recipient, kind): {dict(mails) or 'none'}")
    print(
        f"  to the victim {VICTIM}, who never confirmed: {mails[(VICTIM, 'confirm')]} "
        f"confirmation request(s), {mails[(VICTIM, 'other')]} other email(s)"
    )
    ok = (
        pct(ttfa, 0.95) <= 1.0
        and underruns == 0
        and five == 0
        and all(429 in {int(k) for k in p} for p in res["attacker"].values())
        and all((s.get("first_byte_s") or 99) <= 1.0 for s in res["seek"])
        and mails[(VICTIM, "other")] == 0
    )
    print(
        f"  ratio under attack / reference: first audio p95 "
        f"{pct(ttfa, 0.95) / max(pct(r_ttfa, 0.95), 1e-9):.2f}x"
    )
    for name, part in (("reference", ref), ("under attack", res)):
        c, sv = part["client"], part["server"]
        at = [a for a, d in zip(part["deficit_at"], part["deficit"], strict=True) if d > 0]
        print(
            f"  {name}: server CPU {sv['cpu_s']:.1f} s in {sv['wall_s']:.0f} s "
            f"({sv['cpu_s'] / sv['wall_s']:.0%} of a core; {part['audio_s']:.0f} s of honest "
            f"audio received, {sv['cpu_s'] / max(part['audio_s'], 1e-9) * 1000:.0f} ms server "
            f"CPU per second of it); client CPU {c['cpu_s']:.1f} s "
            f"({c['cpu_s'] / c['wall_s']:.0%}), client loop late p95 "
            f"{c['lag_p95_s'] * 1000:.0f} ms, max {c['lag_max_s'] * 1000:.0f} ms; load "
            f"{' '.join(f'{x:.2f}' for x in sv['load'])}; server-counted underruns so far "
            f"{sv['underruns_counted']}; worst deficit at (s after play) "
            f"{sorted(round(a, 1) for a in at)[:12]}"
        )
    print(f"  targets met: {ok}")


if __name__ == "__main__":
    main()
