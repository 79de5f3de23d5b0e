"""Writes for clients, tax rates, invoices, manual payments and invoice emails (S1–S6).

One business verb per function, each in one transaction. Import from the submodules:
`from settle.sales.services.invoices import issue_invoice`.
"""
