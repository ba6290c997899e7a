"""The Chinese interface is complete: every message the code and templates show has a translation
(not a fuzzy guess), with the same placeholders as the English."""

from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "app" / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"


def test_every_message_has_a_chinese_translation(tmp_path):
    template = tmp_path / "messages.pot"
    # The README's extraction command.
    CommandLineInterface().run(
        [
            "pybabel",
            "-q",
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-k",
            "N_",
            "-o",
            str(template),
            str(ROOT),
        ]
    )
    wanted = read_po(template.open("rb"))
    with CATALOG.open("rb") as file:
        catalog = read_po(file)
    missing = []
    for message in wanted:
        if not message.id:
            continue
        translated = catalog.get(message.id)
        strings = translated.string if translated else None
        if not translated or translated.fuzzy or not all(strings if isinstance(strings, tuple) else [strings]):
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    assert missing == []
    problems = [(message.id, errors) for message, errors in catalog.check() if errors]
    assert problems == []
