"""No data of its own."""
