"""The sandbox bank's 3-D Secure page (B13): where the sandbox gateway sends a
cardholder whose bank wants them to authenticate, and from where they go back to the
portal. A real processor sends them to the real bank instead; this blueprint answers
only while the sandbox gateway is in use. No code to type, no puzzle: one button to
confirm and one to cancel (WCAG 2.2 SC 3.3.8, Accessible Authentication)."""
from __future__ import annotations

import re

from flask import redirect, request

from portal.errors import NotFound
from portal.forms import PortalForm
from portal.services import billing
from portal.web.common import signed_in_blueprint
from portal.web.rendering import render

bp = signed_in_blueprint("sandbox")

# Where the bank may send people back to: the portal's own return page, nothing else.
RETURN_PATH = re.compile(r"/(sv|en|en-XA)/accounts/[0-9]{1,12}/payments/authenticated/[A-Za-z0-9-]{8,100}")


class ChallengeForm(PortalForm):
    """Only the CSRF token: the button pressed says confirm or cancel."""


@bp.route("/sandbox/challenge/<challenge>", methods=["GET", "POST"])
def challenge(challenge: str):
    gateway = billing().gateway
    found = gateway.challenge(challenge) if hasattr(gateway, "challenge") and len(challenge) <= 64 else None
    return_to = request.args.get("return_to", "")
    if found is None or not RETURN_PATH.fullmatch(return_to):
        raise NotFound("challenge")
    form = ChallengeForm()
    if form.validate_on_submit():
        gateway.complete_challenge(challenge, confirmed=request.form.get("decision") == "confirm")
        return redirect(return_to, code=303)
    amount, state = found
    return render("sandbox/challenge.html", status=400 if form.errors else 200, amount=amount, state=state,
                  form=form, return_to=return_to)
