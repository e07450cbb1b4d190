"""Typed match keys: what two cells can compare about a person without showing each other who.

From a case's identity data (given names, family name, date of birth, national number) this
module derives several **match keys**, each a byte string that starts with its type
(``b"nn:..."``, ``b"name_dob:..."``). The keys exist only in memory: :mod:`.linkage` turns each
one into a token through the OPRF (:mod:`.oprf`) at once, and only tokens leave the process.
Two records *agree* on a key type when their keys of that type are equal, and the decision
(:func:`decide`) looks only at *which* types agree, never at a value.

Normalisation (:func:`normalise_name`) makes spellings that are the same name compare equal:
case, diacritics (Öztürk/Ozturk), Turkish dotless and dotted i (Yılmaz/Yilmaz), ß, æ, œ, ø,
apostrophes (D'Hondt/Dhondt), hyphens and spaces, and particles glued or split (Van den
Berghe/Vandenberghe/Vanden Berghe, De Smet/Desmet, El Amrani/El-Amrani/Elamrani, Ben Ali,
Aït Ouali, Abd el Kader/Abdelkader, Nour Eddine/Noureddine). Cyrillic letters are transliterated.

Name variant clusters (:data:`VARIANTS`) map the spellings of one name to one canonical form.
The idea is that of transliteration variants: a name written in Arabic, Tamazight, Turkish,
Chechen or Lingala script or sound reaches a Belgian register through a French, Dutch,
English or Turkish transliteration (Mohamed, Mohammed, Muhammad, Mouhamed; Youssef, Yusuf,
Joesoef, Youcef; Khadija, Hatice, Khadizhat). The table lists spelling variants of the same
name only, never two different names that resemble each other (Fatima and Fatiha, Hassan and
Hasna stay apart).

:func:`phonetic` is a Dutch-aware phonetic code for what normalisation and the clusters do
not catch (Janssens/Jansens, Claes/Claeys, Vermeulen/Vermeule, Peeters/Peters, Declercq/
De Clerck, Wazani/Ouazzani). See ``README.md`` beside this module for every key type and its
weight.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

# --- normalisation --------------------------------------------------------------------------

# Letters that Unicode decomposition does not fold to ASCII (or folds the wrong way).
_LETTERS = {
    "ı": "i", "İ": "i", "ß": "ss", "ẞ": "ss", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe",
    "ø": "o", "Ø": "o", "đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "þ": "th", "Þ": "th",
    "ł": "l", "Ł": "l", "ħ": "h", "Ħ": "h", "ŋ": "ng", "Ŋ": "ng", "ĸ": "k",
}  # fmt: skip
# A plain transliteration of Cyrillic (Chechen, Ingush and Russian names), lower case.
_CYRILLIC = dict(zip(
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюяі",
    ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "i", "k", "l", "m", "n", "o", "p", "r",
     "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya", "i"],
    strict=True,
))  # fmt: skip
# Apostrophes and the like join (D'Hondt, N'Diaye, Ma'roufi); every other non-letter separates.
_JOINERS = "'’‘`´ʼʻʾʿ"
_NON_LETTERS = re.compile(r"[^a-z]+")

# Particles written before a name, glued to the word that follows them (van den Berghe,
# De Smet, El Amrani, Ben Ali, Aït Ouali, Abd el Kader, Mac Neill...).
PREFIX_PARTICLES = frozenset({
    "van", "vanden", "vander", "vande", "von", "de", "der", "den", "des", "del", "della",
    "dela", "di", "da", "do", "dos", "du", "le", "la", "les", "ter", "ten", "te", "t", "op",
    "el", "al", "ul", "ed", "es", "er", "et", "ez", "en", "ech", "ben", "bin", "ibn", "bent",
    "bint", "ait", "ould", "abd", "abdel", "abdal", "abdul", "abdoul", "abu", "abou", "mac", "mc",
})  # fmt: skip
# Second halves of Arabic compound names, glued to the word before them (Nour Eddine).
SUFFIX_PARTICLES = frozenset({
    "eddine", "edine", "eddin", "edin", "iddine", "uddin", "uddine", "addine", "ddine",
    "dine", "din",
})  # fmt: skip
# Articles and prepositions that a family name may carry or lose (El Amrani/Amrani, Van den
# Berghe/Berghe): the *core* of a family name is what is left without them. Patronymic
# particles (ben, ait, ould, mac) stay: Ben Ali and Ali are different names.
ARTICLE_PREFIXES = tuple(sorted({
    "van", "vanden", "vander", "vande", "von", "de", "der", "den", "del", "della",
    "dela", "di", "da", "do", "dos", "du", "le", "la", "ter", "ten", "te", "op",
    "el", "al", "ul", "ed", "es", "er", "et", "ez", "en", "ech",
}, key=lambda particle: (-len(particle), particle)))  # fmt: skip
# The Arabic article before a "sun letter" takes that letter's sound and is written so (Es-Saadi,
# Er-Rami, Ech-Chaoui): only an article followed by its own consonant is one (Erdoğan is not).
_SUN_ARTICLES = {"ed": "d", "es": "s", "er": "r", "et": "t", "ez": "z", "en": "n", "ech": "ch"}


def _fold(text: str) -> str:
    """Lower-case ASCII letters, with every other character turned into a space."""
    text = "".join(_LETTERS.get(char, char) for char in text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(char for char in text if not unicodedata.combining(char)).casefold()
    text = "".join(_CYRILLIC.get(char, char) for char in text)
    text = "".join("" if char in _JOINERS else char for char in text)
    return _NON_LETTERS.sub(" ", text)


def name_tokens(text: str | None) -> list[str]:
    """The words of a name after normalisation, particles glued to their word."""
    words = _fold(text or "").split()
    glued: list[str] = []
    pending = ""
    for word in words:
        if word in PREFIX_PARTICLES:
            pending += word
            continue
        word = pending + word
        pending = ""
        if word in SUFFIX_PARTICLES and glued:
            glued[-1] += word
        else:
            glued.append(word)
    if pending:  # particles with nothing after them (a name that is only "De"): kept as a word
        glued.append(pending)
    return glued


def normalise_name(text: str | None) -> str:
    """A name as it is compared: lower-case ASCII words, one space between, particles glued.

    >>> normalise_name("  Van den BERGHE ")
    'vandenberghe'
    >>> normalise_name("Aït-Ouali"), normalise_name("Yılmaz"), normalise_name("D'Hondt")
    ('aitouali', 'yilmaz', 'dhondt')
    """
    return " ".join(name_tokens(text))


def family_core(word: str) -> str:
    """A glued family name without its leading articles (``elamrani`` -> ``amrani``).

    Stripped repeatedly, longest article first, while at least three letters remain, so that
    the same core comes out whether a particle was written or not.
    """
    stripped = True
    while stripped:
        stripped = False
        for particle in ARTICLE_PREFIXES:
            rest = word[len(particle):]
            if word.startswith(particle) and len(rest) >= 3 and rest.startswith(_SUN_ARTICLES.get(particle, "")):
                word = rest
                stripped = True
                break
    return word


# --- name variant clusters --------------------------------------------------------------------

# canonical form: its other spellings. Spellings of one name only; a spelling in two clusters
# would be an error (checked at import).
_CLUSTERS: dict[str, tuple[str, ...]] = {
    # Arabic, Tamazight and Turkish given names, transliterated the French, Dutch, English or
    # Turkish way, and their Caucasian (Chechen) forms.
    "mohamed": ("mohammed", "muhammad", "mohammad", "mouhamed", "muhamed", "mohamad",
                "muhamad", "mohamet", "muhammed", "muhammet", "mouhammed", "mohammet",
                "mohamud", "mouhamad", "magomed", "mukhammad", "mohamedd"),
    "mehmet": ("mehmed",),
    "ahmed": ("ahmet", "achmed", "ahmad", "achmad", "akhmed", "akhmad", "ahmat"),
    "youssef": ("yusuf", "youssouf", "yousef", "joesoef", "yousuf", "youcef", "yussuf",
                "yusef", "youssif", "yousif", "jusuf", "yusup", "youssuf", "yousof"),
    "noureddine": ("nordin", "nourdin", "noureddin", "nureddin", "nourdine", "nourredine",
                   "noredine", "nouredine", "nordine", "nureddine", "noreddine", "nourredin"),
    "abdelkader": ("abdulkadir", "abdelkadir", "abdulkader", "abdelkhader", "abdelqader",
                   "abdoulkader", "abdulqadir", "abdalkader", "abdelkadr"),
    "abdellah": ("abdallah", "abdullah", "abdoullah", "abdulla", "abdalla", "abdela"),
    "abderrahman": ("abdurrahman", "abderrahmane", "abdelrahman", "abdulrahman",
                    "abderahmane", "abdourahmane", "abderahman", "abdelrahmane"),
    "abdelaziz": ("abdulaziz", "abdelaaziz", "abdelazziz", "abdoulaziz"),
    "aicha": ("aisha", "aysha", "ayse", "aischa", "aisja", "aiesha", "ayesha"),
    "fatima": ("fatma", "fatime", "fatimah", "fadma", "fatimatou"),
    "khadija": ("hatice", "khadidja", "khadijah", "kadija", "khedija", "hadija", "khadizhat",
                "khadijat", "chadija", "hadice"),
    "hassan": ("hasan", "hassane", "hassen", "hacene", "khasan", "hasane"),
    "hussein": ("houssein", "huseyin", "husein", "hossein", "hussain", "husain", "houssine",
                "hocine", "husseyn", "housseyn"),
    "mustafa": ("moustafa", "mostafa", "mustapha", "moustapha", "mostapha", "moestafa"),
    "ibrahim": ("ebrahim", "brahim", "ibrahima", "ibrahiem", "ebrahiem", "ibraheem", "ibragim"),
    "said": ("sait", "saeed", "saied", "saaid", "seid"),
    "ismail": ("smail", "ismael", "esmail", "ismayil", "ismahil", "ismaiel", "ismayl"),
    "yassine": ("yasin", "yassin", "yacine", "yasine", "jassin", "yassien", "yessine"),
    "ilyas": ("elias", "ilias", "iliass", "ilyass", "elyas", "ilyes", "iliyas"),
    "ayoub": ("eyup", "ayyub", "ayub", "ayoob", "eyub", "ayyoub", "eyyup"),
    "omar": ("umar", "omer", "oumar", "umer", "omaar"),
    "othman": ("othmane", "osman", "outhman", "usman", "uthman", "otman", "otmane", "osmane"),
    "rachid": ("rashid", "rachied", "rasheed", "resit", "rachide", "rashed"),
    "karim": ("kareem", "kerim", "karime"),
    "khalid": ("khaled", "halit", "khalied", "khaleed", "chalid", "khalide"),
    "hamza": ("hamzah", "hamsa"),
    "bilal": ("bilel", "belal"),
    "soufiane": ("sofiane", "sufyan", "soufian", "sofian", "sofyan", "soufyan", "sofyane"),
    "zakaria": ("zakariya", "zakariae", "zakarya", "zakariyya", "zakariyae", "zakaryae"),
    "anas": ("anass",),
    "amine": ("amin", "emin", "amien"),
    "mehdi": ("mahdi",),
    "hicham": ("hisham", "hischam", "hisam"),
    "jamal": ("djamal", "cemal", "jamel", "djamel", "jamaal", "gamal"),
    "jamila": ("djamila", "cemile", "jamilah", "djemila"),
    "mariam": ("maryam", "meryem", "meriem", "meriam", "maryem", "mariem"),
    "zineb": ("zeynep", "zaynab", "zainab", "zeinab", "zeineb", "zinab", "zaineb"),
    "khalil": ("halil", "khaleel"),
    "hakim": ("hakeem",),
    "driss": ("idriss", "idris", "dris"),
    "mourad": ("murad", "morad", "murat"),
    "redouane": ("ridouane", "redwan", "ridwan", "radouane", "redouan", "ridouan", "rodwan"),
    "houssam": ("hossam", "hussam"),
    "walid": ("oualid", "waleed"),
    "adil": ("adel", "aadil"),
    "nabil": ("nabeel",),
    "tarik": ("tariq", "tarek", "tarick", "tareq"),
    "ayman": ("aymen", "eymen", "aymane"),
    "hajar": ("hadjar", "hacer"),
    "hafsa": ("hafsah",),
    "imane": ("iman", "imen"),
    "yousra": ("yusra", "youssra"),
    "oussama": ("osama", "usama", "ousama", "oesama"),
    "sarah": ("sara",),
    "asmae": ("asma", "asmaa"),
    "chaimae": ("chaima", "shaima", "chaymae", "shaimaa", "chaimaa"),
    "nisrine": ("nesrine", "nisrin", "nesrin"),
    "ikram": ("ikrame",),
    "amina": ("emine", "aminah"),
    "ramzan": ("ramazan",),
    "aslan": ("arslan",),
    "zelimkhan": ("zelimhan",),
    "dzhokhar": ("djokhar", "jokhar", "dzhohar", "dschochar"),
    "shamil": ("chamil", "schamil"),
    "khava": ("hava", "hawa"),
    "kheda": ("heda",),
    # Congolese family names, French and phonetic spellings.
    "mbuyi": ("mboyi",),
    "mukendi": ("moukendi",),
    "ilunga": ("ilounga",),
    "kalonji": ("kalondji",),
    "mulumba": ("moulumba",),
    "lukusa": ("loukousa",),
    # European given names: spelling variants of one name.
    "joel": ("joell",),
    "lucas": ("lukas",),
    "kevin": ("kevyn",),
    "joseph": ("jozef", "josef"),
    "frederik": ("frederic", "frederick", "fredrik"),
    "mathias": ("matthias", "matias"),
    "mathieu": ("matthieu",),
    "nicolas": ("nikolas",),
    "kristof": ("christof", "kristoff", "christoff"),
    "sophie": ("sofie", "sophy"),
    "stefan": ("stephan", "stefaan"),
    "michael": ("michaël", "mikael"),
    "raphael": ("rafael",),
}


def _build_variants() -> dict[str, str]:
    variants: dict[str, str] = {}
    for canonical, spellings in _CLUSTERS.items():
        for spelling in (canonical, *spellings):
            word = "".join(name_tokens(spelling))
            if variants.get(word, canonical) != canonical:
                raise ValueError(f"{spelling!r} is in two name clusters")
            variants[word] = canonical
    return variants


VARIANTS: dict[str, str] = _build_variants()
"""Every listed spelling (normalised) -> the canonical form of its cluster."""


def canonical(word: str) -> str:
    """The canonical spelling of one normalised word (itself when in no cluster)."""
    return VARIANTS.get(word, word)


# --- a Dutch-aware phonetic code ---------------------------------------------------------------

_PHONETIC_STEPS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"ij", "ei"),  # Dutch ij = ei = ey (Meijer, Meyer, Meier)
        (r"x", "ks"),
        (r"sch$", "s"),  # Bosch, Busch
        (r"(?:tsch|tch|tsj|dzh|dsch|zh|dj)", "j"),  # Djamila, Jamila; Dzhokhar, Djokhar
        (r"kh", "h"),  # Arabic and Chechen kh, Turkish h: Khasanov, Hasanov; Maskhadov, Mashadov
        (r"(?:sh|sj)", "s"),  # Turkish ş: Şahin, Sahin, Shahin
        (r"(?:ch|gh)", "g"),  # Dutch ch = g = gh: Verhaeghe, Verhaege
        (r"bv", "v"),  # Lefebvre, Lefèvre
        (r"ph", "f"),
        (r"th", "t"),
        (r"dt", "t"),
        (r"(?:ck|cq|qu|q|kk)", "k"),  # Declercq, Declerck, De Clerk
        (r"c(?=[eiy])", "s"),
        (r"c", "k"),
        (r"z", "s"),
        (r"v", "f"),
        (r"^y(?=[aeiou])", "j"),  # Yusuf, Joesoef; Yilmaz stays Yilmaz
        (r"(?<=[aeiou])y", "i"),  # Claeys, Meyer, Huysmans
        (r"y", "i"),
        (r"ou(?=[aeio])", "w"),  # French ou before a vowel: Ouazzani, Oualid, Redouane
        (r"h(?![aeiou])", ""),  # h before a consonant or at the end is not heard: Lahcen
        (r"(?<=[a-z]{3})en$", "e"),  # Dutch -en said -e: Vermeulen, Vermeule; Verstraeten
        (r"(?<=[a-z]{2}[^aeiou])e$", ""),  # a mute final e: Amine, Noureddine, Verstraete
        (r"d$", "t"),  # final devoicing: Mohamed, Mohamet; Dupond, Dupont
        (r"(.)\1+", r"\1"),  # double letters
    )
)
# Vowel groups of the first syllable; every later group is written "a".
_VOWEL_GROUPS = {
    "a": "a", "aa": "a", "ae": "a", "aei": "a", "aai": "a",  # Maes, Maas; Claes, Claeys
    "ai": "ai", "au": "au", "aou": "au",
    "e": "e", "ee": "e", "ea": "e",  # Peeters, Peters
    "ei": "ei", "eu": "eu", "oeu": "eu", "eue": "eu",
    "i": "i", "ie": "i", "ii": "i", "io": "i",  # Pieters
    "o": "o", "oo": "o", "oa": "o",
    "u": "u", "uu": "u", "oe": "u", "ou": "u",  # Joesoef, Youssef, Yusuf
    "ui": "ui", "oei": "ui", "oui": "ui",
    "oi": "oi",
}  # fmt: skip
_VOWEL_RUN = re.compile(r"[aeiou]+")


def _first_vowels(run: str) -> str:
    """The first syllable's vowel group (longest known spelling first), then an ``a``."""
    for length in (3, 2, 1):
        if run[:length] in _VOWEL_GROUPS:
            return _VOWEL_GROUPS[run[:length]] + ("a" if run[length:] else "")
    return run[0] + ("a" if run[1:] else "")  # pragma: no cover - every vowel is in the table


def _phonetic_word(word: str) -> str:
    for pattern, replacement in _PHONETIC_STEPS:
        word = pattern.sub(replacement, word)
    first = True

    def vowels(match: re.Match[str]) -> str:
        nonlocal first
        if first:
            first = False
            return _first_vowels(match.group(0))
        return "a"

    return re.sub(r"(.)\1+", r"\1", _VOWEL_RUN.sub(vowels, word))


def phonetic(name: str | None) -> str:
    """A Dutch-aware phonetic code of a name, word by word (space-separated).

    Consonants that sound or are transliterated alike fall together (ch, g, gh; kh, h; sh, sj,
    s; ck, c, k, q; ph, f, v; z, s; dt and a final d, t; dj, zh, j; initial y, j; French ou
    before a vowel, w), the first syllable's vowel keeps its sound (ij, ei, ey; oe, ou, u; ie,
    i; ee, e; ae, aa, a), every later vowel group is written ``a``, a mute final e and a Dutch
    final -en are dropped, and double letters are written once.
    """
    return " ".join(_phonetic_word(word) for word in name_tokens(name))


# --- dates ------------------------------------------------------------------------------------


class DateError(ValueError):
    """A date of birth that is not YYYY-MM-DD, YYYY-MM or YYYY, or not a real date (the message
    never repeats the value: it may end up in a log)."""


@dataclass(frozen=True)
class BirthDate:
    """A date of birth, possibly known only to the month or the year."""

    year: int
    month: int | None = None
    day: int | None = None

    @classmethod
    def parse(cls, text: str | date | BirthDate | None) -> BirthDate | None:
        if text is None or isinstance(text, BirthDate):
            return text
        if isinstance(text, date):
            return cls(text.year, text.month, text.day)
        text = text.strip()
        if not text:
            return None
        found = re.fullmatch(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", text)
        if found is None:
            raise DateError("not a date as YYYY-MM-DD, YYYY-MM or YYYY")
        year, month, day = (int(part) if part else None for part in found.groups())
        if not 1800 <= year <= 2200:
            raise DateError("a year out of range")
        if month is not None and not 1 <= month <= 12:
            raise DateError("no such month")
        if day is not None:
            try:
                date(year, month, day)
            except ValueError:
                raise DateError("no such day in that month") from None
        return cls(year, month, day)

    @property
    def full(self) -> str | None:
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}" if self.day else None

    @property
    def year_month(self) -> str | None:
        return f"{self.year:04d}-{self.month:02d}" if self.month else None

    @property
    def month_day(self) -> str | None:
        return f"{self.month:02d}-{self.day:02d}" if self.day else None

    @property
    def swapped(self) -> str | None:
        """The date with day and month exchanged, when that is another real date."""
        if self.day is None or self.day > 12 or self.day == self.month:
            return None
        return f"{self.year:04d}-{self.day:02d}-{self.month:02d}"


# --- the keys and the decision ------------------------------------------------------------------

KEY_SCHEME = 4
"""The version of the match keys: bump it whenever what :func:`identity_keys` makes for an
identity changes (a key type added, dropped or built otherwise, the normalisation, the variant
clusters, the phonetic code) or :data:`WEIGHTS` change. Each enrolment records the scheme its
tokens were made under, and the federation sweep re-enrols the cases of an older scheme, a
batch per sweep (as after a key rotation): otherwise they would keep tokens that no newly
enrolled case makes. ``tests/test_key_scheme.py`` fails when the keys change without a bump.

1: up to 2026-12-01, ``del_dob`` (a typo in the given name); 2: ``gdel_dob`` and ``fdel_dob``
(a typo in either name) replaced it; 3: ``dig_dob`` and ``dsw_dob`` (a date with one wrong digit
or two swapped digits), ``fw_dob`` (one word of a family name of several) and ``name_only``
enrolled (a date missing on one side); 4 (2026-12-06): ``dig_dob`` and ``dsw_dob`` dropped. They
made weak alerts only, and a mistyped digit looks through tokens exactly like a namesake born a
day, ten days or a year apart: measured as enrolled, on the synthetic Belgians (cells holding
partly different people, with such namesakes) 85% of their alerts were wrong, on FEBRL4 (no
namesakes) they found 0.4% of the pairs. The precision target comes first."""

NATIONAL_NUMBER_DIGITS = 11
PART = 3  # letters of a name's beginning and end in the typo-tolerant keys

WEIGHTS: dict[str, float] = {
    "nn": 10.0,
    "name_dob": 6.0,
    "first_dob": 6.0,
    "phon_dob": 5.0,
    "swap_dob": 4.0,
    "one_dob": 3.0,
    "pre_dob": 3.0,
    "suf_dob": 3.0,
    "mix_dob": 3.0,
    "phon_ym": 1.0,
    "phon_y": 1.0,
    "gdel_dob": 3.0,
    "fdel_dob": 3.0,
    "fam_dob": 0.0,
    "giv_dob": 0.0,
    "name_only": 0.0,
    "fw_dob": 3.0,
}
"""The weight of each key type; a pair's score is the sum over the types on which it agrees.
``fam_dob`` and ``giv_dob`` weigh nothing: they say *which* name agrees (:data:`GIVEN_TYPES`,
:data:`TYPO_TYPES`); nor does ``name_only`` unless one side has no date (:data:`OPEN_FIELDS`).
``fw_dob`` weighs only as :data:`EXCLUSIVE` says."""

EXCLUSIVE: dict[str, str] = {
    "fw_dob": "first_dob",
}
"""A type that weighs only when the named type does *not* agree: its keys agree whenever that
one does (a family name of one word is its only word), so it is counted only for what it adds.
``fw_dob`` (the first given name, one word
of the family name and the full date) with ``one_dob`` makes 6: a married name joined to the
birth name (Janssens-Peeters / Janssens or Peeters), a double family name cut (García López /
García), a father's name written in the family name."""

TYPO_TYPES: dict[str, tuple[str, str, str]] = {
    "gdel_dob": ("giv_dob", "fam_dob", "fdel_dob"),
    "fdel_dob": ("fam_dob", "giv_dob", "gdel_dob"),
}
"""A name within one typo, with the date (the first given name, the family core), and what it
needs to weigh: (the same name exact, the other name exact, the other name within one typo).
It weighs only when its own name is not exact (its keys hold the word itself: an exact name is
not counted twice) and the other name agrees, exactly or within one typo: a typo in one name
with the other exact, or a typo in each, with the date (3 + 3 = 6). A name within one typo and
the date alone weighs nothing (Jan Claes and Jean Lambert born the same day)."""

BATCH_TYPES: frozenset[str] = frozenset()
"""Key types made only for batch linkage (``livc federation link``, :func:`identity_keys` with
``batch_linkage=True``), never enrolled in the production index. None since scheme 3:
``name_only`` (the whole name without the date) is enrolled, weighing only when one side has no
date at all (see ``THREAT_MODEL.md`` for what it lets the index holder group)."""

RESIDUAL = 2.0
"""The score of a pair alerted in the residual step of batch linkage
(:func:`.linkage.decide_pairs`): below :data:`CANDIDATE`, so that cutting at it gives the
alerts of the rule without that step."""

GIVEN_TYPES = frozenset({
    "name_dob", "first_dob", "phon_dob", "swap_dob", "pre_dob", "suf_dob", "mix_dob", "gdel_dob",
    "giv_dob", "fw_dob", "name_only",
})  # fmt: skip
"""Key types whose agreement shows that the given names agree, at least partly (a shared given
name, the same sound, beginning or end, one typo apart): with the family name and the date
agreeing (``fam_dob``) and none of these, both sides' given names clearly differ (twins,
siblings)."""

OPEN_FIELDS: dict[str, tuple[str, float]] = {
    "given": ("one_dob", 3.0),
    "family": ("one_dob", 3.0),
    "day": ("phon_ym", 4.0),
    "month": ("phon_y", 2.0),
    "year": ("name_only", 3.0),
}
"""A field that one side does not know is neither for nor against: when it is unknown, the key
type that does without it weighs this much more when it agrees (a family name with the full
date when one side has no given name; the names with year and month when one side knows no
day; the names with the year alone when one side knows only the year; the whole name when
one side has no date at all: 3, a sole candidate only)."""

THRESHOLD = 6.0
"""A pair scoring at least this is alerted on."""

CANDIDATE = 3.0
"""A pair scoring at least this (and less than the threshold) is alerted on only when it is the
sole candidate of both its records: neither takes part in another pair scoring this much."""

STRONG_TYPES = frozenset({"nn"})
"""Key types that are enough alone, whatever else agrees."""


class NationalNumberError(ValueError):
    """A national number that does not have 11 digits."""


def national_number_valid(digits: str) -> bool:
    """Whether 11 digits carry the check number of a national or BIS number (born before or
    from 2000: the check is taken over the first nine digits, or over them preceded by a 2)."""
    body, check = int(digits[:9]), int(digits[9:])
    return check in (97 - body % 97, 97 - (2_000_000_000 + body) % 97)


def national_number_digits(text: str | None) -> str | None:
    """The 11 digits of a Belgian national (or BIS) number, separators dropped; None if empty."""
    digits = re.sub(r"[\s.\-/]", "", text or "")
    if not digits:
        return None
    if not digits.isdigit() or len(digits) != NATIONAL_NUMBER_DIGITS:
        raise NationalNumberError("a national number has 11 digits")
    return digits


@dataclass(frozen=True)
class Identity:
    """One person's identity data, parsed and normalised (kept in memory only)."""

    given: tuple[str, ...]  # canonical words of the given names
    family: tuple[str, ...]  # canonical words of the family name
    born: BirthDate | None
    national_number: str | None

    @classmethod
    def parse(
        cls,
        given_names: str | None,
        family_name: str | None,
        date_of_birth: str | date | BirthDate | None,
        national_number: str | None = None,
    ) -> Identity:
        """Raises :class:`DateError` or :class:`NationalNumberError` for malformed values."""
        return cls(
            tuple(canonical(word) for word in name_tokens(given_names)),
            tuple(canonical(word) for word in name_tokens(family_name)),
            BirthDate.parse(date_of_birth),
            national_number_digits(national_number),
        )

    @property
    def known(self) -> frozenset[str]:
        """Which fields this identity has (never their values)."""
        born = self.born
        present = {
            "given": bool(self.given),
            "family": bool(self.family),
            "year": born is not None,
            "month": born is not None and born.month is not None,
            "day": born is not None and born.day is not None,
            "nn": self.national_number is not None,
            "nn_checked": bool(self.national_number)
            and national_number_valid(self.national_number),
        }
        return frozenset(field for field, there in present.items() if there)


def key_class(key_type: str) -> str:
    """The type two keys must share to be compared: ``one_dob#2`` is compared as ``one_dob``."""
    return key_type.partition("#")[0]


def _key(key_type: str, *parts: str) -> bytes:
    return f"{key_type}:{'|'.join(parts)}".encode()


def _deletions(word: str) -> set[str]:
    """The word and the word without each one of its letters (words of 4 letters or more)."""
    if len(word) < 4:
        return {word}
    return {word} | {word[:i] + word[i + 1:] for i in range(len(word))}


def identity_keys(identity: Identity, batch_linkage: bool = False) -> dict[str, bytes]:
    """The typed match keys of a parsed identity: only those its data supports.

    A type that holds several keys numbers them (``one_dob#1``, ``one_dob#2``); they are
    compared as one type (:func:`key_class`). ``batch_linkage``: also the :data:`BATCH_TYPES`
    (``livc federation link`` only; what is enrolled never has them).
    """
    keys: dict[str, bytes] = {}
    if identity.national_number:
        keys["nn"] = _key("nn", identity.national_number)
    given, family, born = list(identity.given), list(identity.family), identity.born
    if given and family:
        # The whole name without the date (either order), for a date missing on one side.
        keys["name_only"] = _key("name_only", " ".join(sorted(given + family)))
    if born is None or not (given or family):
        return keys

    # The name words in either order (given and family names swapped, given names written in
    # another order); the first given name and the family name without its articles (a
    # second given name or an "El" lost); their sounds; their beginnings and ends (a typo).
    name = " ".join(sorted(given + family))
    first = given[0] if given else ""
    core = canonical(family_core("".join(family))) if family else ""
    names = [part for part in (first, core) if part]
    both = bool(given and family)
    # Articles dropped from the given names too where the order of the names must not matter.
    sounds = sorted([_phonetic_word(family_core("".join(given))), _phonetic_word(core)])

    if born.full:
        day = born.full
        if both:
            keys["name_dob"] = _key("name_dob", name, day)
            keys["first_dob"] = _key("first_dob", *sorted([family_core(first), core]), day)
            keys["phon_dob"] = _key("phon_dob", *sounds, day)
            if born.swapped:  # the date could be read the other way round
                day_month = sorted([f"{born.month:02d}", f"{born.day:02d}"])
                keys["swap_dob"] = _key("swap_dob", *sounds, f"{born.year:04d}", *day_month)
        for number, one in enumerate(sorted(set(names)), 1):
            keys[f"one_dob#{number}"] = _key("one_dob", one, day)
        # Each name within one typo (TYPO_TYPES): the first given name, and the family core,
        # each also without each one of its letters (words of 4 letters or more), with the date.
        # A deletion on one side meets the word on the other; a substitution or a transposition
        # meets the same deletion on both sides.
        if first:
            for number, word in enumerate(sorted(_deletions(family_core(first))), 1):
                keys[f"gdel_dob#{number}"] = _key("gdel_dob", word, day)
        if core:
            for number, word in enumerate(sorted(_deletions(core)), 1):
                keys[f"fdel_dob#{number}"] = _key("fdel_dob", word, day)
        if core:
            keys["fam_dob"] = _key("fam_dob", core, day)
        if both:
            # The first given name with each word of the family name (a married name joined, a
            # double name cut, a father's name added).
            words = sorted({canonical(family_core(word)) for word in family})
            for number, word in enumerate(words, 1):
                keys[f"fw_dob#{number}"] = _key("fw_dob", family_core(first), word, day)
        for number, word in enumerate(sorted({family_core(word) for word in given}), 1):
            keys[f"giv_dob#{number}"] = _key("giv_dob", word, day)
        keys["pre_dob"] = _key("pre_dob", *sorted(part[:PART] for part in names), day)
        keys["suf_dob"] = _key("suf_dob", *sorted(part[-PART:] for part in names), day)
        if both:
            keys["mix_dob#1"] = _key("mix_dob", first[:PART], core[-PART:], day)
            keys["mix_dob#2"] = _key("mix_dob", core[:PART], first[-PART:], day)
    if both:
        if born.year_month:
            keys["phon_ym"] = _key("phon_ym", *sounds, born.year_month)
        keys["phon_y"] = _key("phon_y", *sounds, f"{born.year:04d}")
    return keys


def match_keys(
    given_names: str | None,
    family_name: str | None,
    date_of_birth: str | date | BirthDate | None,
    national_number: str | None = None,
) -> dict[str, bytes]:
    """The typed match keys of one person: only those the data supports.

    Raises :class:`DateError` or :class:`NationalNumberError` for a malformed date or number.
    """
    return identity_keys(Identity.parse(given_names, family_name, date_of_birth, national_number))


def contradicted(left_known: Iterable[str], right_known: Iterable[str], agreeing: Iterable[str]) -> bool:
    """Both sides have a well-formed national number (its check digits right) and the numbers
    differ: two different people, whatever else agrees (twins, namesakes born the same day)."""
    return (
        "nn_checked" in set(left_known)
        and "nn_checked" in set(right_known)
        and "nn" not in {key_class(key_type) for key_type in agreeing}
    )


def given_names_differ(agreeing_types: Iterable[str], unknown: Iterable[str] = ()) -> bool:
    """Both sides have a given name and a family name, the family name and the full date agree
    (``fam_dob``), and no key type carrying the given names agrees (:data:`GIVEN_TYPES`): no shared given name, none within one typo, neither the
    same sound nor the same beginning or end. Twins and siblings born the same day look like
    this; the same person written twice rarely does (a register that *replaced* a given name)."""
    agreeing = {key_class(key_type) for key_type in agreeing_types}
    unknown = set(unknown)
    return (
        "fam_dob" in agreeing
        and not agreeing & GIVEN_TYPES
        and "given" not in unknown
        and "family" not in unknown
    )


def _weighs(key_type: str, agreeing: set[str]) -> bool:
    """Whether an agreeing type counts in the score (a typo type: see :data:`TYPO_TYPES`;
    :data:`EXCLUSIVE`)."""
    if key_type in EXCLUSIVE:
        return EXCLUSIVE[key_type] not in agreeing
    if key_type not in TYPO_TYPES:
        return True
    exact, other, other_typo = TYPO_TYPES[key_type]
    return exact not in agreeing and (other in agreeing or other_typo in agreeing)


def unknown_fields(left_known: Iterable[str], right_known: Iterable[str]) -> frozenset[str]:
    """The fields of :data:`OPEN_FIELDS` that at least one side of a pair does not know."""
    left, right = set(left_known), set(right_known)
    return frozenset(field for field in OPEN_FIELDS if not (field in left and field in right))


def score(agreeing_types: Iterable[str], unknown: Iterable[str] = ()) -> float:
    """The strength of a pair: the weights of the key types that agree (a name within one typo
    only as :data:`TYPO_TYPES` says), plus, for each field one side does not know, the extra
    weight of the type that does without it (:data:`OPEN_FIELDS`)."""
    agreeing = {key_class(key_type) for key_type in agreeing_types}
    total = sum(WEIGHTS.get(key_type, 0.0) for key_type in agreeing if _weighs(key_type, agreeing))
    for field in set(unknown):
        key_type, extra = OPEN_FIELDS.get(field, ("", 0.0))
        if key_type in agreeing:
            total += extra
    strong = agreeing & STRONG_TYPES
    if strong:
        total = max(total, max(WEIGHTS[key_type] for key_type in strong))
    return total


def decide(
    agreeing_types: Iterable[str],
    unknown: Iterable[str] = (),
    sole_candidate: bool = False,
    contradiction: bool = False,
) -> float | None:
    """The score of a pair when it is strong enough to alert on, else None.

    Alerted: a strong type agrees (the national number), or the score reaches
    :data:`THRESHOLD`, or it reaches :data:`CANDIDATE` and the pair is the ``sole_candidate``
    of both its records. ``unknown``: the fields one side does not know (:func:`unknown_fields`);
    ``contradiction``: the national numbers differ (:func:`contradicted`), never an alert. Nor
    when, without the national number, only the family name and the date agree while both
    sides' given names clearly differ (:func:`given_names_differ`: twins, siblings).
    """
    if contradiction:
        return None
    agreeing = {key_class(key_type) for key_type in agreeing_types}
    total = score(agreeing, unknown)
    if agreeing & STRONG_TYPES:
        return total
    if given_names_differ(agreeing, unknown):
        return None
    if total >= THRESHOLD:
        return total
    if sole_candidate and total >= CANDIDATE:
        return total
    return None
