"""Expanding the command line's files, folders and globs into the files to ingest."""

from __future__ import annotations

from pathlib import Path

from app.ingestion.paths import Expansion, expand


def _touch(root: Path, *names: str) -> Path:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("# Title\n\nSome text.\n", encoding="utf-8")
    return root


def _names(expansion: Expansion) -> list[str]:
    return [found.name for found in expansion.files]


def test_folder_is_searched_recursively_for_supported_types_in_order(tmp_path: Path) -> None:
    docs = _touch(
        tmp_path / "docs",
        "c.txt",
        "a.md",
        "sub/b.md",
        "sub/deep/d.pdf",
        "sub/e.html",
        "notes.docx",
        "image.png",
        "sub/deep/archive.zip",
    )

    expansion = expand([str(docs)])

    assert _names(expansion) == ["a.md", "c.txt", "sub/b.md", "sub/deep/d.pdf", "sub/e.html"]
    assert [found.path for found in expansion.files] == [docs / name for name in _names(expansion)]
    assert expansion.failed == {}


def test_folder_search_skips_hidden_files_and_hidden_folders(tmp_path: Path) -> None:
    docs = _touch(
        tmp_path / "docs",
        "visible.md",
        ".draft.md",
        "sub/.notes.txt",
        ".git/description.txt",
        "sub/.cache/page.html",
        "sub/kept.md",
    )

    assert _names(expand([str(docs)])) == ["sub/kept.md", "visible.md"]


def test_recursive_glob_names_files_relative_to_its_fixed_prefix(tmp_path: Path) -> None:
    _touch(tmp_path, "a.md", "sub/b.md", "sub/deep/c.md", "sub/other.txt")

    expansion = expand([f"{tmp_path}/**/*.md"])

    assert _names(expansion) == ["a.md", "sub/b.md", "sub/deep/c.md"]
    assert expansion.failed == {}


def test_glob_matching_nothing_is_a_failure_with_a_reason(tmp_path: Path) -> None:
    _touch(tmp_path, "a.txt", "b.docx")
    pattern = f"{tmp_path}/*.md"
    unsupported_only = f"{tmp_path}/b.*"

    expansion = expand([pattern, unsupported_only])

    assert expansion.files == []
    assert expansion.failed == {
        pattern: "no supported file matches",
        unsupported_only: "no supported file matches",
    }


def test_missing_path_is_a_failure(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.md")

    expansion = expand([missing])

    assert expansion.files == []
    assert expansion.failed == {missing: "no such file or folder"}


def test_named_file_of_unsupported_type_is_a_failure_naming_the_type(tmp_path: Path) -> None:
    _touch(tmp_path, "report.docx", "Makefile")
    docx, bare = str(tmp_path / "report.docx"), str(tmp_path / "Makefile")

    expansion = expand([docx, bare])

    assert expansion.files == []
    assert expansion.failed[docx].startswith("unsupported type .docx")
    assert expansion.failed[bare].startswith("unsupported type (none)")
    assert ".md" in expansion.failed[docx]


def test_named_file_is_found_under_its_own_name(tmp_path: Path) -> None:
    _touch(tmp_path, "sub/guide.md")

    expansion = expand([str(tmp_path / "sub" / "guide.md")])

    assert [(found.path, found.name) for found in expansion.files] == [
        (tmp_path / "sub" / "guide.md", "guide.md")
    ]


def test_file_reached_twice_is_listed_once(tmp_path: Path) -> None:
    docs = _touch(tmp_path / "docs", "a.md", "sub/b.md")
    explicit = str(docs / "sub" / "b.md")

    folder_first = expand([str(docs), explicit, f"{docs}/**/*.md"])
    explicit_first = expand([explicit, str(docs)])

    assert _names(folder_first) == ["a.md", "sub/b.md"]
    assert sorted(_names(explicit_first)) == ["a.md", "b.md"]
    assert folder_first.failed == explicit_first.failed == {}


def test_existing_path_with_glob_characters_is_taken_literally(tmp_path: Path) -> None:
    # Downloaded and exported files often carry brackets, e.g. "minutes [draft].md".
    _touch(tmp_path, "minutes [draft].md", "archive [2023]/old.md")
    named_file = str(tmp_path / "minutes [draft].md")
    named_folder = str(tmp_path / "archive [2023]")

    expansion = expand([named_file, named_folder])

    assert expansion.failed == {}
    assert _names(expansion) == ["minutes [draft].md", "old.md"]
