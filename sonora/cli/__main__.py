"""``python -m sonora.cli``: the same command as ``sonora``."""

from sonora.cli import main

main()
