"""The README's configuration tables are the settings classes' own tables: a setting added, renamed
or re-described without the README following fails here."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from services.collections.settings import CollectionsSettings
from services.eligibility.settings import EligibilitySettings
from services.invoicing.settings import InvoicingSettings
from services.payments.settings import PaymentsSettings
from services.registration.settings import RegistrationSettings
from shared.settings import environment_variables_table

ROOT = Path(__file__).resolve().parents[3]


def as_documented(table: str) -> str:
    """The table as the README shows it: bundled files by their path in the project."""
    return table.replace(f"`{ROOT}/", "`").replace("programs.toml`", "programs.toml` (bundled)")


@pytest.mark.parametrize(
    "settings_class",
    [RegistrationSettings, EligibilitySettings, InvoicingSettings, PaymentsSettings, CollectionsSettings],
)
def test_the_readme_lists_every_setting_as_the_code_describes_it(settings_class: type[BaseSettings]) -> None:
    readme = (ROOT / "README.md").read_text()
    rows = as_documented(environment_variables_table(settings_class)).strip().splitlines()[2:]
    missing = [row for row in rows if row not in readme]
    assert not missing, "README.md is missing or misstates:\n" + "\n".join(missing)
