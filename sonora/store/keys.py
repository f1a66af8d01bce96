"""Stable content keys for plans (what a loudness calibration was measured for)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["plan_key"]


def plan_key(plan: Mapping[str, Any]) -> str:
    """SHA-256 (hex, 16 characters) of a plan's JSON with sorted keys.

    Two plans with the same content have the same key; any edit (a swapped layer, a
    new length, another seed) changes it.
    """
    text = json.dumps(plan, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
