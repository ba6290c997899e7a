"""Opt-out keywords (SPEC §6): a reply that is one of them blacklists the number at once.

A reply is an opt-out when, once folded, it *is* a keyword, as carriers and Twilio match them
(the whole message, not a word inside it: "我不想退订" or "Reply later" opt nobody out).
Folding is, in order:
- NFKC, which turns full-width letters and the ideographic space into ASCII (ＴＤ → TD);
- case folding (r → R; casefold rather than lower: the German ß and the like);
- trimming whitespace, punctuation and symbols at both ends: "退订。", "R!", "【TD】", "“STOP”"
  and "退订😊" opt out.
Inside the message nothing is removed: "STOP ALL" and "T D" are not keywords. Twilio treats
STOP as exact too (its own STOPALL would already be blocked by Twilio itself), and a
message with more words is more likely a sentence than a request.
"""

import unicodedata

KEYWORDS = frozenset({"R", "T", "TD", "N", "退订", "拒收", "STOP", "UNSUBSCRIBE"})
_FOLDED = frozenset(keyword.casefold() for keyword in KEYWORDS)


def _is_edge(character: str) -> bool:
    """Whitespace, punctuation or a symbol (emoji included): trimmed off both ends."""
    return character.isspace() or unicodedata.category(character)[0] in "PSZC"


def fold(text: str) -> str:
    """`text` as it is compared with the keywords."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    start, end = 0, len(folded)
    while start < end and _is_edge(folded[start]):
        start += 1
    while end > start and _is_edge(folded[end - 1]):
        end -= 1
    return folded[start:end]


def is_opt_out(text: str | None) -> bool:
    return fold(text or "") in _FOLDED
