import io

import pytest
from pypdf import PdfReader

from tests.notifications.conftest import smtp_server  # noqa: F401  (a real SMTP server for the email tests)
from tests.sales.conftest import bookkeeper, viewer  # noqa: F401


def read_pdf(content: bytes) -> PdfReader:
    assert content.startswith(b"%PDF-"), content[:20]
    return PdfReader(io.BytesIO(content))


def page_texts(reader: PdfReader) -> list[str]:
    return [page.extract_text() or "" for page in reader.pages]


def link_targets(reader: PdfReader) -> list[str]:
    """Every URI a reader can click in the PDF (its link annotations)."""
    uris = []
    for page in reader.pages:
        for annotation in page.get("/Annots") or []:
            action = annotation.get_object().get("/A")
            if action is not None and action.get("/URI"):
                uris.append(str(action["/URI"]))
    return uris


@pytest.fixture
def admin(member_client):
    return member_client("admin")
