"""The Romanian catalogue is complete and what the server loads: every message the
code marks has a translation, none is a fuzzy guess, and the compiled file matches."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from django.conf import settings

from conftest import require_tool

CATALOGUE = Path(settings.BASE_DIR) / "usher" / "locale" / "ro" / "LC_MESSAGES" / "django.po"
ENTRY = re.compile(r'^msgid ((?:".*"\n)+)msgstr ((?:".*"\n)+)', re.MULTILINE)


def _joined(quoted: str) -> str:
    return "".join(line[1:-1] for line in quoted.splitlines())


def test_every_message_has_a_romanian_translation_and_none_is_fuzzy():
    text = CATALOGUE.read_text(encoding="utf-8")
    entries = [(_joined(msgid), _joined(msgstr)) for msgid, msgstr in ENTRY.findall(text)]
    untranslated = [msgid for msgid, msgstr in entries if msgid and not msgstr]
    assert len(entries) > 50, "the catalogue was not parsed"
    assert not untranslated, f"translate these in {CATALOGUE}: {untranslated}"
    assert "#, fuzzy" not in text, "a fuzzy entry is a guess: translate it and drop the flag"


def test_the_compiled_catalogue_is_the_current_one(tmp_path):
    require_tool(
        shutil.which("msgfmt") is not None, "msgfmt is not installed (apt-get install gettext)"
    )
    compiled = tmp_path / "django.mo"
    result = subprocess.run(
        ["msgfmt", "--check-format", "-o", str(compiled), str(CATALOGUE)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    shipped = CATALOGUE.with_suffix(".mo").read_bytes()
    assert compiled.read_bytes() == shipped, "run compilemessages -l ro and commit django.mo"
