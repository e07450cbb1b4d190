"""A synthetic Belgian population for the federation's quality benchmark (seeded, reproducible).

Two registers (LEFT and RIGHT) of people with Flemish, Walloon, Moroccan, Turkish, Chechen and
Congolese names. A share of LEFT's people is also in RIGHT, written the way another office
writes them: transliteration variants (Mohamed / Mohammed / Muhammad, Yusuf / Youssef), particles
split or glued (Van den Berghe / Vandenberghe, El Amrani / Elamrani), accents lost, case changed,
keyboard typos, a second given name added or lost, given and family names exchanged, day and
month swapped, a date known only to the month or the year, a date with one wrong digit or two
adjacent digits swapped, a date missing, a family name missing, a married name joined to the
birth name (Janssens-Peeters), a father's name after the given names (Mohamed Ali), a double
family name (García López, a share of the people have one) cut to its first part. RIGHT also holds people who are *not*
in LEFT but look like someone who is (hard negatives): the same common name born a few days,
weeks or a year apart, a sibling (same family name, another given name) born the same day
(twins), the same family name and year. And unrelated people.

The variant spellings are written here independently of ``livc.federation.match_keys.VARIANTS``;
some are in that table, many are not (the phonetic key must catch them or they are missed).

    python benchmarks/synthetic_belgians.py OUTDIR [--size 5000] [--seed 2026]

writes OUTDIR/left.csv, OUTDIR/right.csv (the ``livc federation link`` contract) and
OUTDIR/truth.csv (``left_id,right_id,kind``: the true pairs and how the right one was changed).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
from dataclasses import dataclass, field
from pathlib import Path

HEADER = ["id", "given_names", "family_name", "date_of_birth", "national_number"]

# (given names, family names); the first names of each list are the most common (Zipf weights).
NAMES: dict[str, tuple[list[str], list[str]]] = {
    "flemish": (
        ["Jan", "Tom", "Pieter", "Bart", "Koen", "Wim", "Stijn", "Lucas", "Arne", "Jens", "Sofie",
         "Lien", "Eline", "Lotte", "Nele", "Kristof", "Stefaan", "Jozef", "Frederik", "Ruben",
         "Robbe", "Seppe", "Wout", "Emma", "Marie", "Hanne", "Els", "Inge", "Griet", "Dirk",
         "Geert", "Annelies", "Katrien", "Bram", "Joris", "Maarten", "Hendrik", "Liesbeth"],
        ["Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens",
         "Wouters", "De Smet", "Vermeulen", "Van den Berghe", "Van de Velde", "Declercq",
         "Verhaeghe", "Hermans", "Michiels", "Lambrechts", "Van Damme", "De Vos", "Pauwels",
         "Claeys", "Vandenbroucke", "Verstraete", "Van Hoof", "De Backer", "Aerts", "Smets",
         "D'Hondt", "Segers", "Huysmans", "Van Dijck", "Wuyts", "Van Acker", "De Wilde",
         "Bogaerts", "Verbeke", "Van der Linden", "Vercammen", "Geerts"],
    ),
    "walloon": (
        ["Jean", "Pierre", "Michel", "Philippe", "Nicolas", "Julien", "Maxime", "Antoine", "Louis",
         "Hugo", "Nathan", "Camille", "Chloé", "Manon", "Léa", "Sarah", "Julie", "Céline",
         "Aurélie", "Frédéric", "Stéphane", "Benoît", "Olivier", "François", "Mathieu", "Raphaël",
         "Noémie", "Hélène", "Élodie", "Jérôme", "Grégory", "Valérie"],
        ["Dubois", "Lambert", "Dupont", "Martin", "Simon", "Laurent", "Lejeune", "Leroy", "Renard",
         "Lefebvre", "Leclercq", "François", "Dumont", "Denis", "Collard", "Wilmotte", "Henrard",
         "Lemaire", "Jacquet", "Gérard", "Delhaye", "Piette", "Hubert", "Noël", "Delvaux",
         "Dethier", "Remacle", "Massart", "Du Bois", "De Coster", "Lecocq", "Gilson"],
    ),
    "moroccan": (
        ["Mohamed", "Ahmed", "Youssef", "Noureddine", "Abdelkader", "Rachid", "Karim", "Khalid",
         "Hamza", "Bilal", "Soufiane", "Zakaria", "Mehdi", "Hicham", "Yassine", "Ilyas", "Ayoub",
         "Omar", "Ismail", "Ibrahim", "Said", "Mustafa", "Hassan", "Redouane", "Fatima",
         "Khadija", "Aicha", "Mariam", "Zineb", "Imane", "Hajar", "Salma", "Nadia", "Samira",
         "Latifa", "Yousra", "Chaimae", "Ikram", "Amina", "Abdellah", "Abderrahman", "Oussama"],
        ["El Amrani", "Benali", "El Idrissi", "Ouazzani", "El Khattabi", "Bouzidi", "Ait Ouali",
         "El Moussaoui", "Boukhari", "Haddouchi", "Amrani", "El Hamdaoui", "Azzouzi", "Ben Ali",
         "Chaoui", "Chakir", "Lahlou", "Bennani", "Tahiri", "Alaoui", "El Fassi", "Berrada",
         "Ziani", "Belkacem", "Achahbar", "El Haddad", "Mokhtari", "Zeroual", "Bakkali", "Amzil",
         "Ouali", "Naciri", "Laaroussi", "Taouil", "Ben Haddou", "Ait Benhaddou"],
    ),
    "turkish": (
        ["Mehmet", "Ahmet", "Mustafa", "Hüseyin", "Hasan", "İbrahim", "Osman", "Yusuf", "Ömer",
         "Murat", "Emre", "Burak", "Halil", "Ayşe", "Fatma", "Hatice", "Zeynep", "Elif", "Emine",
         "Meryem", "Esra", "Özlem", "Büşra", "Cemal", "Eyüp", "Ramazan", "Selin", "Gökhan"],
        ["Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Yıldırım", "Öztürk", "Aydın",
         "Özdemir", "Arslan", "Doğan", "Kılıç", "Aslan", "Çetin", "Kara", "Koç", "Kurt", "Özkan",
         "Şimşek", "Polat", "Erdoğan", "Güneş", "Aksoy", "Karaca", "Uçar"],
    ),
    "chechen": (
        ["Ramzan", "Magomed", "Aslan", "Zelimkhan", "Dzhokhar", "Shamil", "Adam", "Ruslan",
         "Islam", "Movsar", "Akhmed", "Umar", "Khava", "Kheda", "Malika", "Zarema", "Aminat",
         "Khadizhat", "Madina", "Ibragim", "Yusup", "Khasan", "Said-Magomed", "Lom-Ali"],
        ["Kadyrov", "Dudayev", "Basayev", "Maskhadov", "Umarov", "Gelayev", "Zakayev",
         "Israilov", "Mutsayev", "Tsarnayev", "Akhmadov", "Dzhabrailov", "Saidov", "Khasanov",
         "Magomadov", "Elmurzayev", "Visaitov", "Bisultanov", "Abdurakhmanov"],
    ),
    "congolese": (
        ["Jean-Pierre", "Patrick", "Christian", "Serge", "Joseph", "Eric", "Guy", "Fiston",
         "Junior", "Prince", "Grâce", "Merveille", "Divine", "Esther", "Nadine", "Chantal",
         "Béatrice", "Jonathan", "Dieudonné", "Mireille", "Trésor", "Bienvenu", "Gloire"],
        ["Mbuyi", "Kabongo", "Tshibangu", "Ilunga", "Mukendi", "Kalonji", "Mulumba", "Lukusa",
         "Ngoy", "Kabila", "Tshisekedi", "Mwamba", "Kasongo", "Nkulu", "Mbala", "Kanku",
         "Mutombo", "Banza", "Kalala", "Mpoyi", "Ngalula", "Tshimanga", "Kabeya", "Nzuzi"],
    ),
}
SHARE = {"flemish": .40, "walloon": .25, "moroccan": .18, "turkish": .07, "chechen": .04,
         "congolese": .06}

# How another office spells the same name (transliteration, French/Dutch/English/Turkish ways).
SPELLINGS: dict[str, list[str]] = {
    # given names
    "Mohamed": ["Mohammed", "Muhammad", "Mouhamed", "Mohammad", "Mohamet", "Mohamad"],
    "Ahmed": ["Ahmet", "Achmed", "Ahmad", "Akhmed"], "Ahmet": ["Ahmed", "Achmet"],
    "Youssef": ["Yusuf", "Youssouf", "Yousef", "Joesoef", "Youcef", "Yussef"],
    "Yusuf": ["Youssef", "Yousouf"], "Yusup": ["Yusuf", "Youssoup"],
    "Noureddine": ["Nordin", "Nourdin", "Nour-Eddine", "Nour Eddine", "Noreddine"],
    "Abdelkader": ["Abdel Kader", "Abd el-Kader", "Abdelkadir", "Abdelkhader"],
    "Rachid": ["Rashid", "Rachied", "Rasheed"], "Karim": ["Kareem", "Carim"],
    "Khalid": ["Khaled", "Chalid", "Halid"], "Hamza": ["Hamsa"], "Bilal": ["Billal"],
    "Soufiane": ["Sofiane", "Soufian", "Sufyan"], "Zakaria": ["Zakariya", "Zakariae", "Zacharia"],
    "Mehdi": ["Mahdi"], "Hicham": ["Hisham", "Hisjam"], "Yassine": ["Yasin", "Yassin", "Yacine"],
    "Ilyas": ["Ilias", "Iliass"], "Ayoub": ["Ayub", "Eyüp", "Ayoube"], "Omar": ["Umar", "Omer"],
    "Ismail": ["Smail", "Ismaël", "Ismaïl", "Esmail"], "Ibrahim": ["Brahim", "Ebrahim", "Ibragim"],
    "İbrahim": ["Ibrahim", "Ibrahım"], "Said": ["Saïd", "Sayed"],
    "Mustafa": ["Moustafa", "Mostafa", "Mustapha", "Moestafa"], "Hassan": ["Hasan", "Hassane"],
    "Hasan": ["Hassan"], "Hüseyin": ["Huseyin", "Hussein", "Hüsseyin"],
    "Redouane": ["Ridouane", "Redwan", "Redouan"], "Fatima": ["Fatma", "Fatimah", "Fadma"],
    "Fatma": ["Fatima"], "Khadija": ["Khadidja", "Hatice", "Kadija"],
    "Hatice": ["Hatidje", "Khadija"], "Aicha": ["Aïcha", "Aisha", "Ayşe", "Aïsha"],
    "Ayşe": ["Ayse", "Aysche"], "Mariam": ["Maryam", "Meryem", "Mariame"],
    "Meryem": ["Meriem", "Mariam"], "Zineb": ["Zeynep", "Zainab", "Zinab"],
    "Zeynep": ["Zeyneb", "Zineb"], "Imane": ["Iman", "Imaan"], "Hajar": ["Hadjar", "Hajjar"],
    "Yousra": ["Yusra", "Youssra"], "Chaimae": ["Chaima", "Shaima", "Chaïma"],
    "Abdellah": ["Abdallah", "Abdullah"], "Abderrahman": ["Abderrahmane", "Abdurrahman"],
    "Oussama": ["Usama", "Osama"], "Mehmet": ["Mehmed", "Mehmat"], "Ömer": ["Omer", "Oemer"],
    "Eyüp": ["Eyup", "Ayoub"], "Özlem": ["Ozlem", "Oezlem"], "Büşra": ["Busra", "Bushra"],
    "Ramazan": ["Ramadan", "Ramzan"], "Ramzan": ["Ramazan"], "Magomed": ["Mohamed", "Magomet", "Mahomed"],
    "Aslan": ["Arslan"], "Dzhokhar": ["Djokhar", "Dzjochar", "Jokhar"], "Shamil": ["Chamil", "Sjamil"],
    "Akhmed": ["Ahmed", "Achmed"], "Umar": ["Omar", "Oumar"], "Khava": ["Hava", "Chava"],
    "Kheda": ["Heda"], "Zelimkhan": ["Zelimchan", "Zelimhan"], "Movsar": ["Mowsar"],
    "Khadizhat": ["Khadijat", "Chadizat", "Khadija"], "Aminat": ["Aminata"],
    "Ibragim": ["Ibrahim"], "Khasan": ["Hasan", "Chasan"],
    "Lucas": ["Lukas"], "Stefaan": ["Stefan"], "Jozef": ["Joseph", "Josef"],
    "Frederik": ["Frederic", "Frédéric"], "Frédéric": ["Frederic", "Frederik"],
    "Sofie": ["Sophie", "Sofi"], "Katrien": ["Katrijn"], "Kristof": ["Kristoff"],
    "Mathieu": ["Matthieu"], "Raphaël": ["Raphael", "Rafael"], "Chloé": ["Chloe"], "Léa": ["Lea"],
    "Noémie": ["Noemie"], "Hélène": ["Helene"], "Élodie": ["Elodie"], "Jérôme": ["Jerome"],
    "Grégory": ["Gregory"], "Benoît": ["Benoit"], "François": ["Francois"], "Céline": ["Celine"],
    "Valérie": ["Valerie"], "Joseph": ["Josef", "Jozef"], "Grâce": ["Grace"], "Trésor": ["Tresor"],
    "Béatrice": ["Beatrice"], "Dieudonné": ["Dieudonne"],
    # family names
    "El Amrani": ["Elamrani", "El-Amrani", "Amrani", "El Amrany"], "Benali": ["Ben Ali", "Ben-Ali"],
    "Ben Ali": ["Benali", "Ben-Ali"], "El Idrissi": ["Elidrissi", "Idrissi", "El Idrissy", "El-Idrissi"],
    "Ouazzani": ["Wazani", "Ouazani", "Ouazzane"], "El Khattabi": ["Elkhattabi", "El Khatabi"],
    "Bouzidi": ["Bouzidy", "Bouzide"], "Ait Ouali": ["Aït Ouali", "Aitouali", "Aït-Ouali"],
    "El Moussaoui": ["Elmoussaoui", "El Mousaoui", "Moussaoui"], "Boukhari": ["Bukhari", "Boukhary"],
    "Haddouchi": ["Hadouchi", "Haddouchy"], "El Hamdaoui": ["Elhamdaoui", "Hamdaoui"],
    "Azzouzi": ["Azouzi"], "Chaoui": ["Chaouy", "Shaoui"], "Lahlou": ["Lahlouh"],
    "Bennani": ["Benani", "Ben Nani"], "Tahiri": ["Tahiry"], "Alaoui": ["El Alaoui", "Alaouy"],
    "El Fassi": ["Elfassi", "Fassi"], "Mokhtari": ["Moktari", "Mochtari"], "Laaroussi": ["Laroussi", "Larousi"],
    "El Haddad": ["Haddad", "Elhaddad"], "Ben Haddou": ["Benhaddou"],
    "Bakkali": ["Bakali", "El Bakkali"], "Achahbar": ["Ashahbar"],
    "Yılmaz": ["Yilmaz", "Yılmas"], "Şahin": ["Sahin", "Shahin", "Chahin"], "Çelik": ["Celik", "Tchelik"],
    "Yıldız": ["Yildiz"], "Yıldırım": ["Yildirim"], "Öztürk": ["Ozturk", "Oztürk", "Oeztuerk"],
    "Aydın": ["Aydin"], "Özdemir": ["Ozdemir", "Oezdemir"], "Doğan": ["Dogan"], "Kılıç": ["Kilic", "Kilitch"],
    "Çetin": ["Cetin"], "Koç": ["Koc", "Kotch"], "Özkan": ["Ozkan"], "Şimşek": ["Simsek", "Shimshek"],
    "Erdoğan": ["Erdogan"], "Güneş": ["Gunes", "Guenes"], "Uçar": ["Ucar"], "Arslan": ["Aslan"],
    "Van den Berghe": ["Vandenberghe", "Vanden Berghe", "Van Den Berghe", "Vandenberge"],
    "De Smet": ["Desmet", "De smet"], "Janssens": ["Jansens"], "Claes": ["Claeys"],
    "Claeys": ["Claes", "Claeijs"], "Vermeulen": ["Vermeule", "Vermeullen"], "Peeters": ["Peters"],
    "Van de Velde": ["Vandevelde", "Van De Velde"], "Declercq": ["De Clercq", "Declerck", "De Clerck"],
    "Verhaeghe": ["Verhaege"], "Van Damme": ["Vandamme"], "De Vos": ["Devos"],
    "Vandenbroucke": ["Van den Broucke", "Vandenbrouke"], "Verstraete": ["Verstraeten"],
    "Van Hoof": ["Vanhoof"], "De Backer": ["Debacker", "De Bakker"], "D'Hondt": ["Dhondt", "D Hondt"],
    "Huysmans": ["Huijsmans", "Huismans"], "Van Dijck": ["Van Dyck", "Vandijck"],
    "Wuyts": ["Wuijts"], "Van Acker": ["Vanacker"], "De Wilde": ["Dewilde"], "Bogaerts": ["Bogaert"],
    "Van der Linden": ["Vanderlinden", "Vander Linden"],
    "Dupont": ["Dupond"], "Lefebvre": ["Lefèvre", "Lefevre"], "Gérard": ["Gerard"], "Noël": ["Noel"],
    "Du Bois": ["Dubois"], "De Coster": ["Decoster"], "Lecocq": ["Lecoq"],
    "Dudayev": ["Dudaev", "Doudaev", "Doedajev"], "Basayev": ["Basaev", "Bassaev"],
    "Kadyrov": ["Kadirov", "Kadyroff"], "Maskhadov": ["Mashadov", "Maschadov"], "Umarov": ["Oumarov"],
    "Tsarnayev": ["Tsarnaev"], "Akhmadov": ["Ahmadov", "Achmadov"],
    "Dzhabrailov": ["Djabrailov", "Dzjabrailov"], "Khasanov": ["Hasanov", "Chasanov"],
    "Gelayev": ["Gelaev"], "Zakayev": ["Zakaev"], "Mutsayev": ["Mutsaev"], "Elmurzayev": ["Elmurzaev"],
    "Magomadov": ["Mahomadov"], "Abdurakhmanov": ["Abdurahmanov", "Abdourakhmanov"],
    "Tshibangu": ["Chibangu", "Tshibangou"], "Mukendi": ["Moukendi"], "Ilunga": ["Ilounga"],
    "Kalonji": ["Kalondji"], "Mulumba": ["Moulumba", "Mulomba"], "Lukusa": ["Loukousa"],
    "Ngoy": ["Ngoie", "Ngoyi"], "Mbuyi": ["Mboyi", "Mbuyu"], "Tshimanga": ["Tchimanga"],
    "Kasongo": ["Kassongo"], "Mutombo": ["Moutombo"], "Nzuzi": ["Nzouzi"],
}

PARTICLES = ("van", "de", "den", "der", "du", "le", "la", "el", "ben", "ait", "d'")
KEYBOARD = "qwertyuiopasdfghjklzxcvbnm"
KNOWN_NUMBER = .15  # the share of a register's records that carry the national number
DOUBLE_FAMILY = .08  # the share of people (of some origins) with a double family name


@dataclass
class Person:
    origin: str
    given: str
    family: str
    born: dt.date
    national_number: str
    kinds: list[str] = field(default_factory=list)


def national_number(born: dt.date, serial: int) -> str:
    """A well-formed Belgian national number (YYMMDD SSS CC, check digits modulo 97)."""
    base = f"{born:%y%m%d}{serial:03d}"
    prefix = "2" if born.year >= 2000 else ""
    check = 97 - int(prefix + base) % 97
    return f"{base}{check:02d}"


class Generator:
    def __init__(self, seed: int):
        self.r = random.Random(seed)
        self.serials: set[tuple[dt.date, int]] = set()

    # --- people ------------------------------------------------------------------------------

    def zipf(self, names: list[str]) -> str:
        return self.r.choices(names, weights=[1 / (i + 1) ** 0.9 for i in range(len(names))])[0]

    def birth(self) -> dt.date:
        start, end = dt.date(1950, 1, 1), dt.date(2012, 12, 31)
        return start + dt.timedelta(days=int(self.r.betavariate(3, 2) * (end - start).days))

    def number(self, born: dt.date) -> str:
        """The person's national number (every resident has one; a register may not know it)."""
        while True:
            serial = self.r.randint(1, 997)
            if (born, serial) not in self.serials:
                self.serials.add((born, serial))
                return national_number(born, serial)

    def person(self, origin: str | None = None) -> Person:
        origin = origin or self.r.choices(list(SHARE), weights=list(SHARE.values()))[0]
        givens, families = NAMES[origin]
        given = self.zipf(givens)
        if self.r.random() < .12 and origin != "chechen":
            second = self.zipf(givens)
            if second != given:
                given = f"{given} {second}"
        born = self.birth()
        family = self.zipf(families)
        if self.r.random() < DOUBLE_FAMILY and origin in ("walloon", "congolese", "moroccan"):
            second = self.zipf(families)
            if second != family:
                family = f"{family} {second}"  # two family names, as Spanish and some African registers write
        return Person(origin, given, family, born, self.number(born))

    def shown(self, number: str) -> str:
        return number if self.r.random() < KNOWN_NUMBER else ""

    # --- how another office writes the same person ------------------------------------------

    def typo(self, word: str) -> str:
        letters = [i for i, c in enumerate(word) if c.isalpha()]
        if len(letters) < 4:
            return word
        i = self.r.choice(letters[1:])  # the first letter is rarely wrong
        how = self.r.choice(["substitute", "delete", "insert", "transpose", "double"])
        if how == "substitute":
            return word[:i] + self.r.choice(KEYBOARD) + word[i + 1:]
        if how == "delete":
            return word[:i] + word[i + 1:]
        if how == "insert":
            return word[:i] + self.r.choice(KEYBOARD) + word[i:]
        if how == "double":
            return word[:i] + word[i] + word[i:]
        j = i + 1 if i + 1 < len(word) else i - 1
        a, b = sorted((i, j))
        return word[:a] + word[b] + word[a] + word[b + 1:]

    def respell(self, name: str) -> str:
        """Another spelling of one name (whole, or word by word)."""
        if name in SPELLINGS:
            return self.r.choice(SPELLINGS[name])
        words = name.split(" ")
        return " ".join(self.r.choice(SPELLINGS[w]) if w in SPELLINGS else w for w in words)

    def particles(self, family: str) -> str:
        """Particles glued (Van den Berghe -> Vandenberghe) or split (Vandenberghe -> Van den
        Berghe), hyphenated (El Amrani -> El-Amrani)."""
        words = family.split(" ")
        if len(words) > 1 and words[0].lower() in PARTICLES:
            how = self.r.choice(["glue", "hyphen", "lower"])
            if how == "glue":
                return words[0] + "".join(w.lower() for w in words[1:])
            if how == "hyphen":
                return "-".join(words)
            return " ".join([w.lower() for w in words[:-1]] + words[-1:])
        lower = family.lower()
        for particle in ("vanden", "vander", "van", "de", "el", "ben"):
            if lower.startswith(particle) and len(lower) > len(particle) + 3:
                return family[:len(particle)].capitalize() + " " + family[len(particle):].capitalize()
        return family

    def vary(self, p: Person) -> tuple[str, str, str, str]:
        """The person as another register writes them, and the kinds of change (in p.kinds)."""
        r, given, family, kinds = self.r, p.given, p.family, p.kinds
        if r.random() < .45:
            new = self.respell(given)
            if new != given:
                given, _ = new, kinds.append("given_spelling")
        if r.random() < .40:
            new = self.respell(family)
            if new != family:
                family, _ = new, kinds.append("family_spelling")
        if r.random() < .15:
            new = self.particles(family)
            if new != family:
                family, _ = new, kinds.append("particles")
        if r.random() < .08:
            given, _ = self.typo(given), kinds.append("typo_given")
        if r.random() < .08:
            family, _ = self.typo(family), kinds.append("typo_family")
        if r.random() < .06 and " " in given:
            given, _ = given.split(" ")[0], kinds.append("second_given_lost")
        elif r.random() < .04:
            other = self.zipf(NAMES[p.origin][0])
            if other != given:
                given, _ = f"{given} {other}", kinds.append("second_given_added")
        if r.random() < .03:  # a married name joined to the birth name, either way round
            other = self.zipf(NAMES[p.origin][1])
            if other != family:
                family = f"{family}-{other}" if r.random() < .5 else f"{other}-{family}"
                kinds.append("married_name")
        elif r.random() < .5 and len(family.split(" ")) == 2 and family.split(" ")[0].lower() not in PARTICLES:
            family, _ = family.split(" ")[0], kinds.append("double_family_cut")
        if r.random() < .03:  # the father's given name written after the person's own
            father = self.zipf(NAMES[p.origin][0])
            if father not in given:
                given, _ = f"{given} {father}", kinds.append("father_name")
        if r.random() < .02:
            family, _ = "", kinds.append("family_missing")
        if r.random() < .10:
            given, family = self.fold(given, family)
            kinds.append("accents_or_case")
        if r.random() < .03:
            given, family, _ = family, given, kinds.append("names_exchanged")
        born = p.born.isoformat()
        u = r.random()
        if u < .04 and p.born.day <= 12 and p.born.day != p.born.month:
            born, _ = f"{p.born.year:04d}-{p.born.day:02d}-{p.born.month:02d}", kinds.append("day_month_swapped")
        elif u < .07:
            born, _ = f"{p.born.year:04d}-{p.born.month:02d}", kinds.append("date_to_month")
        elif u < .09:
            born, _ = f"{p.born.year:04d}", kinds.append("date_to_year")
        elif u < .10:
            born, _ = self.date_typo(p.born), kinds.append("date_typo")
        elif u < .11:
            swapped = self.digits_swapped(p.born)
            if swapped:
                born, _ = swapped, kinds.append("date_digits_swapped")
        elif u < .13:
            born, _ = "", kinds.append("date_missing")
        number = p.national_number if r.random() < KNOWN_NUMBER else ""
        if not kinds:
            kinds.append("exact")
        return given, family, born, number

    def fold(self, given: str, family: str) -> tuple[str, str]:
        import unicodedata

        def strip(text: str) -> str:
            text = text.replace("ı", "i").replace("İ", "I")
            return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))

        how = self.r.choice(["upper", "lower", "strip"])
        if how == "upper":
            return given.upper(), family.upper()
        if how == "lower":
            return given.lower(), family.lower()
        return strip(given), strip(family)

    def date_typo(self, born: dt.date) -> str:
        """One digit of the date mistyped (still a real date)."""
        while True:
            text = list(born.strftime("%Y%m%d"))
            i = self.r.choice([2, 3, 5, 6, 7])
            text[i] = self.r.choice("0123456789")
            try:
                new = dt.date(int("".join(text[:4])), int("".join(text[4:6])), int("".join(text[6:])))
            except ValueError:
                continue
            if new != born:
                return new.isoformat()

    def digits_swapped(self, born: dt.date) -> str | None:
        """Two adjacent digits of the date swapped (still a real date, another one), or None."""
        text = born.strftime("%Y%m%d")
        options = []
        for i in (2, 4, 5, 6):
            new = text[:i] + text[i + 1] + text[i] + text[i + 2:]
            try:
                day = dt.date(int(new[:4]), int(new[4:6]), int(new[6:]))
            except ValueError:
                continue
            if day != born:
                options.append(day.isoformat())
        return self.r.choice(options) if options else None

    # --- hard negatives: someone else who looks like p ----------------------------------------

    def lookalike(self, p: Person) -> tuple[Person, str]:
        r = self.r
        kind = r.choices(["namesake_days", "namesake_weeks", "namesake_year", "twin", "sibling_year",
                          "namesake_same_month"], weights=[3, 2, 2, 2, 1, 1])[0]
        given, family, born = p.given, p.family, p.born
        if kind == "namesake_days":
            born = born + dt.timedelta(days=r.choice([-3, -2, -1, 1, 2, 3]))
        elif kind == "namesake_weeks":
            born = born + dt.timedelta(days=r.choice([-1, 1]) * r.randint(7, 60))
        elif kind == "namesake_year":
            try:
                born = born.replace(year=born.year + r.choice([-1, 1]))
            except ValueError:
                born = born + dt.timedelta(days=365)
        elif kind == "namesake_same_month":
            day = r.choice([d for d in range(1, 29) if d != born.day])
            born = born.replace(day=day)
        elif kind == "twin":
            given = self.other_given(p)
        else:  # sibling_year: same family name, another given name, same birth year
            given = self.other_given(p)
            born = dt.date(born.year, r.randint(1, 12), r.randint(1, 28))
        if born == p.born and kind != "twin":
            born = born + dt.timedelta(days=1)
        other = Person(p.origin, given, family, born, self.number(born), [f"hard_{kind}"])
        return other, kind

    def other_given(self, p: Person) -> str:
        givens = NAMES[p.origin][0]
        while True:
            given = self.zipf(givens)
            if given.split(" ")[0] != p.given.split(" ")[0]:
                return given


def generate(size: int = 5000, seed: int = 2026, overlap: float = .5, hard: float = .15):
    """LEFT and RIGHT rows (dicts on ``HEADER``) and the truth ``[(left_id, right_id, kind)]``.

    LEFT has ``size`` people; ``overlap`` of them are in RIGHT (written differently, see
    :meth:`Generator.vary`); ``hard`` * size people of RIGHT are lookalikes of someone in LEFT
    but someone else (:meth:`Generator.lookalike`); RIGHT is filled up to ``size`` with strangers.
    The kinds of the hard negatives are in the returned ``hard_kinds`` (``{right_id: kind}``).
    """
    g = Generator(seed)
    people = [g.person() for _ in range(size)]
    left = [{"id": f"L{i}", "given_names": p.given, "family_name": p.family,
             "date_of_birth": p.born.isoformat(), "national_number": g.shown(p.national_number)}
            for i, p in enumerate(people)]
    right, truth, hard_kinds = [], [], {}
    same = g.r.sample(range(size), int(size * overlap))
    for i in same:
        p = Person(people[i].origin, people[i].given, people[i].family, people[i].born,
                   people[i].national_number)
        given, family, born, number = g.vary(p)
        right.append({"id": "", "given_names": given, "family_name": family, "date_of_birth": born,
                      "national_number": number, "_truth": (f"L{i}", "+".join(p.kinds))})
    for i in g.r.sample(range(size), int(size * hard)):
        other, kind = g.lookalike(people[i])
        right.append({"id": "", "given_names": other.given, "family_name": other.family,
                      "date_of_birth": other.born.isoformat(),
                      "national_number": g.shown(other.national_number),
                      "_hard": kind})
    while len(right) < size:
        p = g.person()
        right.append({"id": "", "given_names": p.given, "family_name": p.family,
                      "date_of_birth": p.born.isoformat(), "national_number": g.shown(p.national_number)})
    g.r.shuffle(right)
    for j, row in enumerate(right):
        row["id"] = f"R{j}"
        if "_truth" in row:
            left_id, kinds = row.pop("_truth")
            truth.append((left_id, row["id"], kinds))
        if "_hard" in row:
            hard_kinds[row["id"]] = row.pop("_hard")
    return left, right, truth, hard_kinds


def write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.DictWriter(handle, fieldnames=HEADER, lineterminator="\n")
        out.writeheader()
        out.writerows(rows)


def write(outdir: Path, size: int = 5000, seed: int = 2026) -> tuple[Path, Path, Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    left, right, truth, hard_kinds = generate(size, seed)
    write_csv(outdir / "left.csv", left)
    write_csv(outdir / "right.csv", right)
    with open(outdir / "truth.csv", "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["left_id", "right_id", "kind"])
        out.writerows(truth)
    with open(outdir / "hard_negatives.csv", "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["right_id", "kind"])
        out.writerows(sorted(hard_kinds.items()))
    return outdir / "left.csv", outdir / "right.csv", outdir / "truth.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    print(*write(args.outdir, args.size, args.seed), sep="\n")


if __name__ == "__main__":
    main()
