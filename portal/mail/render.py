"""An outbox row → a MIME message: in the recipient's language (force_locale), plain
text and HTML from the same words, absolute deep links (B1), a stable Message-ID."""
from __future__ import annotations

import re
from datetime import timezone
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from urllib.parse import urlsplit

from flask import Flask, g, render_template
from flask_babel import force_locale, get_locale, pgettext

from portal.billing.invoicing.documents import invoice_document
from portal.billing.invoicing.remittance import remittance_from_config
from portal import document_store
from portal.deeplinks import target
from portal.document_files import invoice_filename, invoice_pdf
from portal.extensions import db
from portal.i18n import DEFAULT_LOCALE, PSEUDO_LOCALE, SUPPORTED_LOCALES, url_locales
from portal.mail.content import Link
from portal.mail.messages import compose
from portal.models import Invoice, OutboxMessage


def _one_line(text: str) -> str:
    """Headers are one line: names typed by customers cannot add headers."""
    return re.sub(r"\s*[\r\n]+\s*", " ", text).strip()


def message_id(message: OutboxMessage, from_address: str) -> str:
    """The same on every attempt: a copy sent again is recognisably the same email."""
    domain = from_address.rpartition("@")[2] or "localhost"
    return f"<{message.message_key}@{domain}>"


def absolute_url(app: Flask, endpoint: str, values: dict, lang: str) -> str:
    """A link from outside the portal: PORTAL_BASE_URL (scheme, host, any path prefix)
    plus the route, with the recipient's language prefix (/sv/, /en/)."""
    base = urlsplit(app.config["PORTAL_BASE_URL"])
    adapter = app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    return adapter.build(endpoint, {**values, "lang": lang}, force_external=True)


def render_email(app: Flask, message: OutboxMessage) -> EmailMessage:
    config = app.config
    provider = config["PROVIDER_NAME"]
    # The pseudo-locale too where it is switched on (development, tests): emails are
    # checked for text outside the catalogs like pages are.
    lang = message.locale if message.locale in url_locales(app) else DEFAULT_LOCALE
    formats = "en" if lang == PSEUDO_LOCALE else lang  # the pseudo-locale formats as English
    with app.app_context(), force_locale(formats):  # a fresh `g`: nothing of another locale leaks in
        g.lang = lang  # what pages read from their address: the catalog (pseudo or not)
        content = compose(message.template, message.payload, message.to_address, provider)
        found = target(message.template, message.payload or {})
        if found is not None:
            content.action = Link(found.text, absolute_url(app, found.endpoint, found.values, lang))
        context = dict(content=content, lang=lang, provider=provider)
        text = render_template("email/message.txt", **context)
        html = render_template("email/message.html", **context)
        attachment = _invoice_attachment(app, message)
    email = EmailMessage()
    email["Subject"] = _one_line(content.subject)
    email["From"] = formataddr((provider, config["MAIL_FROM"]))
    email["To"] = message.to_address
    if config.get("MAIL_REPLY_TO"):
        email["Reply-To"] = config["MAIL_REPLY_TO"]
    email["Date"] = format_datetime(message.created_at.replace(tzinfo=timezone.utc))
    email["Message-ID"] = message_id(message, config["MAIL_FROM"])
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    email.set_content(text)
    email.add_alternative(html, subtype="html")
    if attachment is not None:
        email.add_attachment(attachment[1], maintype="application", subtype="pdf", filename=attachment[0])
    # Last: set_content and add_attachment move or clear the Content-* headers.
    email["Content-Language"] = lang
    return email


def _invoice_attachment(app: Flask, message: OutboxMessage) -> tuple[str, bytes] | None:
    """B6: "invoice ready" carries the invoice's PDF, in the recipient's language (the
    caller forces it): the file stored at issue (issue 28), made now if there is none."""
    invoice_id = (message.payload or {}).get("invoice_id")
    if message.template != "invoice_ready" or invoice_id is None:
        return None
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None:
        return None
    lang = str(get_locale() or DEFAULT_LOCALE)
    content = (document_store.invoice_pdf(invoice, lang).content if lang in SUPPORTED_LOCALES
               else invoice_pdf(invoice_document(invoice, app.extensions["seller"], remittance_from_config(app.config))))
    return invoice_filename(invoice, pgettext("file name", "invoice")), content
