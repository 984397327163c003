"""A development mail server: keeps what invoicing sends instead of delivering it."""
