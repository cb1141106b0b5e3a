"""The account and what it owes: who may do what, what the signed-in user sees, and
what every write tells people.

    access      who may do what (R02, R14, R19, B2): `decide` and `require`
    notify      the outbox email, notice and audit event of the same transaction (M2)
    history     payments and what they paid (B9): the Payments page and the exports
    balances    what is owed per payment method and the open invoices (R04, R07, R08, R20)
    credit      the account's credit balance (B15)
    charge_failures  R01: a charge not paid makes its subscription past due, people told
    details     billing details per profile or account (B7)
    overview    the account as the signed-in user sees it, its settings and requests
    statement   the account statement: balances, movements, open items aged (issue 30)
    costs       costs per subscription and month, spending alerts (issue 33)
    passwords   the password rule (NIST SP 800-63B)
    second_factor   TOTP and recovery codes, and who must have them (issue 31)
    sign_in_links   single-use links by email: password reset, unlock (issue 31)

May import: billing's shared modules (clock, context, gateway, ids, paging, periods,
seller, transaction) only — every other billing package builds on this one
(tests/test_architecture.py)."""
