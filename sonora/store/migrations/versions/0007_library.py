"""The listener's music library: folders, tracks + analysis, scans, playlists, prefs.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

TS = sa.DateTime(timezone=True)

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _user() -> sa.Column:
    return sa.Column(
        "user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    """Create the ``library_*`` tables."""
    op.create_table(
        "library_folders",
        sa.Column("id", sa.String(32), primary_key=True),
        _user(),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("user_id", "path", name="uq_library_folders_user_path"),
    )
    op.create_table(
        "library_tracks",
        sa.Column("id", sa.String(32), primary_key=True),
        _user(),
        sa.Column(
            "folder_id",
            sa.String(32),
            sa.ForeignKey("library_folders.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("rel_path", sa.String(1024), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("artist", sa.String(300), nullable=False),
        sa.Column("album", sa.String(300), nullable=False),
        sa.Column("genre", sa.String(120), nullable=False),
        sa.Column("codec", sa.String(40), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("tempo_bpm", sa.Float(), nullable=True),
        sa.Column("energy", sa.Float(), nullable=True),
        sa.Column("loudness_lufs", sa.Float(), nullable=True),
        sa.Column("voice", sa.Float(), nullable=True),
        sa.Column("musical_key", sa.String(12), nullable=True),
        sa.Column("analysis", sa.JSON(), nullable=True),
        sa.Column("error", sa.String(300), nullable=True),
        sa.Column("analysed_at", TS, nullable=False),
        sa.UniqueConstraint("folder_id", "rel_path", name="uq_library_tracks_folder_path"),
    )
    op.create_index("ix_library_tracks_user", "library_tracks", ["user_id"])
    op.create_table(
        "library_scans",
        sa.Column("id", sa.String(32), primary_key=True),
        _user(),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("files_seen", sa.Integer(), nullable=False),
        sa.Column("to_analyse", sa.Integer(), nullable=False),
        sa.Column("analysed", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("message", sa.String(300), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
    )
    op.create_index("ix_library_scans_user_created", "library_scans", ["user_id", "created_at"])
    op.create_table(
        "library_playlists",
        sa.Column("id", sa.String(32), primary_key=True),
        _user(),
        sa.Column("goal", sa.String(20), nullable=False),
        sa.Column("checkin_id", sa.String(32), nullable=True),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index(
        "ix_library_playlists_user_created", "library_playlists", ["user_id", "created_at"]
    )
    op.create_table(
        "library_prefs",
        sa.Column(
            "user_id",
            sa.String(32),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("disliked_artists", sa.JSON(), nullable=False),
        sa.Column("disliked_genres", sa.JSON(), nullable=False),
        sa.Column("voice_ok_for_sleep", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )


def downgrade() -> None:
    """Drop the ``library_*`` tables (the music itself was never touched)."""
    op.drop_table("library_prefs")
    op.drop_index("ix_library_playlists_user_created", table_name="library_playlists")
    op.drop_table("library_playlists")
    op.drop_index("ix_library_scans_user_created", table_name="library_scans")
    op.drop_table("library_scans")
    op.drop_index("ix_library_tracks_user", table_name="library_tracks")
    op.drop_table("library_tracks")
    op.drop_table("library_folders")
