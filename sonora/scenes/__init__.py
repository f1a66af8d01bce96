"""Scenes: declarative layer recipes, a built-in library, and the graph builder."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from sonora.errors import SceneNotFoundError
from sonora.scenes.spec import GOALS, LayerSpec, ReverbSpec, Scene, parse_scene, read_scene_file

__all__ = [
    "GOALS",
    "LayerSpec",
    "ReverbSpec",
    "Scene",
    "builtin_names",
    "list_scenes",
    "load_scene",
    "parse_scene",
    "read_scene_file",
]

_SUFFIXES = (".toml", ".yaml", ".yml", ".json")


def _builtin_dir() -> Path:
    return Path(str(resources.files("sonora.scenes") / "builtin"))


def builtin_names() -> list[str]:
    """Names of the built-in scenes, sorted."""
    return sorted(p.stem for p in _builtin_dir().glob("*.toml"))


def list_scenes() -> list[Scene]:
    """All built-in scenes, validated, sorted by name."""
    return [read_scene_file(_builtin_dir() / f"{n}.toml") for n in builtin_names()]


def load_scene(name_or_path: str | Path) -> Scene:
    """Load a built-in scene by name, or a user's scene file by path.

    Raises
    ------
    SceneNotFoundError
        When it is neither a built-in name nor an existing file.
    ParameterError
        When the file exists but is invalid.
    """
    text = str(name_or_path)
    builtin = _builtin_dir() / f"{text}.toml"
    if "/" not in text and builtin.exists():
        return read_scene_file(builtin)
    path = Path(text).expanduser()
    if path.suffix.lower() in _SUFFIXES and path.exists():
        return read_scene_file(path)
    names = ", ".join(builtin_names())
    raise SceneNotFoundError(
        f"scene: no built-in scene or scene file called {text!r}. Built-in scenes: {names}"
    )
