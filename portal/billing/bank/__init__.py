"""Money that arrives by bank (B11): Bankgirot's BgMax file, read, checked whole and
applied a batch at a time.

    bgmax           the BgMax layout read into typed records
    transfer_batch  what a batch of transfers writes, set-based
    transfers       the import: match by OCR reference or account, record, review

May import: billing's shared modules, accounts/, invoicing/ and payments/
(tests/test_architecture.py)."""
