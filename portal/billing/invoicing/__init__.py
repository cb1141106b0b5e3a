"""The invoice as a document: what an invoice (or a receipt) says, read once so the page,
the PDF and the e-invoice can never differ.

    remittance  the bankgiro, IBAN/BIC and OCR reference printed on invoices (R03, R17)
    documents   the read model `invoice_document`, the parties frozen on it, prices (B6)
    einvoice    the EN 16931 business terms of a document (UBL, Factur-X)

Invoices are issued by the billing cycle (`portal/billing/cycle/invoices.py`) and paid
through `portal/billing/payments/`; files are rendered by `portal/rendering.py`.

May import: billing's shared modules and accounts/ (tests/test_architecture.py)."""
