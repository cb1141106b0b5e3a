"""Bulk download (issue 30): a period's invoice documents as one zip, streamed. Each
invoice is read and its stored file (portal/document_store.py: made and stored first
if there is none, as a single download does) written into the zip, which is sent on
as it grows: memory holds one document at a time, whatever the number of invoices.
PDFs are stored as they are (they are compressed already); XML is deflated."""
from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterable, Iterator
from datetime import date

from portal.models import Invoice

NUMBER_DIGITS = 7  # file names padded to this many digits sort by number: faktura-0010003.pdf


def member_name(word: str, number: str, extension: str) -> str:
    """e.g. faktura-0010003.pdf: the word for "invoice" in the reader's language and the
    number, zero-padded so that a file listing sorts the invoices by number."""
    shown = number.zfill(NUMBER_DIGITS) if number.isdigit() else number
    return f"{word.lower()}-{shown}.{extension}"


class _Pipe:
    """A write-only, unseekable file: what zipfile writes waits here until taken."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def stream_zip(files: Iterable[tuple[str, date, Callable[[], bytes]]]) -> Iterator[bytes]:
    """The zip of `files` (name, day, how to read its bytes), in pieces: each file is read
    when its turn comes and sent once written (zipfile writes sizes after the data on
    an unseekable stream)."""
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w") as archive:
        for name, day, read in files:
            compression = zipfile.ZIP_STORED if name.endswith(".pdf") else zipfile.ZIP_DEFLATED
            entry = zipfile.ZipInfo(name, date_time=(day.year, day.month, day.day, 0, 0, 0))
            archive.writestr(entry, read(), compress_type=compression)
            yield pipe.take()
    yield pipe.take()


def invoice_files(ids: Iterable[tuple[int, str, date]], load: Callable[[int], Invoice], word: str,
                  pdf: Callable[[Invoice], bytes], xml: Callable[[Invoice], bytes] | None
                  ) -> Iterator[tuple[str, date, Callable[[], bytes]]]:
    """(name, issue day, reader) for each invoice's PDF, then its XML when `xml` is given."""
    for invoice_id, number, issued_on in ids:
        yield member_name(word, number, "pdf"), issued_on, lambda i=invoice_id: pdf(load(i))
        if xml is not None:
            yield member_name(word, number, "xml"), issued_on, lambda i=invoice_id: xml(load(i))
