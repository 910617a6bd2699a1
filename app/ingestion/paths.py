"""Turn the command line's paths (files, folders, globs) into the files to ingest."""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path

from app.ingestion.media_types import SUPPORTED_SUFFIXES

_MAGIC = ("*", "?", "[")


@dataclass(frozen=True)
class FoundFile:
    """A file to ingest and the name its document gets."""

    path: Path
    # Relative to the folder (or the fixed part of the glob) it was found under.
    name: str


@dataclass
class Expansion:
    """The files the arguments named, and the arguments that named nothing usable."""

    files: list[FoundFile] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def expand(arguments: list[str]) -> Expansion:
    """Files as given; folders searched recursively for supported types; globs matched.

    Inside folders and globs, files of other types and hidden files are skipped; a file of an
    unsupported type named on its own is a failure.
    """
    expansion = Expansion()
    seen: set[Path] = set()

    def add(path: Path, root: Path | None) -> None:
        resolved = path.resolve()
        if resolved in seen:
            return
        seen.add(resolved)
        name = path.relative_to(root).as_posix() if root is not None else path.name
        expansion.files.append(FoundFile(path, name))

    for argument in arguments:
        # A path that exists is taken literally, even with '[' or '*' in its name.
        if not Path(argument).exists() and any(mark in argument for mark in _MAGIC):
            root = _fixed_prefix(argument)
            matches = sorted(Path(match) for match in glob.glob(argument, recursive=True))
            usable = [m for m in matches if m.is_dir() or _wanted(m)]
            if not usable:
                expansion.failed[argument] = "no supported file matches"
            for match in usable:
                for path in _walk(match) if match.is_dir() else [match]:
                    add(path, root)
        elif (path := Path(argument)).is_dir():
            for found in _walk(path):
                add(found, path)
        elif not path.exists():
            expansion.failed[argument] = "no such file or folder"
        elif path.suffix.lower() not in SUPPORTED_SUFFIXES:
            supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
            expansion.failed[argument] = (
                f"unsupported type {path.suffix or '(none)'}; supported: {supported}"
            )
        else:
            add(path, None)
    return expansion


def _walk(folder: Path) -> list[Path]:
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file()
        and _wanted(path)
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


def _wanted(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES


def _fixed_prefix(pattern: str) -> Path:
    parts = Path(pattern).parts
    fixed = []
    for part in parts[:-1]:
        if any(mark in part for mark in _MAGIC):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")
