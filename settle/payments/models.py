"""Card processors, payment links and card payments (SPEC P, K, R)."""
