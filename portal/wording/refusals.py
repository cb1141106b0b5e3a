"""Why something is refused: an action not offered (B2), a password or an invitation
that cannot be used, a billing detail that is not valid (B7)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from portal.wording.subscriptions import SUBSCRIPTION_REFUSAL

# B2: why an action is not offered.
REFUSAL = {
    "not_account_admin": _l("Only the account administrator can do this. Ask your account "
                            "administrator, or have them give you that role."),
    "reader_cannot_pay": _l("Readers can see invoices but cannot pay them. An owner, contributor "
                            "or invoice manager of the billing profile can pay."),
    "not_owner": _l("Only an owner of the billing profile can do this."),
    "wrong_account_kind": _l("This is not available for this kind of billing account."),
    "no_role_on_profile": _l("You have no role on this billing profile."),
    "forbidden": _l("You do not have permission to do this."),
    "cannot_manage_methods": _l("Only an owner or contributor of the billing profile can change its payment "
                                "methods. Ask one of them, or your account administrator."),
    # Issue 31: the rules of the Access page (portal/billing/accounts/people.py).
    "cannot_manage_roles": _l("Only the account administrator, or an owner of the billing account or "
                              "billing profile, can give and take roles."),
    "beyond_own_scope": _l("You can give and take roles only where you are an owner: on your billing "
                           "profile, not on the whole billing account or another profile."),
    "beyond_own_role": _l("You cannot give a role with more rights than your own."),
    "last_owner": _l("This is the last owner, so the role cannot be removed or changed. Give another "
                     "person the owner role first."),
    "own_last_owner": _l("You cannot remove or lower your own owner role: it is the only one you have "
                         "here. Ask another owner to do it."),
} | SUBSCRIPTION_REFUSAL

# Issue 31: why a password cannot be used (portal/billing/accounts/passwords.py).
PASSWORD_PROBLEM = {
    "too_short": _l("Choose a password of at least 12 characters. A few words in a row are easy to remember."),
    "too_long": _l("Choose a password of at most 128 characters"),
    "too_common": _l("That password is one of the most commonly used ones, so it is easy to guess. Choose "
                     "another one."),
}

# Issue 31: why an invitation's link cannot be used (people.invitation_for).
INVITATION_INVALID = {
    "unknown": _l("This invitation link does not work. It may have been replaced by a newer invitation: "
                  "use the link in the latest email, or ask the person who invited you to send it again."),
    "used": _l("This invitation has already been accepted or has been withdrawn. If you have accepted it, "
               "sign in."),
    "expired": _l("This invitation has expired: links work for 7 days. Ask the person who invited you to "
                  "send it again."),
    "sign_in_first": _l("You already have a sign-in to the portal with this email address. Sign in to accept "
                        "the invitation."),
    "other_person": _l("This invitation is for another email address. Sign out, then open the link again."),
}

# B7: why a billing detail was refused, per field and reason (billing/accounts/details.py).
DETAILS_ERROR = {
    ("company_name", "missing"): _l("Enter the company name"),
    ("street", "missing"): _l("Enter the street address or box"),
    ("postcode", "missing"): _l("Enter the postcode"),
    ("city", "missing"): _l("Enter the city"),
    ("org_number", "missing"): _l("Enter the organisation number, like 556677-8899"),
    ("org_number", "invalid"): _l("Enter a valid Swedish organisation number, like 556677-8899"),
    # ux-F17: ten digits, but the last (the check digit) does not match: most likely a typo.
    ("org_number", "check_digit"): _l("The organisation number's last digit does not match the others. "
                                      "Check the number for a typo."),
    ("vat_number", "invalid"): _l("Enter a valid EU VAT registration number, like SE556677889901"),
    ("vat_number", "other_country"): _l("The VAT registration number must be from the country of the address"),
    ("country", "unknown"): _l("Choose one of the options in the list"),
    ("recipients", "invalid"): _l("Enter each email address in the correct format, like name@example.com, one per line"),
    ("recipients", "too_many"): _l("Enter at most %(max)s email addresses", max=5),
    ("invoice_language", "unknown"): _l("Choose the invoice language"),
}
TOO_LONG = _l("This is too long")
