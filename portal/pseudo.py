"""A pseudo-locale (en-XA): every translated message comes out accented, about a
third longer and wrapped in ⟦…⟧. A page rendered in it shows at a glance — and
to a test — any text that did not pass through the catalogs, and any layout that
breaks when a translation is longer than the English."""
from __future__ import annotations

import re
from gettext import NullTranslations

OPEN, CLOSE = "⟦", "⟧"
_ACCENTS = str.maketrans(
    "abcdefghijklmnoprstuwyzABCDEFGHIJKLMNOPRSTUWYZ",
    "ȧƀƈḓḗƒɠħīĵķŀḿƞǿƥřşŧŭẇẏẑȦƁƇḒḖƑƓĦĪĴĶĿḾȠǾƤŘŞŦŬẆẎẐ")
# Placeholders, HTML tags and entities pass through untouched.
_KEEP = re.compile(r"%\(\w+\)[sd]|%[sd%]|<[^>]+>|&[#\w]+;")


def pseudo(message: str) -> str:
    if not message:
        return message
    out, last = [], 0
    for match in _KEEP.finditer(message):
        out.append(message[last:match.start()].translate(_ACCENTS))
        out.append(match.group(0))
        last = match.end()
    out.append(message[last:].translate(_ACCENTS))
    text = "".join(out)
    padding = "·" * max(1, len(message) // 3)
    return f"{OPEN}{text}{padding}{CLOSE}"


class PseudoTranslations(NullTranslations):
    def gettext(self, message):
        return pseudo(message)

    def ngettext(self, singular, plural, n):
        return pseudo(singular if n == 1 else plural)

    def pgettext(self, context, message):
        return pseudo(message)

    def npgettext(self, context, singular, plural, n):
        return pseudo(singular if n == 1 else plural)

    # Babel's support.Translations names
    ugettext = gettext
    ungettext = ngettext
    upgettext = pgettext
    unpgettext = npgettext
