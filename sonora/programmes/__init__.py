"""Therapist-guided programmes: consent to share, programmes, progress, reports.

After a free consult, a listener may share a scope they choose with that one
therapist; the therapist may then write a programme — goals in their own words, a
weekly rhythm, what to listen to, extra 0-10 questions, dates — which the listener
sees as "from your music therapist".  Progress (adherence, before/after change,
answers) is shown to both, within what the listener shares, and exported as CSV and
PDF.  The programme is the therapist's; Sonora only carries it.
"""

from sonora.programmes.models import AccessLogRow, AnswerRow, ProgrammeRow, ShareRow
from sonora.programmes.service import Programmes

__all__ = ["AccessLogRow", "AnswerRow", "ProgrammeRow", "Programmes", "ShareRow"]
