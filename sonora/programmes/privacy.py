"""The programmes' part of an account's export and deletion (:mod:`sonora.accounts.privacy`).

For a listener: what they share and with whom, the access log, the programmes written
for them and their answers.  For a therapist: the programmes they wrote and who shares
with them (ids and scope only; the listeners' data stays the listeners').  Deleting a
therapist's account deletes their programmes (with the answers to them) and the shares
with them; the listeners keep their access log, with the therapist's name as it was.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from sonora.accounts.privacy import iso, rows_by
from sonora.programmes.models import AccessLogRow, AnswerRow, ProgrammeRow, ShareRow
from sonora.therapists.models import TherapistProfile

__all__ = ["ProgrammesAccountPart"]


def _programme(p: ProgrammeRow) -> dict[str, Any]:
    return {
        "id": p.id,
        "listener_id": p.listener_id,
        "therapist_id": p.therapist_id,
        "title": p.title,
        "goals": p.goals,
        "sessions_per_week": p.sessions_per_week,
        "minutes_min": p.minutes_min,
        "minutes_max": p.minutes_max,
        "rhythm_note": p.rhythm_note,
        "listen": p.listen,
        "questions": p.questions,
        "start_date": iso(p.start_date),
        "end_date": iso(p.end_date),
        "note": p.note,
        "remind_email": p.remind_email,
        "remind_weekdays": p.remind_weekdays,
        "created_at": iso(p.created_at),
    }


def _share(r: ShareRow) -> dict[str, Any]:
    return {
        "id": r.id,
        "listener_id": r.listener_id,
        "therapist_id": r.therapist_id,
        "numbers": r.share_numbers,
        "history": r.share_history,
        "notes": r.share_notes,
        "created_at": iso(r.created_at),
        "updated_at": iso(r.updated_at),
        "revoked_at": iso(r.revoked_at),
    }


def _profile_id(s: Session, user_id: str) -> str | None:
    return s.scalar(select(TherapistProfile.id).where(TherapistProfile.user_id == user_id))


class ProgrammesAccountPart:
    """:class:`~sonora.accounts.privacy.AccountPart` of therapist-guided programmes.

    Must run before the directory's part (it reads the account's therapist profile,
    which that part deletes).
    """

    def export(self, s: Session, user_id: str) -> dict[str, Any]:
        own = rows_by(s, ProgrammeRow, "listener_id", user_id)
        answers = rows_by(s, AnswerRow, "listener_id", user_id)
        names = dict(s.execute(select(TherapistProfile.id, TherapistProfile.display_name)).all())
        out: dict[str, Any] = {
            "programme_shares": [
                {**_share(r), "therapist_name": names.get(r.therapist_id)}
                for r in rows_by(s, ShareRow, "listener_id", user_id, ShareRow.created_at)
            ],
            "programme_access_log": [
                {
                    "therapist_name": r.therapist_name,
                    "what": r.what,
                    "scope": r.scope,
                    "at": iso(r.created_at),
                }
                for r in rows_by(s, AccessLogRow, "listener_id", user_id)
            ],
            "programmes": [
                {
                    **_programme(p),
                    "therapist_name": names.get(p.therapist_id),
                    "answers": [
                        {
                            "question_id": a.question_id,
                            "value": a.value,
                            "checkin_id": a.checkin_id,
                            "at": iso(a.created_at),
                        }
                        for a in answers
                        if a.programme_id == p.id
                    ],
                }
                for p in own
            ],
            "programmes_written": [],
            "shared_with_me": [],
        }
        tid = _profile_id(s, user_id)
        if tid is not None:
            out["programmes_written"] = [
                _programme(p)
                for p in rows_by(s, ProgrammeRow, "therapist_id", tid, ProgrammeRow.created_at)
            ]
            out["shared_with_me"] = [
                {k: v for k, v in _share(r).items()}
                for r in s.scalars(
                    select(ShareRow)
                    .where(ShareRow.therapist_id == tid)
                    .order_by(ShareRow.created_at)
                )
            ]
        return out

    def delete(self, s: Session, user_id: str) -> dict[str, int]:
        counts: dict[str, int] = {}

        def add(table: str, res: Any) -> None:
            counts[table] = counts.get(table, 0) + int(res.rowcount or 0)

        tid = _profile_id(s, user_id)
        mine = select(ProgrammeRow.id).where(ProgrammeRow.listener_id == user_id)
        add(
            "programme_answers",
            s.execute(delete(AnswerRow).where(AnswerRow.listener_id == user_id)),
        )
        add(
            "programme_answers",
            s.execute(delete(AnswerRow).where(AnswerRow.programme_id.in_(mine))),
        )
        add(
            "programmes", s.execute(delete(ProgrammeRow).where(ProgrammeRow.listener_id == user_id))
        )
        add(
            "programme_access_log",
            s.execute(delete(AccessLogRow).where(AccessLogRow.listener_id == user_id)),
        )
        add("programme_shares", s.execute(delete(ShareRow).where(ShareRow.listener_id == user_id)))
        if tid is not None:
            written = select(ProgrammeRow.id).where(ProgrammeRow.therapist_id == tid)
            add(
                "programme_answers",
                s.execute(delete(AnswerRow).where(AnswerRow.programme_id.in_(written))),
            )
            add(
                "programmes",
                s.execute(delete(ProgrammeRow).where(ProgrammeRow.therapist_id == tid)),
            )
            add("programme_shares", s.execute(delete(ShareRow).where(ShareRow.therapist_id == tid)))
            # the listeners keep their log of who looked, with the name as it was
            s.execute(
                update(AccessLogRow)
                .where(AccessLogRow.therapist_id == tid)
                .values(therapist_id=None)
            )
        return counts

    def count(self, s: Session, user_id: str) -> dict[str, int]:
        def n(model: Any, col: Any) -> int:
            return int(s.scalar(select(func.count()).select_from(model).where(col == user_id)) or 0)

        return {
            "programme_shares": n(ShareRow, ShareRow.listener_id),
            "programme_access_log": n(AccessLogRow, AccessLogRow.listener_id),
            "programmes": n(ProgrammeRow, ProgrammeRow.listener_id),
            "programme_answers": n(AnswerRow, AnswerRow.listener_id),
        }

    def move(self, s: Session, from_user_id: str, to_user_id: str) -> None:
        return None  # a guest cannot share (sharing needs an account)
