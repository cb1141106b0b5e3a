"""Money that arrives by bank (B11): Bankgirot's BgMax file, read, checked whole and
applied a batch at a time.

    bgmax           the BgMax layout read into typed records
    matching        what a payment's OCR references name (invoices, an account, a payment
                    request: B22) and whether it pays that, or why it waits for a person
    transfer_batch  what a batch of transfers writes, set-based
    transfers       the import: match by OCR reference or account, record, review
    autogiro_files  Bankgirot's Autogiro files: the request, mandate answers, payment results
    autogiro        Autogiro (B23): mandates, the export, the import through the ledger
    autogiro_charges  a pay-as-you-go subscription's charges drawn by Autogiro

May import: billing's shared modules, accounts/, invoicing/ and payments/
(tests/test_architecture.py)."""
