"""Signals and cases of the demo cells: every stage of the work, about clearly fictional people.

``livc demo`` seeds, per demo cell, what a coordinator meets on a normal day: signals waiting
to be weighed (one urgent, one anonymous), a signal closed for insufficient elements, one
referred elsewhere, and cases in building, in follow-up (with an overdue measure and a
restricted note), with a review due, with a feedback form for the Local Task Force awaiting
approvals, closed with reviews after closure planned, and closed long ago and due for erasure.

Everything goes through the real operations (intake, weighing, plan, notes, reviews, closure,
feedback), so the rules, the encryption and the audit trail are those of real use; only dates
are moved back afterwards, since the operations stamp "now". The audit trail names the demo
seeder as the actor. The people are invented (names like "Jan Demo" or "Fatima Voorbeeld",
streets like "Voorbeeldstraat", national numbers with a wrong check number so they can be no
one's); the municipalities are real.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app, g, has_request_context
from flask_babel import force_locale

from livc.app.demo_composition import seed_demo_legal_basis
from livc.app.demo_meetings import seed_demo_meetings
from livc.federation.linking import agree_link, request_link
from livc.federation.models import FederationLink
from livc.platform.accounts import (
    DEMO_DOMAIN,
    find_account,
)
from livc.platform.db import db, tenant_context
from livc.platform.keys import blind_index
from livc.platform.roles import OrganisationKind, Role
from livc.platform.tenancy import Tenant
from livc.platform.timeutil import utcnow
from livc.tenants.cases.models import (
    Case,
    CaseTeamMember,
    ClosureReason,
    FeedbackApproval,
    FurtherFollowUp,
    Measure,
    MeasureCategory,
    MeasureStatus,
    NoteVisibility,
    Review,
    ReviewKind,
    ReviewOutcome,
    TerroristPhase,
)
from livc.tenants.cases.operations import (
    add_measure,
    add_months,
    add_note,
    approve_feedback,
    change_case,
    change_measure,
    close_case,
    erase_after,
    hold_review,
    start_feedback,
)
from livc.tenants.cases.weighing import FactObserved, weigh_signal
from livc.tenants.cell.models import CellForm
from livc.tenants.cell.operations import can_open_cases, cell_profile, change_profile
from livc.tenants.decisions.models import Proposal
from livc.tenants.decisions.operations import confirm, confirm_faults
from livc.tenants.members.models import Membership, MembershipStatus, Organisation
from livc.tenants.signals.models import (
    FlagLevel,
    FollowUpKind,
    Identity,
    InternalAssessment,
    ObservedFact,
    Signal,
    SignalChannel,
    TargetGroup,
    Urgency,
    WeighingDecision,
)
from livc.tenants.signals.operations import case_settings, submit_signal
from livc.tenants.signals.views import weighing_of

DEMO_ACTOR = "system:demo"

# Who sits for which organisation in the plans (names as platform/demo.py creates them; the
# OCMW has no demo member and is added as an organisation only).
ORGANISATIONS = {
    "prevention": ("Preventiedienst (DEMO)", OrganisationKind.MUNICIPAL_SERVICE),
    "police": ("Lokale politie (DEMO)", OrganisationKind.POLICE),
    "clb": ("CLB (DEMO)", OrganisationKind.CLB),
    "ocmw": ("OCMW (DEMO)", OrganisationKind.OCMW),
    "expert": ("Deskundige (DEMO)", OrganisationKind.OTHER),
}
CELL_FORMS = {"demo-leuven": "integrated", "demo-herko": "zonal_with_case_teams"}
# The category of the stories' measures, by the partner that carries them.
DEMO_CATEGORIES = {"clb": MeasureCategory.EDUCATION, "police": MeasureCategory.POLICE}


# --- what the demo says ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """An invented person: the street names say so, and the national number cannot be valid."""

    given_names: str
    family_name: str
    born: date
    serial: int
    address: str
    number_known: bool = True  # an office that never learnt the national number leaves it empty

    @property
    def national_number(self) -> str:
        if not self.number_known:
            return ""
        digits = f"{self.born:%y%m%d}{self.serial:03d}"
        base = int(("2" if self.born.year >= 2000 else "") + digits)
        valid = 97 - base % 97
        wrong = valid % 97 + 1  # never the valid check number: no real person has this one
        return f"{digits[0:2]}.{digits[2:4]}.{digits[4:6]}-{digits[6:9]}.{wrong:02d}"

    def identity(self) -> dict[str, str]:
        return {
            "given_names": self.given_names,
            "family_name": self.family_name,
            "date_of_birth": self.born.isoformat(),
            "national_number": self.national_number,
            "address": self.address,
        }


@dataclass(frozen=True)
class Story:
    """One signal, and the case it becomes; the dates are set by :class:`_Seeder`."""

    observation: str
    person: Person | None = None
    contact: str | None = None  # who reported it, for calls and mails
    # The municipality of residence (NIS code); None: the cell's own, in a cell of one municipality.
    residence: str | None = None
    assessment_note: str | None = None
    facts: tuple[tuple[ObservedFact, str], ...] = ()
    rationale: str | None = None
    referred_to: str | None = None
    target_group: TargetGroup = TargetGroup.OTHER_EXTREMISM
    follow_up_kind: FollowUpKind = FollowUpKind.SOCIAL
    approached_for_other_problem: bool = False
    urgency: Urgency = Urgency.NORMAL
    goal: str | None = None
    # (organisation key, description, due in days from today or None, final status)
    measures: tuple[tuple[str, str, int | None, MeasureStatus], ...] = ()
    notes: tuple[tuple[Role, NoteVisibility, str], ...] = ()
    reviews: tuple[str, ...] = ()  # summaries of the reviews held while open
    closure_note: str | None = None
    after_closure: tuple[str, ...] = ()  # summaries of the reviews held after closure
    feedback: dict = field(default_factory=dict)
    added: Story | None = None  # a later signal about the same person, added to the case


def _fact(fact: ObservedFact, description: str) -> tuple[ObservedFact, str]:
    return fact, description


# The zonal demo cell's municipalities, and Leuven, where one of its signals is about someone
# living outside its territory (the signal page suggests the competent cell: demo-leuven).
HERENT, KORTENBERG, LEUVEN_NIS = "24038", "24055", "24062"

LEUVEN = {
    "erasable": Story(
        person=Person("Tom", "Archiefgeval", date(1998, 11, 2), 211, "Fictiefstraat 3, 3000 Leuven"),
        observation="Plaatste op een publiek profiel berichten die geweld tegen een bevolkingsgroep goedpraten en "
                    "riep op om 'zelf orde op zaken te stellen'. Gemeld door de jeugddienst.",
        facts=(_fact(ObservedFact.SUPPORT_FOR_VIOLENCE, "Berichten op een publiek profiel die geweld tegen een "
                     "bevolkingsgroep goedpraten."),
               _fact(ObservedFact.PROPAGANDA, "Deelde affiches van een extremistische groep in een open chatgroep.")),
        target_group=TargetGroup.HATE_PROPAGANDIST,
        measures=(("ocmw", "Begeleiding naar een opleiding via het OCMW", None, MeasureStatus.DONE),
                  ("prevention", "Gesprekken met een preventiewerker over online gedrag", None, MeasureStatus.DONE)),
        reviews=("Volgt de opleiding; geen nieuwe berichten gezien.",
                 "Doelen bereikt; de cel stelt voor het dossier af te sluiten."),
        closure_note="Volgt een opleiding en heeft zijn profiel verwijderd; geen nieuwe signalen.",
        after_closure=("Geen nieuwe zorgen na zes maanden.", "Geen nieuwe zorgen na twaalf maanden."),
    ),
    "aftercare": Story(
        person=Person("Emma", "Demodossier", date(2004, 6, 17), 118, "Proefweg 21, 3001 Heverlee"),
        observation="Brak volgens de CLB-medewerker plots het contact met vriendinnen en familie af, spreekt over "
                    "een 'zuivere' groep online en verzuimt sinds weken de lessen.",
        assessment_note="Besproken in het zorgteam van de school en met de CLB-directie.",
        facts=(_fact(ObservedFact.SOCIAL_BREAK, "Verzuimt sinds drie weken en heeft het contact met haar "
                     "vriendinnen verbroken."),
               _fact(ObservedFact.EXTREMIST_CONTACTS, "Noemt een online groep die gekend is voor extremistische "
                     "oproepen haar 'enige echte familie'.")),
        measures=(("clb", "Wekelijks gesprek met de CLB-medewerker op school", None, MeasureStatus.DONE),
                  ("prevention", "Toeleiding naar een jeugdvereniging naar keuze", None, MeasureStatus.DONE)),
        reviews=("Komt weer naar school; de gesprekken lopen goed.",
                 "Stabiel sinds maanden; de cel stelt voor het dossier af te sluiten."),
        closure_note="Doelen van het traject bereikt: volgt opnieuw alle lessen en is actief in een jeugdvereniging.",
    ),
    "feedback": Story(
        person=Person("Testpersoon", "Fictief", date(1996, 1, 9), 47, "Voorbeeldlaan 8, 3010 Kessel-Lo"),
        observation="Doorverwijzing door de Lokale Task Force: de persoon is gekend in de gemeenschappelijke "
                    "gegevensbank. De LTF vraagt de cel een sociale opvolging op te starten (werk, huisvesting, netwerk).",
        facts=(_fact(ObservedFact.EXTREMIST_CONTACTS, "Volgens de LTF in contact geweest met personen uit een "
                     "gewelddadig extremistisch netwerk."),
               _fact(ObservedFact.SOCIAL_BREAK, "Woont sinds kort alleen, zonder werk of dagbesteding.")),
        target_group=TargetGroup.HTF,
        follow_up_kind=FollowUpKind.MIXED,
        measures=(("ocmw", "Trajectbegeleiding naar werk en huisvesting via het OCMW", 30, MeasureStatus.IN_PROGRESS),
                  ("police", "Periodiek contact met de wijkagent", None, MeasureStatus.IN_PROGRESS)),
        reviews=("Werkt mee aan de trajectbegeleiding; de huisvesting is geregeld.",),
        feedback={
            "effectiveness": "De trajectbegeleiding loopt: huisvesting is geregeld, werk wordt gezocht.",
            "cooperation": "Komt op afspraken en werkt mee, met wisselende motivatie.",
            "distance": "Neemt in gesprekken afstand van het netwerk; het contact is nog niet helemaal verbroken.",
            "further_follow_up": FurtherFollowUp.USEFUL,
            "further_note": "Opvolging door de cel blijft nuttig tot er werk gevonden is.",
            "other_elements": "Maatregelen: begeleiding door het OCMW en contact met de wijkagent. "
                              "Aanbeveling: een mentor via de VDAB.",
            "terrorist_phase": TerroristPhase.NO,
            "phase_explanation": "Geen aanwijzingen van voorbereidingen van geweld.",
        },
    ),
    "evaluation": Story(
        person=Person("Ruben", "Proefpersoon", date(2003, 8, 30), 302, "Demostraat 45, 3012 Wilsele"),
        observation="De jeugdwerker zag hem op online fora van een extreemrechtse groep en hoorde hem op de "
                    "jeugdwerking zeggen dat geweld tegen migranten 'soms nodig is'.",
        assessment_note="Besproken met de coördinator van de jeugdwerking.",
        facts=(_fact(ObservedFact.SUPPORT_FOR_VIOLENCE, "Zei op de jeugdwerking dat geweld tegen migranten "
                     "'soms nodig is'."),
               _fact(ObservedFact.PROPAGANDA, "Toont memes van een extreemrechtse groep aan andere jongeren.")),
        measures=(("prevention", "Deelname aan een project rond mediawijsheid en weerbaarheid", 20,
                   MeasureStatus.IN_PROGRESS),
                  ("ocmw", "Begeleiding bij het zoeken naar werk", 45, MeasureStatus.PLANNED)),
        notes=((Role.COORDINATOR, NoteVisibility.TEAM, "Gesprek met de jeugdwerker: de deelname aan het project "
                "loopt; evaluatie op de volgende tafel."),),
    ),
    "follow_up": Story(
        person=Person("Fatima", "Voorbeeld", date(2007, 4, 11), 164, "Fictieflaan 4 bus 2, 3000 Leuven"),
        observation="Deelde propagandavideo's in de chatgroep van de klas en verdedigde ze tegenover medeleerlingen.",
        assessment_note="Besproken op het zorgoverleg van de school; de directie en het CLB vinden het zorgwekkend.",
        facts=(_fact(ObservedFact.PROPAGANDA, "Deelde twee propagandavideo's in de chatgroep van de klas."),
               _fact(ObservedFact.BEHAVIOUR_CHANGE, "Trekt zich terug uit de klasgroep en spreekt medeleerlingen "
                     "aan op hun 'ongeloof'.")),
        target_group=TargetGroup.HATE_PROPAGANDIST,
        approached_for_other_problem=True,
        urgency=Urgency.SOON,
        goal="De schoolloopbaan stabiliseren en een netwerk buiten de online groep opbouwen.",
        measures=(("clb", "Wekelijks gesprek met de CLB-medewerker op school", 30, MeasureStatus.IN_PROGRESS),
                  ("ocmw", "Gezinsondersteuning voor de ouders via het OCMW", -5, MeasureStatus.PLANNED),
                  ("police", "Kennismakingsgesprek met de wijkagent, samen met de preventiewerker", None,
                   MeasureStatus.DONE)),
        notes=((Role.PARTNER, NoteVisibility.TEAM, "Gesprek op school verliep rustig; ze wil haar diploma halen "
                "en staat open voor begeleiding."),
               (Role.INFORMATION_OFFICER, NoteVisibility.RESTRICTED, "Politionele informatie: geen nieuwe feiten "
                "gekend sinds de weging.")),
        added=Story(
            observation="De leerkracht meldt dat ze opnieuw een video deelde, nu in een andere chatgroep met "
                        "leerlingen van de school.",
            assessment_note="Opnieuw besproken met de directie.",
            facts=(_fact(ObservedFact.PROPAGANDA, "Deelde opnieuw een propagandavideo in een chatgroep van "
                         "leerlingen."),),
        ),
    ),
    "insufficient": Story(
        person=Person("Milan", "Testgeval", date(2008, 12, 5), 75, "Oefenstraat 7, 3001 Heverlee"),
        observation="Draagt sinds kort andere kledij en bidt tijdens de middagpauze; een leerkracht maakt zich zorgen.",
        assessment_note="Kort besproken met de leerlingenbegeleiding.",
        rationale="Geloofsbeleving op zich is geen signaal van radicalisering; er zijn geen concrete aanwijzingen "
                  "van steun aan geweld. Signaal afgesloten.",
    ),
    "referred": Story(
        person=Person("Sanne", "Demo", date(2009, 3, 23), 90, "Proefplein 2, 3010 Kessel-Lo"),
        observation="Spijbelt veel en heeft conflicten thuis; de moeder vreest dat ze 'in slecht gezelschap' is "
                    "geraakt. Geen ideologische uitspraken gekend.",
        contact="Mevrouw Demo (moeder), via het onthaal van de preventiedienst, 016 00 00 00",
        referred_to="CAW (jongerenwerking) en CLB, voor begeleiding rond spijbelen en de thuissituatie",
        rationale="Zorgen over het welzijn, geen aanwijzingen van radicalisering.",
    ),
    "building": Story(
        person=Person("Jan", "Demo", date(2006, 5, 12), 33, "Voorbeeldstraat 12, 3000 Leuven"),
        observation="Vertelde vrienden dat hij naar een conflictgebied wil vertrekken 'om te strijden' en zocht "
                    "online naar reisroutes.",
        contact="Jeugdconsulent (DEMO), jeugddienst, 016 00 00 01",
        assessment_note="Besproken binnen de jeugddienst.",
        facts=(_fact(ObservedFact.TRAVEL, "Zegt naar een conflictgebied te willen vertrekken om te strijden; zocht "
                     "reisroutes op."),),
        target_group=TargetGroup.FTF,
        follow_up_kind=FollowUpKind.MIXED,
        urgency=Urgency.SOON,
    ),
    "waiting": Story(
        person=Person("Lotte", "Voorbeeld", date(2005, 10, 28), 140, "Testlaan 19, 3018 Wijgmaal"),
        observation="Schreef in een schoolopdracht dat aanslagen 'begrijpelijk' zijn en weigert erover in gesprek "
                    "te gaan.",
        assessment_note="Besproken met de directie en het CLB-team; we vinden het zorgwekkend.",
    ),
    "anonymous": Story(
        observation="Een buurtbewoner meldt dat een jongere in het park flyers van een extremistische groep "
                    "uitdeelde aan kinderen. Naam en adres niet gekend; ongeveer 18 jaar.",
        contact="Buurtbewoner (wenst anoniem te blijven), via het algemene e-mailadres van de cel",
    ),
    "urgent": Story(
        person=Person("Yusuf", "Fictief", date(2002, 7, 14), 251, "Demolaan 33, 3000 Leuven"),
        observation="Kondigde in een groepschat aan 'dit weekend iets te gaan doen' tegen een gebedshuis en vroeg "
                    "hoe je vuurwerkbommen koopt. De melder heeft schermafbeeldingen.",
        contact="Straathoekwerker (DEMO), 0470 00 00 00",
        urgency=Urgency.URGENT,
        assessment_note="Overlegd met de teamverantwoordelijke straathoekwerk.",
    ),
}

HERKO = {
    "erasable": Story(
        residence=HERENT,
        person=Person("Nora", "Archiefgeval", date(1999, 5, 19), 186, "Fictiefstraat 10, 3020 Herent"),
        observation="Verspreidde in een sportclub pamfletten die haat tegen een bevolkingsgroep aanwakkeren en zei "
                    "dat 'ze hier weg moeten, met geweld als het moet'.",
        assessment_note="Besproken door het bestuur van de sportclub met de sportdienst.",
        facts=(_fact(ObservedFact.PROPAGANDA, "Verspreidde pamfletten van een extremistische groep in de kleedkamer."),
               _fact(ObservedFact.SUPPORT_FOR_VIOLENCE, "Zei tegen teamgenoten dat geweld tegen een bevolkingsgroep "
                     "'nodig' is.")),
        target_group=TargetGroup.HATE_PROPAGANDIST,
        measures=(("prevention", "Herstelgesprek met de sportclub, begeleid door de preventiedienst", None,
                   MeasureStatus.DONE),
                  ("ocmw", "Begeleiding naar werk via het OCMW", None, MeasureStatus.DONE)),
        reviews=("Herstelgesprek gevoerd; geen nieuwe incidenten.", "Stabiel; de cel stelt voor af te sluiten."),
        closure_note="Geen nieuwe incidenten; heeft werk gevonden en speelt opnieuw in de club.",
        after_closure=("Geen nieuwe zorgen na zes maanden.", "Geen nieuwe zorgen na twaalf maanden."),
    ),
    "aftercare": Story(
        residence=KORTENBERG,
        person=Person("Bram", "Demo", date(2005, 2, 26), 59, "Proefweg 5, 3070 Kortenberg"),
        observation="Sluit zich volgens zijn ouders al weken op, kijkt urenlang naar video's van een gewelddadige "
                    "groepering en spreekt over 'de dag van de afrekening'.",
        contact="Vader van de jongere, telefonisch via de preventiedienst, 016 00 00 03",
        facts=(_fact(ObservedFact.BEHAVIOUR_CHANGE, "Spreekt thuis over 'de dag van de afrekening' en kleedt zich "
                     "zoals de groepering."),
               _fact(ObservedFact.SOCIAL_BREAK, "Sluit zich sinds weken op en ziet zijn vrienden niet meer.")),
        measures=(("ocmw", "Begeleiding naar een opleiding via het OCMW", None, MeasureStatus.DONE),
                  ("expert", "Gesprekken met een deskundige in exitbegeleiding", None, MeasureStatus.DONE)),
        reviews=("Volgt de opleiding; de gesprekken lopen.", "Duidelijk afstand genomen; de cel stelt voor af te "
                 "sluiten."),
        closure_note="Doelen bereikt: volgt een opleiding en heeft opnieuw contact met vrienden.",
    ),
    "feedback": Story(
        residence=KORTENBERG,
        person=Person("Lucas", "Exemple", date(2000, 9, 3), 123, "Voorbeeldlaan 14, 3071 Erps-Kwerps"),
        observation="Renvoi par la Local Task Force : la personne figure dans la banque de données commune. La LTF "
                    "demande à la cellule d'assurer un suivi social (logement, emploi, réseau).",
        facts=(_fact(ObservedFact.EXTREMIST_CONTACTS, "Selon la LTF, a été en contact avec des membres d'un réseau "
                     "extrémiste violent."),
               _fact(ObservedFact.SOCIAL_BREAK, "Vit seul depuis peu, sans emploi ni activité de jour.")),
        target_group=TargetGroup.HTF,
        follow_up_kind=FollowUpKind.MIXED,
        measures=(("ocmw", "Accompagnement vers l'emploi et le logement par le CPAS (OCMW)", 30,
                   MeasureStatus.IN_PROGRESS),
                  ("police", "Contact régulier avec l'agent de quartier", None, MeasureStatus.IN_PROGRESS)),
        reviews=("Collabore au trajet ; le logement est réglé.",),
        feedback={
            "effectiveness": "Le trajet avance : logement trouvé, recherche d'emploi en cours.",
            "cooperation": "Se présente aux rendez-vous, avec une motivation variable.",
            "distance": "Prend ses distances avec le réseau en entretien, sans rupture complète.",
            "further_follow_up": FurtherFollowUp.USEFUL,
            "further_note": "Le suivi par la cellule reste utile jusqu'à ce qu'un emploi soit trouvé.",
            "other_elements": "Mesures : accompagnement par le CPAS et l'agent de quartier. "
                              "Recommandation : un mentor via le VDAB.",
            "terrorist_phase": TerroristPhase.NO,
            "phase_explanation": "Aucun indice de préparation d'actes violents.",
        },
    ),
    "evaluation": Story(
        residence=HERENT,
        person=Person("Julie", "Exemple", date(2004, 12, 12), 216, "Demostraat 2, 3020 Veltem-Beisem"),
        observation="Selon l'éducatrice du service jeunesse, elle partage des vidéos glorifiant un attentat et dit à "
                    "d'autres jeunes que les victimes 'l'avaient mérité'.",
        assessment_note="Discuté avec la responsable du service jeunesse.",
        facts=(_fact(ObservedFact.SUPPORT_FOR_VIOLENCE, "A dit à d'autres jeunes que les victimes d'un attentat "
                     "'l'avaient mérité'."),
               _fact(ObservedFact.PROPAGANDA, "Partage des vidéos glorifiant un attentat dans un groupe de discussion.")),
        measures=(("prevention", "Participation à un projet d'éducation aux médias", 20, MeasureStatus.IN_PROGRESS),
                  ("ocmw", "Accompagnement de la famille par le CPAS (OCMW)", 45, MeasureStatus.PLANNED)),
        notes=((Role.COORDINATOR, NoteVisibility.TEAM, "Entretien avec l'éducatrice : participation régulière au "
                "projet ; à évaluer à la prochaine table."),),
    ),
    "follow_up": Story(
        residence=KORTENBERG,
        person=Person("Amira", "Voorbeeld", date(2007, 7, 7), 98, "Oefenlaan 9, 3070 Kortenberg"),
        observation="Deelde propagandavideo's in de chatgroep van de klas en zegt tegen medeleerlingen dat "
                    "'ongelovigen' gestraft moeten worden.",
        assessment_note="Besproken in het zorgteam van de school; het CLB vindt het zorgwekkend.",
        facts=(_fact(ObservedFact.PROPAGANDA, "Deelde propagandavideo's in de chatgroep van de klas."),
               _fact(ObservedFact.SUPPORT_FOR_VIOLENCE, "Zegt tegen medeleerlingen dat 'ongelovigen' gestraft moeten "
                     "worden.")),
        target_group=TargetGroup.HATE_PROPAGANDIST,
        approached_for_other_problem=True,
        urgency=Urgency.SOON,
        goal="Een veilige schoolloopbaan en een netwerk buiten de online groep.",
        measures=(("clb", "Wekelijks gesprek met de CLB-medewerker", 30, MeasureStatus.IN_PROGRESS),
                  ("ocmw", "Opvoedingsondersteuning voor de ouders via het OCMW", -5, MeasureStatus.PLANNED),
                  ("police", "Kennismaking met de wijkagent, samen met de preventiewerker", None, MeasureStatus.DONE)),
        notes=((Role.PARTNER, NoteVisibility.TEAM, "Open gesprek op school; ze wil verder studeren en aanvaardt "
                "begeleiding."),
               (Role.INFORMATION_OFFICER, NoteVisibility.RESTRICTED, "Politionele informatie: geen nieuwe feiten "
                "gekend sinds de weging.")),
        added=Story(
            observation="De leerkracht meldt dat ze opnieuw een video deelde in een andere chatgroep van leerlingen.",
            assessment_note="Opnieuw besproken in het zorgteam.",
            facts=(_fact(ObservedFact.PROPAGANDA, "Deelde opnieuw een propagandavideo in een chatgroep van "
                         "leerlingen."),),
        ),
    ),
    "insufficient": Story(
        residence=HERENT,
        person=Person("Arne", "Testgeval", date(2009, 1, 15), 64, "Testweg 4, 3020 Winksele"),
        observation="Droeg op school een T-shirt met een symbool dat een leerkracht niet kende en als extremistisch "
                    "vreesde.",
        assessment_note="Besproken met de leerlingenbegeleiding.",
        rationale="Het symbool is dat van een muziekgroep zonder extremistische band; geen andere elementen. "
                  "Signaal afgesloten.",
    ),
    "referred": Story(
        residence=KORTENBERG,
        person=Person("Chloé", "Démo", date(2008, 4, 4), 172, "Fictieflaan 22, 3078 Everberg"),
        observation="Absentéisme scolaire important et conflits à la maison ; la mère craint de 'mauvaises "
                    "fréquentations'. Aucun propos idéologique connu.",
        contact="Mme Démo (mère), par l'accueil du service de prévention, 02 000 00 00",
        referred_to="CAW (jongerenwerking) et CLB, pour l'absentéisme et la situation familiale",
        rationale="Inquiétudes sur le bien-être, aucun indice de radicalisation.",
    ),
    "building": Story(
        residence=KORTENBERG,
        person=Person("Kobe", "Fictief", date(2006, 3, 3), 81, "Demoplein 1, 3078 Meerbeek"),
        observation="Vertelde op zijn werk dat hij binnenkort naar een conflictgebied vertrekt 'om te strijden'; "
                    "zocht volgens collega's reisroutes op.",
        contact="Personeelsverantwoordelijke (DEMO) van een lokaal bedrijf, 016 00 00 02",
        assessment_note="Besproken met de zaakvoerder.",
        facts=(_fact(ObservedFact.TRAVEL, "Zegt binnenkort naar een conflictgebied te vertrekken om te strijden; "
                     "zocht reisroutes op."),),
        target_group=TargetGroup.FTF,
        follow_up_kind=FollowUpKind.MIXED,
        urgency=Urgency.SOON,
    ),
    "waiting": Story(
        residence=LEUVEN_NIS,
        person=Person("Mehdi", "Exemple", date(2006, 11, 21), 37, "Proefstraat 8, 3000 Leuven"),
        observation="A écrit dans un travail scolaire que les attentats sont 'compréhensibles' et refuse d'en parler. "
                    "Va à l'école à Herent mais habite à Leuven.",
        assessment_note="Discuté avec la direction et l'équipe du CLB ; nous le trouvons inquiétant.",
    ),
    "anonymous": Story(
        residence=HERENT,
        observation="Een inwoner meldt dat een jongere aan het station stickers van een extremistische groep kleeft "
                    "en voorbijgangers aanspreekt. Naam niet gekend.",
        contact="Inwoner (wenst anoniem te blijven), via het e-mailadres van de cel",
    ),
    "urgent": Story(
        residence=KORTENBERG,
        person=Person("Wout", "Voorbeeld", date(2003, 6, 1), 205, "Oefenstraat 30, 3070 Kortenberg"),
        observation="Plaatste een foto met een wapen en de tekst 'binnenkort is het zover' bij een bericht over een "
                    "betoging; vrienden maken zich ernstig zorgen.",
        contact="Jeugdwerker (DEMO), 0470 00 00 01",
        urgency=Urgency.URGENT,
        assessment_note="Overlegd met de verantwoordelijke van de jeugdwerking.",
    ),
}

# The demo person both cells follow without knowing it (seed 001, "Samenwerking"): written as
# two offices would, the Arabic given name transliterated the Dutch or the English way, the
# family name's particles split or glued, and the national number unknown in Herent-Kortenberg.
# Once the cells are linked the federation alerts both coordinators on this pair, and on no
# other: no other demo person shares a date of birth across the two cells.
LEUVEN["shared"] = Story(
    person=Person("Youssef", "Van den Voorbeeld", date(2001, 2, 14), 266, "Proeflaan 5, 3000 Leuven"),
    observation="De jeugdwerker ziet hem in het jeugdhuis filmpjes van een gewelddadige groep tonen en jongeren "
                "uitnodigen om 'mee te gaan naar de bijeenkomsten'. Hij verblijft ook geregeld bij familie buiten Leuven.",
    facts=(_fact(ObservedFact.PROPAGANDA, "Toont in het jeugdhuis filmpjes van een gewelddadige groep."),
           _fact(ObservedFact.EXTREMIST_CONTACTS, "Nodigt jongeren uit naar bijeenkomsten van die groep.")),
    measures=(("prevention", "Gesprekken met een preventiewerker over de groep en de bijeenkomsten", 21,
               MeasureStatus.IN_PROGRESS),),
)
HERKO["shared"] = Story(
    residence=HERENT,
    person=Person("Yusuf", "Vandenvoorbeeld", date(2001, 2, 14), 0, "Oefenweg 12, 3020 Herent", number_known=False),
    observation="Le service de prévention signale qu'il distribue à la gare des tracts d'un groupe violent et "
                "qu'il cherche à recruter des jeunes de la commune.",
    facts=(_fact(ObservedFact.PROPAGANDA, "Distribue à la gare les tracts d'un groupe violent."),
           _fact(ObservedFact.EXTREMIST_CONTACTS, "Cherche à recruter des jeunes pour ce groupe.")),
    measures=(("prevention", "Contact par un travailleur de rue, avec une offre d'activités", 28,
               MeasureStatus.IN_PROGRESS),),
)

STORIES = {"demo-leuven": LEUVEN, "demo-herko": HERKO}


# --- seeding ---------------------------------------------------------------------------------------


def seed_demo_cases(tenant: Tenant) -> bool:
    """Seed the cell's signals and cases (inside its tenant context); False when there was
    nothing to add or the cell is not a demo cell.

    A cell that has signals or cases gets none of the day's stories added; the shared person
    (the ``"shared"`` story) is looked for on its own, through the cell's blind index, so a demo
    database seeded before it existed gets it too, and seeding twice adds nothing.
    """
    stories = STORIES.get(tenant.slug)
    if stories is None:
        return False
    members = _demo_members(tenant)
    if Role.COORDINATOR not in members or Role.PARTNER not in members:
        return False
    seeded = False
    with _as_demo_seeder(tenant):
        _appoint_official(tenant, members[Role.COORDINATOR])
        seed_demo_legal_basis(members)
        if not can_open_cases():
            return False
        seeder = _Seeder(members, stories, tenant.nis_codes[0] if len(tenant.nis_codes) == 1 else None)
        if not _has_case_data():
            seeder.run()
            seeded = True
        if not _has_case_of(stories["shared"].person):
            seeder.shared_case()
            seeded = True
        seeded = seed_demo_meetings(members) or seeded
        db.session.flush()  # within the cell's context: the commit may come outside it
    return seeded


def _demo_members(tenant: Tenant) -> dict[Role, Membership]:
    """The cell's active demo members by role (inside its tenant context)."""

    members = {}
    for role in Role:
        account = find_account(demo_email(tenant.slug, role))
        membership = account and db.session.scalar(sa.select(Membership).where(Membership.account_id == account.id))
        if membership is not None and membership.status == MembershipStatus.ACTIVE:
            members[role] = membership
    return members


def _has_case_of(person: Person) -> bool:
    """Whether a case of the cell is about ``person`` (its full-name blind index; not a search
    by a member, so not audited)."""

    index = blind_index(person.given_names + person.family_name, "full_name")
    return db.session.scalar(
        sa.select(Case.id).join(Identity, Identity.id == Case.identity_id).where(Identity.full_name_index == index).limit(1)
    ) is not None


def link_demo_cells(tenants: list[Tenant]) -> bool:
    """Link the two demo cells for the federation, as their coordinators do: Leuven's asks,
    Herent-Kortenberg's agrees (:mod:`livc.federation.linking`, audited in both cells as
    the demo seeder). Once agreed, both cells' open cases are enrolled by jobs (inline in the
    embedded demo: when the caller commits), and the shared person alerts both coordinators.

    Only cells that were never linked: a link a demo user ended stays ended. True if linked now.
    """

    by_slug = {tenant.slug: tenant for tenant in tenants}
    asking, agreeing = by_slug.get("demo-leuven"), by_slug.get("demo-herko")
    if asking is None or agreeing is None:
        return False
    low, high = sorted((asking.id, agreeing.id))
    ever = sa.select(FederationLink.id).where(FederationLink.cell_a_id == low, FederationLink.cell_b_id == high)
    if db.session.scalar(ever.limit(1)) is not None:
        return False
    coordinators = {}
    for tenant in (asking, agreeing):
        with tenant_context(tenant.id):
            coordinators[tenant.id] = _demo_members(tenant).get(Role.COORDINATOR)
    if None in coordinators.values():
        return False
    with tenant_context(asking.id), _as_demo_seeder(asking):
        request_link(asking.id, agreeing.id, coordinators[asking.id])
    with tenant_context(agreeing.id), _as_demo_seeder(agreeing):
        agree_link(agreeing.id, asking.id, coordinators[agreeing.id])
    db.session.flush()
    return True


def _has_case_data() -> bool:
    return (db.session.scalar(sa.select(Signal.id).limit(1)) is not None
            or db.session.scalar(sa.select(Case.id).limit(1)) is not None)


@contextmanager
def _as_demo_seeder(tenant: Tenant) -> Iterator[None]:
    """A request context (messages are translated), in the cell's language, audited as the demo."""
    request = nullcontext() if has_request_context() else current_app.test_request_context()
    with request, force_locale(tenant.languages[0]):
        missing = object()
        previous = g.get("audit_actor", missing)
        g.audit_actor = DEMO_ACTOR
        try:
            yield
        finally:
            if previous is missing:
                g.pop("audit_actor", None)
            else:
                g.audit_actor = previous


def _appoint_official(tenant: Tenant, coordinator: Membership) -> None:
    """The cell's form and appointed official (the demo coordinator), unless set already."""

    profile = cell_profile()
    if profile is None:
        change_profile({"form": CellForm(CELL_FORMS.get(tenant.slug, "integrated")),
                        "appointed_official_id": coordinator.id})
    elif profile.appointed_official_id is None:
        change_profile({"appointed_official_id": coordinator.id})


class _Seeder:
    """Tells the stories through the operations, oldest first, then moves their dates back."""

    def __init__(self, members: dict[Role, Membership], stories: dict[str, Story], residence: str | None) -> None:
        self.members = members
        self.stories = stories
        self.residence = residence  # where a story's person lives unless it says
        self.coordinator = members[Role.COORDINATOR]
        self.partner = members[Role.PARTNER]
        self.officer = members.get(Role.INFORMATION_OFFICER)
        self.guest = members.get(Role.GUEST_EXPERT)
        self.today = utcnow().date()
        self.interval = case_settings().review_interval_days
        self.participants = [
            members[role].id for role in (Role.PARTNER, Role.INFORMATION_OFFICER, Role.SOCIAL_ALDERMAN) if role in members
        ]

    # dates

    def day(self, days_ago: int) -> date:
        return self.today - timedelta(days=days_ago)

    def moment(self, days_ago: int, hour: int = 10) -> datetime:
        return datetime.combine(self.day(max(days_ago, 1)), time(hour, 15))

    # the day in the cell, oldest first

    def run(self) -> None:
        self.erasable_case()
        self.case_in_aftercare()
        self.case_with_feedback()
        self.case_with_review_due()
        follow_up = self.case_in_follow_up()
        self.closed_signals()
        self.added_signal(follow_up)
        self.case_in_building()
        self.signals_to_weigh()

    def erasable_case(self) -> None:
        """Closed three years ago, reviewed after closure, due for erasure since about a year."""
        story = self.stories["erasable"]
        case = self.open_case(story, self.signal(self.partner, story, 1290), 1280)
        self.follow(case, story, 1278, done_days_ago=1100)
        self.hold_reviews(case, story, (1190, 1100), last_closes=True)
        self.close(case, story, 1095)
        for summary, review in zip(story.after_closure, self.pending_reviews(case), strict=False):
            self.hold(case, review, review.due_on, ReviewOutcome.NO_CONCERN, summary)

        case.erase_after = erase_after(case)

    def shared_case(self) -> Case:
        """The person the neighbouring cell follows too: a case in follow-up for a month."""
        story = self.stories["shared"]
        case = self.open_case(story, self.signal(self.partner, story, 35), 30)
        self.follow(case, story, 28)
        return case

    def case_in_aftercare(self) -> None:
        story = self.stories["aftercare"]
        author = self.partner if story.contact is None else self.coordinator
        case = self.open_case(story, self.signal(author, story, 335), 330)
        self.follow(case, story, 325, done_days_ago=150)
        self.hold_reviews(case, story, (240, 150), last_closes=True)
        self.close(case, story, 145)

    def case_with_feedback(self) -> None:
        story = self.stories["feedback"]
        author = self.officer or self.coordinator
        channel = SignalChannel.LTF_REFERRAL if self.officer else SignalChannel.PHONE
        signal = self.signal(author, story, 122, channel=channel, assessment=InternalAssessment.NOT_APPLICABLE,
                             contact=None if self.officer else "Informatieambtenaar (DEMO)")
        case = self.open_case(story, signal, 120, extra_team=[self.officer] if self.officer else [])
        self.follow(case, story, 118)
        self.hold_reviews(case, story, (30,))
        feedback = start_feedback(case, self.coordinator, story.feedback)
        feedback.created_at = feedback.updated_at = self.moment(4, 11)
        # The coordinator and the partner approved; the information officer still has to.
        for member in (self.coordinator, self.partner):
            approve_feedback(case, feedback, member, feedback.revision)
        for approval, days_ago in zip(
            db.session.scalars(sa.select(FeedbackApproval).where(FeedbackApproval.feedback_id == feedback.id)
                               .order_by(FeedbackApproval.id)), (4, 3), strict=False):
            approval.approved_at = self.moment(days_ago, 16)

    def case_with_review_due(self) -> None:
        story = self.stories["evaluation"]
        case = self.open_case(story, self.signal(self.partner, story, 103), 100,
                              extra_team=[self.guest] if self.guest else [])
        self.follow(case, story, 98)
        self.write_notes(case, story, 40)

    def case_in_follow_up(self) -> Case:
        story = self.stories["follow_up"]
        case = self.open_case(story, self.signal(self.partner, story, 62), 60)
        change_case(case, self.coordinator, {"goal": story.goal})
        self.follow(case, story, 58, done_days_ago=30)
        self.write_notes(case, story, 20)
        return case

    def closed_signals(self) -> None:
        for key, received, decided in (("insufficient", 40, 35), ("referred", 25, 21)):
            story = self.stories[key]
            author = self.partner if story.contact is None else self.coordinator
            signal = self.signal(author, story, received)
            if key == "insufficient":
                self.weigh(signal, decided, WeighingDecision.INSUFFICIENT, FlagLevel.GREEN, story)
            else:
                self.weigh(signal, decided, WeighingDecision.REFER, FlagLevel.YELLOW, story)

    def added_signal(self, case: Case) -> None:
        story = self.stories["follow_up"]
        added = replace(story.added, person=story.person, residence=story.residence)
        signal = self.signal(self.partner, added, 15)
        self.weigh(signal, 12, WeighingDecision.ADD_TO_CASE, FlagLevel.RED, added, case_id=case.id)

    def case_in_building(self) -> None:
        story = self.stories["building"]
        team = [self.officer] if self.officer and story.follow_up_kind != FollowUpKind.SOCIAL else []
        self.open_case(story, self.signal(self.coordinator, story, 14), 12, extra_team=team)

    def signals_to_weigh(self) -> None:
        self.signal(self.partner, self.stories["waiting"], 6)
        self.signal(self.coordinator, self.stories["anonymous"], 3, channel=SignalChannel.EMAIL)
        self.signal(self.coordinator, self.stories["urgent"], 1)

    # the operations, with their dates moved back

    def signal(
        self,
        author: Membership,
        story: Story,
        days_ago: int,
        *,
        channel: SignalChannel | None = None,
        assessment: InternalAssessment | None = None,
        contact: str | None = None,
    ) -> Signal:
        """A partner reports through the form (after their own organisation's filter); the
        coordinator logs a call, assessed in-house by the caller's service when a note says so."""

        if channel is None:
            channel = SignalChannel.FORM if author.role != Role.COORDINATOR else SignalChannel.PHONE
        if assessment is None:
            done = channel == SignalChannel.FORM or story.assessment_note is not None
            assessment = InternalAssessment.DONE if done else InternalAssessment.NOT_APPLICABLE
        values = {
            "channel": channel,
            "internal_assessment": assessment,
            "urgency": story.urgency,
            "observation": story.observation,
            "reporter_contact": contact or story.contact,
            "assessment_note": story.assessment_note,
            "observed_from": self.day(days_ago + 12),
            "observed_until": self.day(days_ago + 1),
            "residence_nis": story.residence or self.residence,
            **(story.person.identity() if story.person else {}),
        }
        signal = submit_signal(author, values)
        signal.received_at = self.moment(days_ago, 9)
        return signal

    def weigh(self, signal: Signal, days_ago: int, decision: WeighingDecision, flag: FlagLevel, story: Story,
              **extra) -> Case | None:

        values = {
            "decision": decision,
            "flag": flag,
            "facts": [FactObserved(fact, text, self.day(days_ago + 3)) for fact, text in story.facts],
            "rationale": story.rationale,
            "referred_to": story.referred_to,
            **extra,
        }
        self.confirm(weigh_signal(signal, self.coordinator, values), days_ago)
        weighing = weighing_of(signal)
        weighing.decided_at = signal.decided_at = self.moment(days_ago, 14)
        return db.session.get(Case, weighing.case_id) if weighing.case_id else None

    def confirm(self, proposal: Proposal, days_ago: int) -> None:
        """A second member of the table confirms the coordinator's proposal (the information
        officer where police information is involved)."""
        confirmer = next(
            (db.session.get(Membership, member_id) for member_id in self.participants
             if confirm_faults(proposal, db.session.get(Membership, member_id)) is None),
            None,
        )
        confirm(proposal, confirmer)
        proposal.proposed_at = self.moment(days_ago, 11)
        proposal.decided_at = self.moment(days_ago, 14)

    def open_case(self, story: Story, signal: Signal, days_ago: int, *, extra_team=()) -> Case:
        team = [self.partner.id, *(member.id for member in extra_team)]
        case = self.weigh(signal, days_ago, WeighingDecision.OPEN_CASE, FlagLevel.RED, story,
                          target_group=story.target_group, follow_up_kind=story.follow_up_kind,
                          approached_for_other_problem=story.approached_for_other_problem, team_ids=team)
        opened = self.moment(days_ago, 14)
        case.opened_at = case.updated_at = opened
        for member in db.session.scalars(sa.select(CaseTeamMember).where(CaseTeamMember.case_id == case.id)):
            member.added_at = opened
        case.next_review_on = opened.date() + timedelta(days=self.interval)
        for review in self.pending_reviews(case):
            review.due_on, review.created_at = case.next_review_on, opened
        return case

    def follow(self, case: Case, story: Story, days_ago: int, *, done_days_ago: int | None = None) -> None:
        """The plan: measures agreed ``days_ago``, those done finished ``done_days_ago``."""

        for key, description, due_in, status in story.measures:
            due_on = self.today + timedelta(days=due_in) if due_in is not None else None
            measure = add_measure(case, self.coordinator, {
                "organisation_id": self.organisation(key).id, "description": description, "due_on": due_on,
                "status": MeasureStatus.PLANNED if status == MeasureStatus.DONE else status,
                "category": DEMO_CATEGORIES.get(key, MeasureCategory.GUIDANCE),
            })
            measure.created_at = measure.updated_at = self.moment(days_ago, 15)
            if status == MeasureStatus.DONE:
                change_measure(case, measure, self.coordinator, {"status": MeasureStatus.DONE})
                measure.updated_at = self.moment(done_days_ago or days_ago // 2, 11)

    def write_notes(self, case: Case, story: Story, days_ago: int) -> None:
        for index, (role, visibility, body) in enumerate(story.notes):
            author = self.members.get(role, self.coordinator)
            note = add_note(case, author, {"visibility": visibility, "body": body})
            note.created_at = self.moment(days_ago - 10 * index, 16)

    def pending_reviews(self, case: Case) -> list[Review]:
        return list(db.session.scalars(
            sa.select(Review).where(Review.case_id == case.id, Review.held_on.is_(None)).order_by(Review.due_on, Review.id)
        ))

    def hold(self, case: Case, review: Review, held_on: date, outcome: ReviewOutcome, summary: str) -> None:
        hold_review(case, review, self.coordinator, {"outcome": outcome, "summary": summary})
        review.held_on = held_on

    def hold_reviews(self, case: Case, story: Story, days_ago: tuple[int, ...], *, last_closes: bool = False) -> None:
        """Follow-up reviews held on those days; the next one planned an interval later."""
        for index, (held, summary) in enumerate(zip(days_ago, story.reviews, strict=False)):
            closing = last_closes and index == len(days_ago) - 1
            outcome = ReviewOutcome.PROPOSE_CLOSURE if closing else ReviewOutcome.CONTINUE
            self.hold(case, self.pending_reviews(case)[0], self.day(held), outcome, summary)
            if not closing:
                case.next_review_on = self.day(held) + timedelta(days=self.interval)
                for review in self.pending_reviews(case):
                    review.due_on, review.created_at = case.next_review_on, self.moment(held, 17)

    def close(self, case: Case, story: Story, days_ago: int) -> None:
        self.confirm(close_case(case, self.coordinator, {"reason": ClosureReason.GOALS_REACHED, "note": story.closure_note}),
                     days_ago)
        closed = self.moment(days_ago, 15)
        case.closed_at = case.updated_at = closed
        for measure in db.session.scalars(sa.select(Measure).where(Measure.case_id == case.id)):
            if measure.status == MeasureStatus.CANCELLED:
                measure.updated_at = closed
        months = sorted(case_settings().months_after_closure)
        after = [review for review in self.pending_reviews(case) if review.kind == ReviewKind.AFTER_CLOSURE]
        for review, month in zip(after, months, strict=False):
            review.due_on, review.created_at = add_months(closed.date(), month), closed
        db.session.flush()
        case.erase_after = erase_after(case)

    def organisation(self, key: str) -> Organisation:
        name, kind = ORGANISATIONS[key]
        organisation = db.session.scalar(sa.select(Organisation).where(Organisation.name == name))
        if organisation is None:
            organisation = Organisation(name=name, kind=kind)
            db.session.add(organisation)
            db.session.flush()
        return organisation




def demo_email(tenant_slug: str, role: Role, variant: str | None = None) -> str:
    """A demo member's address: by role and cell (``mayor.herko@...``); a second member of the
    same role is told apart by ``variant`` (``mayor-kortenberg.herko@...``)."""
    who = role.value.replace("_", "-") + (f"-{variant}" if variant else "")
    return f"{who}.{tenant_slug.removeprefix('demo-')}@{DEMO_DOMAIN}"
