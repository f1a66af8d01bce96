"""The listener's own music: folders, incremental scans, analysis, goal-led playlists.

Sonora reads the listener's files (FLAC, MP3, Ogg Vorbis/Opus, AAC/M4A, WAV) through
PyAV when installed, else libsndfile and the ``ffmpeg`` program (see
:func:`sonora.library.analysis.decode`), never writes them, and keeps its estimates per track in the database
(``sonora/library/models.py``).  Playlists follow the iso principle: begin near how
the listener is now and step, track by track, toward the goal.
"""
