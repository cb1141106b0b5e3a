"""The service layer: every rule of the product, free of Flask.

Shared by every package here (they import nothing of the packages):
    clock, context, gateway (the card processor's interface), ids, paging, periods,
    seller, transaction

Packages, each importing only those above it (tests/test_architecture.py):
    accounts/   the account: access, notices, balances, credit, billing details, overview
    invoicing/  the invoice as a document: read model, remittance, e-invoice terms
    payments/   moving money by card: attempts, ledger, engine, kinds of payment, methods,
                the sandbox gateway
    bank/       money by bank: BgMax, transfers
    cycle/      the billing cycle: invoices issued, retries, the subscription lifecycle
"""
