"""The password rule (NIST SP 800-63B 5.1.1.2), in one place for every form that sets
one (accepting an invitation, resetting a password): at least 12 characters, not one
of the commonly used passwords shipped beside this module, no composition rules."""
from __future__ import annotations

import functools
import gzip
from pathlib import Path

MIN_LENGTH = 12
MAX_LENGTH = 128  # long enough for any passphrase; bounds the hashing work per request
# 19,640 passwords most used in breaches (Royce Williams' list, as Django ships it, BSD).
COMMON_PASSWORDS = Path(__file__).with_name("common-passwords.txt.gz")


@functools.cache
def _common() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def password_problem(pw: str) -> str | None:
    """None when `pw` may be used; else why not: 'too_short', 'too_long', 'too_common'."""
    if len(pw) < MIN_LENGTH:
        return "too_short"
    if len(pw) > MAX_LENGTH:
        return "too_long"
    if pw.lower() in _common() or pw.strip().lower() in _common():
        return "too_common"
    return None
