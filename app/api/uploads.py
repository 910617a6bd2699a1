"""Read a multipart upload as it streams in, refusing a file the moment it passes the limit.

Starlette's form parser has no limit on file parts: it would read a 2 GB upload to the end
before the handler could look at its size. This parser (python-multipart's streaming one)
counts each file's bytes as they arrive and stops reading at the limit; files spool to disk
past 1 MB, so reading an upload takes little memory whatever the client sends. (Parsing it
does take memory: CITESTREAM_INGESTION__MAX_REQUEST_BYTES bounds that, and python-multipart
itself caps each part's headers at 8 lines of 4 KB.)
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

import anyio
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header
from starlette.requests import Request

from app.core.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from app.core.settings import IngestionSettings

FILES_FIELD = "files"
_MAX_FIELD_BYTES = 1024
_MAX_FIELDS = 8
# Multipart headers and boundaries around each file, allowed on top of the files themselves.
_OVERHEAD_PER_FILE = 16 * 1024
_SPOOL_BYTES = 1024 * 1024


@dataclass
class UploadedFile:
    """One file part, spooled (to disk past 1 MB)."""

    filename: str
    size: int
    content: IO[bytes]

    def read(self) -> bytes:
        self.content.seek(0)
        return self.content.read()


@dataclass
class UploadForm:
    """The files and the (small) text fields of an upload."""

    files: list[UploadedFile] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)

    def close(self) -> None:
        for upload in self.files:
            upload.content.close()


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    spool: IO[bytes] | None = None
    value: bytearray = field(default_factory=bytearray)
    size: int = 0


class _FormBuilder:
    """python-multipart callbacks that build an UploadForm and enforce the limits."""

    def __init__(self, limits: IngestionSettings) -> None:
        self.form = UploadForm()
        self._limits = limits
        self._part = _Part()
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._file_bytes = 0

    @property
    def writing_to_disk(self) -> bool:
        """Whether the file being received has rolled over from memory to a temporary file."""
        return self._part.spool is not None and self._part.size > _SPOOL_BYTES

    def close(self) -> None:
        """Close every spooled file, including the one being written."""
        self.form.close()
        if self._part.spool is not None:
            self._part.spool.close()

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self._on_part_begin,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
        }

    def _on_part_begin(self) -> None:
        if (
            len(self.form.fields) + len(self.form.files)
            >= self._limits.max_files_per_request + _MAX_FIELDS
        ):
            raise InvalidInput("The upload has too many form fields.", field_name=FILES_FIELD)
        self._part = _Part()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        name = self._header_field.decode("latin-1").lower()
        self._part.headers[name] = self._header_value.decode("latin-1")
        self._header_field.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._part.headers.get("content-disposition", ""))
        self._part.name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if filename is not None:
            if len(self.form.files) >= self._limits.max_files_per_request:
                raise PayloadTooLarge(
                    f"At most {self._limits.max_files_per_request} files may be uploaded at "
                    "once; send the rest in another request."
                )
            self._part.filename = filename.decode("utf-8", "replace")
            # Closed by UploadForm.close(), once the request is done with it.
            self._part.spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        part.size += end - start
        if part.spool is None:
            if part.size > _MAX_FIELD_BYTES:
                raise InvalidInput(
                    f"The form field {part.name!r} is too long.", field_name=part.name
                )
            part.value += data[start:end]
            return
        if part.size > self._limits.max_file_bytes:
            raise PayloadTooLarge(
                f"{part.filename}: the file is larger than the "
                f"{_megabytes(self._limits.max_file_bytes)} limit "
                "(CITESTREAM_INGESTION__MAX_FILE_BYTES)."
            )
        self._file_bytes += end - start
        if self._file_bytes > self._limits.max_request_bytes:
            raise PayloadTooLarge(
                f"The files of this upload add up to more than "
                f"{_megabytes(self._limits.max_request_bytes)} "
                "(CITESTREAM_INGESTION__MAX_REQUEST_BYTES); send them in several requests."
            )
        part.spool.write(data[start:end])

    def _on_part_end(self) -> None:
        part = self._part
        if part.spool is not None and part.filename is not None:
            if part.name != FILES_FIELD:
                raise InvalidInput(
                    f"Send files in form fields named {FILES_FIELD!r}, not {part.name!r}.",
                    field_name=part.name,
                )
            self.form.files.append(UploadedFile(part.filename, part.size, part.spool))
            part.spool = None  # the form owns it now
        else:
            self.form.fields[part.name] = part.value.decode("utf-8", "replace")


async def read_upload_form(request: Request, limits: IngestionSettings) -> UploadForm:
    """The request's files and fields; 413 as soon as a limit is passed, 415 if not multipart."""
    media_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if media_type != b"multipart/form-data" or not boundary:
        raise UnsupportedMediaType(
            "Upload documents as multipart/form-data, one or more parts named 'files' "
            "(curl -F files=@handbook.pdf)."
        )
    declared = request.headers.get("content-length")
    most = limits.max_request_bytes + limits.max_files_per_request * _OVERHEAD_PER_FILE
    if declared is not None and declared.isdigit() and int(declared) > most:
        # Refused before a byte of the body is read.
        raise PayloadTooLarge(
            f"The upload is {_megabytes(int(declared))}; one request may carry at most "
            f"{_megabytes(limits.max_request_bytes)} of files "
            f"({limits.max_files_per_request} files of at most "
            f"{_megabytes(limits.max_file_bytes)} each)."
        )
    builder = _FormBuilder(limits)
    parser = MultipartParser(boundary, builder.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            if builder.writing_to_disk:
                # Past 1 MB every write goes to a temporary file: blocking I/O, off the loop.
                await anyio.to_thread.run_sync(parser.write, chunk)
            else:
                parser.write(chunk)
        if parser.state != MultipartState.END:
            # python-multipart's finalize() does not check this: a body cut off before its
            # closing boundary would silently lose the file that was being received.
            raise MultipartParseError("the body ends before its closing boundary")
    except MultipartParseError as error:
        builder.close()
        raise InvalidInput(
            f"The multipart body is malformed: {error}.", field_name=FILES_FIELD
        ) from None
    except BaseException:
        builder.close()  # the client left, or a limit was passed: nothing is kept
        raise
    return builder.form


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size >= 1024 * 1024 else f"{size} bytes"
