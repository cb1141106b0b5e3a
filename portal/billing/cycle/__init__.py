"""The billing cycle (`flask billing cycle`) and what it drives over time (M4).

    retries     automatic retries of a failed card charge on a schedule (B14)
    invoices    customer agreement invoices issued, credits first (R16), the automatic
                card charge (R18), and the due → past due step
    lifecycle   pay-as-you-go charges and the subscription lifecycle: active → past due
                → disabled → deleted (R01, R12, R13), and the cycle itself

May import: billing's shared modules, accounts/, invoicing/ and payments/
(tests/test_architecture.py)."""
