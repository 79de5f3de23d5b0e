"""Sales views: clients, invoices (with payments and email) and tax rates. HTTP only."""
