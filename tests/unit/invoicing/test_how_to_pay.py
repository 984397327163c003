"""The lines "How to pay" prints from a business's payment options as payments publishes them."""

from __future__ import annotations

from services.invoicing.domain.printable import how_to_pay_lines


def test_each_option_says_what_a_customer_needs_to_use_it() -> None:
    lines = how_to_pay_lines([
        {"method": "card", "label": "Pay online", "url": "https://pay.example"},
        {"method": "bank_transfer", "label": "Bank transfer", "account_name": "Clinic", "bank_name": "First Bank",
         "iban": "DE89370400440532013000", "bic": "COBADEFFXXX", "reference_hint": "your invoice number"},
        {"method": "bank_transfer", "label": "ACH", "routing_number": "011000015", "account_number": "42"},
        {"method": "cheque", "label": "By cheque", "payable_to": "Clinic", "address_lines": ["1 Main St", "Springfield"]},
        {"method": "cash", "label": "At the front desk", "address_lines": []},
    ], "Questions? Call us.")
    assert lines == [
        "Pay online: https://pay.example",
        "Bank transfer: Clinic; First Bank; IBAN DE89370400440532013000, BIC COBADEFFXXX (quote your invoice number)",
        "ACH: routing 011000015, account 42",
        "By cheque: payable to Clinic; 1 Main St, Springfield",
        "At the front desk",
        "Questions? Call us.",
    ]
