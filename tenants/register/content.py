"""The cell's record of processing (GDPR art. 30) and a starting point for its data protection
impact assessment (art. 35), made from the cell's configuration when asked (issue 18, part 7).

Nothing here is stored: the record is read from what the cell set up (its municipalities, the
house rules in force with their legal basis and identity setting, its organisations at the
table, its case settings' retention periods) and from how the platform works (encryption, blind
indexes, MFA, the audit trail, row-level security, the operators' separation, the federation's
tokens). Change the configuration and the record changes with it. Every text is in the reader's
language; the page, its print version and the PDF (:mod:`livc.tenants.register.pdf`) show the
same :class:`Record`. It names no case and no person concerned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from flask_babel import format_date
from flask_babel import lazy_gettext as _l

from livc.platform import registry
from livc.platform.db import current_tenant_id, db
from livc.platform.roles import ORGANISATION_KIND_LABELS
from livc.platform.tenancy import Tenant, TenantKind
from livc.platform.timeutil import utcnow
from livc.tenants.cell.models import CellProfile
from livc.tenants.house_rules.models import LegalBasis
from livc.tenants.house_rules.operations import rules_in_force
from livc.tenants.members.operations import organisation_list
from livc.tenants.signals.operations import case_settings

TITLE = _l("Record of processing and DPIA starting point")
INTRO = _l(
    "Made on %(date)s from the configuration of %(cell)s, for the data protection officer of the "
    "municipality (GDPR, articles 30 and 35). It changes with the configuration: print it again after "
    "a change of the house rules, the organisations at the table or the retention periods."
)
NOT_SET = _l("Not set yet.")


@dataclass(frozen=True)
class Entry:
    """One line of the record: what it is about, and what the configuration says."""

    label: str
    text: str


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    entries: list[Entry] = field(default_factory=list)


@dataclass(frozen=True)
class Record:
    cell: str
    title: str
    intro: str
    made_on: date
    record: list[Section]  # article 30
    dpia: list[Section]  # article 35, a starting point
    identities_kept: bool
    house_rules_version: int | None


def _join(items: list[str]) -> str:
    return "; ".join(items) if items else str(NOT_SET)


def _months(months: int) -> str:
    return str(_l("%(months)s months", months=months))


def _controller(tenant: Tenant) -> Section:
    municipalities = [registry.name_of(code) or code for code in tenant.nis_codes]
    several = len(municipalities) > 1 or tenant.kind != TenantKind.MUNICIPALITY
    profile = db.session.scalar(sa.select(CellProfile))
    official = profile.appointed_official if profile is not None else None
    controller = (_l("The municipalities of %(names)s, jointly, each represented by its mayor", names=", ".join(municipalities))
                  if several else
                  _l("The municipality of %(names)s, represented by its mayor", names=", ".join(municipalities)))
    return Section("controller", str(_l("1. Controller")), [
        Entry(str(_l("Controller")), str(controller)),
        Entry(str(_l("Processing")), str(_l(
            "The local integrated security cell on radicalism, extremism and terrorism (LIVC-R) %(cell)s",
            cell=tenant.name))),
        Entry(str(_l("Contact for the processing")), str(_l(
            "The official appointed by the mayor: %(name)s", name=official.account.label))
            if official is not None else str(NOT_SET)),
        Entry(str(_l("Data protection officer")), str(_l("The data protection officer of the municipality."))),
    ])


def _purposes(rules) -> Section:
    if rules is None:
        basis = str(_l("No house rules are in force yet: no legal basis is recorded."))
    elif rules.legal_basis == LegalBasis.PROSECUTOR_CONSENT:
        basis = str(_l("The consent of the public prosecutor (reference %(reference)s, %(date)s), article 458ter of the "
                       "Criminal Code; house rules version %(version)s.", reference=rules.consent_reference or "—",
                       date=format_date(rules.consent_date, "long") if rules.consent_date else "—",
                       version=rules.version))
    else:
        basis = str(_l("The law of 30 July 2018 on the local integrated security cells, with article 458ter of the "
                       "Criminal Code; house rules version %(version)s.", version=rules.version))
    return Section("purposes", str(_l("2. Purposes and legal basis")), [
        Entry(str(_l("Purpose")), str(_l(
            "Preventing terrorist offences and violent radicalisation by a multidisciplinary, individual "
            "follow-up of people in a process of radicalisation (law of 30 July 2018): weighing the signals "
            "partners bring, following cases with a plan of social, preventive and care measures, reviewing "
            "them after closure. Information is used for this purpose only (house rules, information "
            "management)."))),
        Entry(str(_l("Legal basis")), basis),
        Entry(str(_l("Also")), str(_l(
            "The cell's own anonymous figures for its municipal council (counts only), and, where the cell "
            "agreed to a link, match alerts with neighbouring cells."))),
    ])


def _identity_text(kept: bool, version: int | None) -> str:
    if kept:
        return str(_l("Kept, each field encrypted under the record's own key; shown only on a member's deliberate "
                      "request, each time audited."))
    return str(_l("Not kept (house rules version %(version)s): entered once, turned into keyed look-up indexes "
                  "and the federation's tokens, never stored; the case is known by its code only.", version=version))


def _categories(kept: bool, version: int | None) -> list[Section]:
    subjects = Section("subjects", str(_l("3. Categories of data subjects")), [
        Entry(str(_l("People concerned")), str(_l(
            "People about whom a partner brought a signal or whom the cell follows in a case, minors "
            "included."))),
        Entry(str(_l("Reporters")), str(_l("The professionals (or, by phone, citizens) who report a signal: their "
                                           "contact details."))),
        Entry(str(_l("Members")), str(_l("The members of the cell and their organisations: name, e-mail address, "
                                         "role, sign-in and audit trail."))),
    ])
    data = Section("data", str(_l("4. Categories of personal data")), [
        Entry(str(_l("Identity of the people concerned")), _identity_text(kept, version)),
        Entry(str(_l("Signals and cases")), str(_l(
            "Observations of behaviour, the partner's assessment, the cell's weighing (flag, observed "
            "facts), the target group, the follow-up plan's measures, progress notes, reviews."))),
        Entry(str(_l("Police information")), str(_l(
            "Information of the Local Task Force and the feedback forms to it: read by the coordinator and "
            "the cleared information officer only."))),
        Entry(str(_l("Special categories and offences")), str(_l(
            "The information may reveal religious or philosophical beliefs or political opinions, concern "
            "health (care measures) or criminal offences and suspicions (GDPR articles 9 and 10)."))),
    ])
    return [subjects, data]


def _recipients() -> Section:
    partners = [f"{organisation.name} ({ORGANISATION_KIND_LABELS[organisation.kind]})"
                for organisation in organisation_list()]
    return Section("recipients", str(_l("5. Recipients")), [
        Entry(str(_l("Partner organisations at the table")), _join(partners)),
        Entry(str(_l("Within the cell")), str(_l(
            "Each case only to its case team (need to know) and the coordinator; the information each partner "
            "brings is registered only with that partner's consent."))),
        Entry(str(_l("Local Task Force")), str(_l(
            "Through the information officer only: the feedback form on a case, as the cell decided it."))),
        Entry(str(_l("Neighbouring cells")), str(_l(
            "Only cells the cell agreed to link with, and only match alerts: that a person may be known to both, "
            "in words, never an identity; contact once both coordinators confirm."))),
        Entry(str(_l("Processors")), str(_l(
            "The platform's operator (hosting; no access to case content) and the key custodian of the "
            "federation (sees blinded values only). No transfer outside the European Union."))),
    ])


def _retention(settings) -> Section:
    reviews = ", ".join(str(month) for month in settings.months_after_closure) if settings.reviews_after_closure else ""
    return Section("retention", str(_l("6. Retention periods")), [
        Entry(str(_l("Signals that did not become a case")), str(_l(
            "Erased %(period)s after the cell's decision on them.", period=_months(settings.retention_months_signals)))),
        Entry(str(_l("Closed cases")), str(_l(
            "Erased %(period)s after closure, with their identity, notes and measures.",
            period=_months(settings.retention_months_closed)))),
        Entry(str(_l("Reviews after closure")), str(_l("At %(months)s months after closure.", months=reviews))
              if reviews else str(_l("None."))),
        Entry(str(_l("Open cases")), str(_l("Reviewed every %(days)s days while open.",
                                            days=settings.review_interval_days))),
        Entry(str(_l("Erased records")), str(_l(
            "Only anonymous counts remain (the figures), and the audit trail's entries, which hold ids and "
            "versions, never content."))),
    ])


def _security(kept: bool) -> Section:
    return Section("security", str(_l("7. Security measures")), [
        Entry(str(_l("Encryption at rest")), str(_l(
            "Every piece of case content and every identity field encrypted under a key of its own record, "
            "derived from the cell's key; erasing a record destroys its key."))),
        Entry(str(_l("Look-up without names")), str(_l(
            "\"Is this person known here?\" through keyed blind indexes (per cell and per field), never a name "
            "in clear."))),
        Entry(str(_l("Identities")), _identity_text(kept, None) if kept else str(_l("Not kept at all."))),
        Entry(str(_l("Sign-in")), str(_l("Password and a second factor (authenticator code) for every member; the "
                                         "secrecy undertaking accepted before any case content."))),
        Entry(str(_l("Audit trail")), str(_l("Every read of case content, every showing of an identity and every "
                                             "refusal is recorded, with ids only."))),
        Entry(str(_l("Isolation")), str(_l("Each cell's data is isolated in the database by row-level security."))),
        Entry(str(_l("Operator separation")), str(_l(
            "The platform's operators work on a console of their own and cannot read a cell's content."))),
        Entry(str(_l("Federation")), str(_l(
            "Matching through an OPRF with a separate key custodian: tokens, never names; budgets against "
            "probing."))),
    ])


def _dpia(kept: bool, rules) -> list[Section]:
    why = Section("dpia-why", str(_l("A. Why an impact assessment")), [
        Entry(str(_l("Criteria met")), str(_l(
            "Sensitive data and data on offences; vulnerable people, minors among them; evaluation of "
            "behaviour; matching with other cells' data. A DPIA is required before the processing "
            "(article 35)."))),
    ])
    necessity = Section("dpia-necessity", str(_l("B. Necessity and proportionality")), [
        Entry(str(_l("Legal basis")), str(_l("Recorded in the house rules in force (version %(version)s).",
                                             version=rules.version)) if rules is not None else str(NOT_SET)),
        Entry(str(_l("Data minimisation")), _identity_text(kept, rules.version if rules is not None else None)),
        Entry(str(_l("Limited retention")), str(_l("See section 6: erasure is automatic, announced 60 days ahead."))),
        Entry(str(_l("Rights of the people concerned")), str(_l(
            "Rectification and erasure through the coordinator; access limited where the law of 30 July "
            "2018 and professional secrecy require it. To complete by the data protection officer."))),
    ])
    risks = Section("dpia-risks", str(_l("C. Risks and the measures in place")), [
        Entry(str(_l("Disclosure of who is followed (stigmatisation)")), str(_l(
            "Encryption per record, need to know, codes instead of names, audit trail, MFA."))),
        Entry(str(_l("Use for another purpose (police investigation)")), str(_l(
            "Police information kept apart; the partner's consent for every registration; the cell decides "
            "jointly when the judicial authorities are involved."))),
        Entry(str(_l("A wrong match between cells")), str(_l(
            "Alerts in words only; both coordinators confirm before any contact; a dismissed pair is never "
            "alerted again."))),
        Entry(str(_l("Inaccurate or outdated information")), str(_l(
            "Periodic reviews, rectification, automatic erasure."))),
    ])
    todo = Section("dpia-todo", str(_l("D. To complete")), [
        Entry(str(_l("Assessment")), str(_l(
            "Likelihood and severity of each risk, the residual risk, the data protection officer's opinion, "
            "the controller's decision and its date."))),
    ])
    return [why, necessity, risks, todo]


def record_of_processing(today: date | None = None) -> Record:
    """The record of the current cell, in the reader's language."""
    tenant = db.session.get(Tenant, current_tenant_id())
    rules = rules_in_force()
    kept = rules.identities_kept if rules is not None else True
    settings = case_settings()
    made_on = today or utcnow().date()
    return Record(
        cell=tenant.name,
        title=str(TITLE),
        intro=str(INTRO % {"date": format_date(made_on, "long"), "cell": tenant.name}),
        made_on=made_on,
        record=[_controller(tenant), _purposes(rules), *_categories(kept, rules.version if rules else None),
                _recipients(), _retention(settings), _security(kept)],
        dpia=_dpia(kept, rules),
        identities_kept=kept,
        house_rules_version=rules.version if rules is not None else None,
    )
