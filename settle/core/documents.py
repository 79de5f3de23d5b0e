"""Documents rendered from templates: PDFs (WeasyPrint, no browser) and emails with an HTML twin.

A document's template is the same one a view shows on screen (e.g. the invoice's print
view), so the PDF and the page never disagree. Every asset a document needs is inlined
(styles in the template, images as data: URIs): WeasyPrint fetches nothing, and an email
client that blocks remote images loses nothing.
"""

import base64
import logging
import mimetypes

from django.template.loader import render_to_string

PDF_CONTENT_TYPE = "application/pdf"

# WeasyPrint reports each rendering step at INFO; only its warnings belong in the logs.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)


def load_pdf_engine() -> None:
    """Import WeasyPrint now (it takes a moment the first time in a process).

    Callers that render a PDF while holding row locks call this first, outside their
    transaction, so the lock is held for the rendering only.
    """
    import weasyprint  # noqa: F401


def render_pdf(template: str, context: dict) -> bytes:
    """The PDF of an HTML template (WeasyPrint, imported on first use: it takes a while to load).

    Only data: URIs are read; nothing is fetched from files or the network.
    """
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    html = render_to_string(template, {**context, "for_pdf": True})
    return HTML(string=html, url_fetcher=URLFetcher(allowed_protocols={"data"})).write_pdf()


def data_uri(file_field) -> str:
    """A stored file (e.g. a company logo) as a data: URI, or "" when absent or unreadable."""
    if not file_field:
        return ""
    try:
        with file_field.open("rb") as handle:
            content = handle.read()
    except OSError:
        return ""
    mime = mimetypes.guess_type(file_field.name)[0] or "application/octet-stream"
    if not mime.startswith("image/"):
        return ""
    return f"data:{mime};base64,{base64.b64encode(content).decode()}"
