"""Every string a user can see is translatable, and translated into Dutch, French and German."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from conftest import REPO

TRANSLATIONS = REPO / "platform" / "translations"


@pytest.fixture(scope="module")
def source_messages(tmp_path_factory) -> set[str]:
    """Extract the messages from the code as it is now (not from the committed template)."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    subprocess.run(
        [str(Path(sys.executable).parent / "pybabel"), "extract", "-F", "babel.cfg", "-k", "_l",
         "-o", str(pot), "--no-location", "--ignore-dirs", ".venv .tools node_modules tests build", "."],
        cwd=REPO, check=True, capture_output=True,
    )
    with pot.open("rb") as file:
        return {message.id for message in read_po(file) if message.id}


@pytest.mark.parametrize("language", ["nl", "fr", "de"])
def test_every_message_is_translated(source_messages, language):
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as file:
        catalog = read_po(file, locale=language)
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    assert sorted(source_messages - translated) == []


@pytest.mark.parametrize("language", ["nl", "fr", "de", "en"])
def test_compiled_catalogues_are_installed_and_current(language):
    folder = TRANSLATIONS / language / "LC_MESSAGES"
    compiled = folder / "messages.mo"
    assert compiled.exists(), "catalogues are compiled at install time (pip install -e . / make)"
    assert compiled.stat().st_mtime >= (folder / "messages.po").stat().st_mtime
