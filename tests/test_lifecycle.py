"""A tenant's lifecycle, as the operator and the municipality see it: suspension signs everyone
out and holds the cell's jobs until reactivation; offboarding exports everything for the
municipality's designated person (one download, under their own passphrase), crypto-shreds the
cell and proves in a report that nothing decryptable remains, while the other cells carry on.

SQLite and PostgreSQL (row-level security, the app role); inline jobs, and a real worker on
Redis where it matters.
"""

from __future__ import annotations

import email
import hashlib
import html
import io
import json
import re
from datetime import timedelta

import pytest
import pyzipper
import sqlalchemy as sa
from click.testing import CliRunner
from marshmallow import ValidationError
from test_case_privacy import ciphertexts_of, database_dump, full_case, leaks
from test_federation_core import AMRANI_H, AMRANI_L, alerts_of, link, open_person
from test_jobs import deployment  # noqa: F401  (the fixture: the app with Redis and real workers)

from auth_helpers import add_member, give_session, post_form, sign_in
from case_helpers import HERKO, IDENTITY, LEUVEN, Cell, membership, ready_cell
from livc.admin.lifecycle import export as lifecycle_export
from livc.admin.lifecycle import models as lifecycle_models
from livc.admin.lifecycle import operations as lifecycle
from livc.admin.lifecycle import verification
from livc.admin.operators.models import OperatorAuditEntry
from livc.federation import alerts
from livc.federation.models import FederationEnrolment, FederationLink, FederationToken, MatchAlert
from livc.platform.audit import AuditEntry
from livc.platform.db import db, tenant_context
from livc.platform.jobs import PausedJob, enqueue
from livc.platform.keys import DataKey, KeyDestroyed, decrypt
from livc.platform.roles import Role
from livc.platform.sessions import AuthSession
from livc.platform.tenancy import Tenant, TenantStatus
from livc.platform.timeutil import utcnow
from livc.tenants.cases.models import Case
from livc.tenants.members.models import Membership

RECIPIENT = "archief@leuven.example"
PASSPHRASE = "correct horse battery staple"
EN = {"Accept-Language": "en"}


@pytest.fixture
def two(app, cells) -> tuple[Cell, Cell]:
    return ready_cell(app, cells[LEUVEN], LEUVEN), ready_cell(app, cells[HERKO], HERKO)


def tenant(slug: str) -> Tenant:
    return db.session.scalar(sa.select(Tenant).where(Tenant.slug == slug))


def act(app, func, *args):
    """Run ``func(*args)`` as the CLI would (one transaction, committed); its result."""
    with app.app_context():
        result = func(*args)
        db.session.commit()
        db.session.remove()
    return result


def suspend(app, slug: str, reason: str = "Contract ended"):
    return act(app, lambda: lifecycle.suspend(tenant(slug), "operator:1", reason))


def reactivate(app, slug: str):
    return act(app, lambda: lifecycle.reactivate(tenant(slug), "operator:1"))


def offboard(app, slug: str, recipient: str = RECIPIENT):
    return act(app, lambda: lifecycle.start_offboarding(tenant(slug), "operator:1", recipient).id)


def progress(app, slug: str) -> dict:
    with app.app_context():
        state = lifecycle.progress(tenant(slug).id)
        db.session.remove()
    return state


def count(app, tenant_id: int, model) -> int:
    with app.app_context(), tenant_context(tenant_id):
        found = db.session.scalar(sa.select(sa.func.count()).select_from(model))
        db.session.remove()
    return found


def mails(app) -> list[email.message.Message]:
    folder = app.extensions["livc.settings"].data_dir / "mail"
    return [email.message_from_bytes(path.read_bytes()) for path in sorted(folder.glob("*.eml"))]


def export_mail(app) -> tuple[email.message.Message, str]:
    [mail] = [mail for mail in mails(app) if mail["To"] == RECIPIENT]
    body = mail.get_content() if hasattr(mail, "get_content") else mail.get_payload(decode=True).decode()
    return mail, body


def export_path(body: str) -> str:
    [path] = re.findall(r"https?://[^/\s]+(/admin/export/[A-Za-z0-9_-]+)", body)
    return path


def download(client, path: str, passphrase: str = PASSPHRASE, repeated: str | None = None):
    return post_form(client, path, {"passphrase": passphrase, "passphrase_repeated": repeated or passphrase},
                     headers=EN)


def opened(data: bytes, passphrase: str = PASSPHRASE) -> dict[str, bytes]:
    archive = pyzipper.AESZipFile(io.BytesIO(data))
    archive.setpassword(passphrase.encode())
    return {name: archive.read(name) for name in archive.namelist()}


def trail(app, tenant_id: int, action: str) -> list[AuditEntry]:
    with app.app_context(), tenant_context(tenant_id):
        entries = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)).all()
        db.session.expunge_all()
        db.session.remove()
    return entries


# --- suspend and reactivate ---------------------------------------------------------------------


def test_suspension_signs_everyone_out_and_refuses_sign_in_until_reactivation(app, two):
    leuven, herko = two
    client = app.test_client()
    give_session(app, client, leuven.coordinator)
    other = app.test_client()
    give_session(app, other, herko.coordinator)
    assert client.get(f"/{LEUVEN}/", headers=EN).status_code == 200

    assert suspend(app, LEUVEN, "Contract ended on 30 November") == 1
    assert count(app, leuven.tenant_id, AuthSession) == 0
    refused = client.get(f"/{LEUVEN}/", headers=EN)
    assert refused.status_code == 403 and "suspended" in refused.get_data(as_text=True)
    assert app.test_client().get(f"/{LEUVEN}/sign-in", headers=EN).status_code == 403
    # The data is kept; the other cell does not notice anything.
    assert count(app, leuven.tenant_id, Membership) == 6  # the five of the ready cell and its alderman
    assert other.get(f"/{HERKO}/", headers=EN).status_code == 200
    # The coordinator sees the operator's action and its reason in the cell's trail.
    [entry] = trail(app, leuven.tenant_id, "operator.tenant.suspended")
    assert entry.actor == "operator:1" and entry.details == {"reason": "Contract ended on 30 November", "sessions_ended": 1}

    with pytest.raises(ValidationError) as refusal:
        suspend(app, LEUVEN)
    assert refusal.value.messages == {"_schema": ["Only an active cell can be suspended."]}

    assert reactivate(app, LEUVEN) == 0
    sign_in(app.test_client(), leuven.coordinator)
    with pytest.raises(ValidationError) as refusal:
        reactivate(app, LEUVEN)
    assert refusal.value.messages == {"_schema": ["Only a suspended cell can be reactivated."]}


def test_a_suspension_needs_a_reason(app, two):
    for reason, message in (("  ", "Say why the cell is suspended."), ("x" * 501, "Keep the reason under 500 characters.")):
        with pytest.raises(ValidationError) as refusal:
            suspend(app, LEUVEN, reason)
        assert refusal.value.messages == {"reason": [message]}
    with app.app_context():
        assert tenant(LEUVEN).status == TenantStatus.ACTIVE


def test_a_suspended_cells_job_waits_and_runs_after_reactivation(app, two):
    import job_tasks

    leuven, herko = two
    suspend(app, LEUVEN)
    with app.app_context():
        outcome = enqueue(job_tasks.visit, "while-suspended", tenant_id=leuven.tenant_id)
        other = enqueue(job_tasks.visit, "neighbour", tenant_id=herko.tenant_id)
    assert outcome.succeeded is False and other.succeeded is True
    assert trail(app, leuven.tenant_id, "test.visited") == []
    with app.app_context():
        [paused] = db.session.scalars(sa.select(PausedJob)).all()
        assert (paused.tenant_id, paused.task, paused.args) == (leuven.tenant_id, "job_tasks.visit", ["while-suspended"])
        db.session.remove()

    assert reactivate(app, LEUVEN) == 1
    [entry] = trail(app, leuven.tenant_id, "test.visited")
    assert entry.subject == "note:while-suspended"
    with app.app_context():
        assert db.session.scalars(sa.select(PausedJob)).all() == []


# --- offboarding, end to end ----------------------------------------------------------------------


def test_offboarding_hands_the_data_over_once_and_leaves_nothing_decryptable(app, two):
    leuven, herko = two
    case_id, code = full_case(app, leuven)
    amrani_l, _ = open_person(app, leuven, AMRANI_L)
    amrani_h, code_h = open_person(app, herko, AMRANI_H)
    link(app, leuven, herko)
    [alert] = alerts_of(app, leuven)  # Leuven's case was enrolled first: it hears first
    with app.test_request_context(), tenant_context(leuven.tenant_id):
        alerts.acknowledge(leuven.tenant_id, alert.id, membership(leuven.coordinator))  # Herent-Kortenberg is told
        db.session.commit()
        db.session.remove()
    assert [seen.id for seen in alerts_of(app, herko)] == [alert.id]
    # Someone sits in both cells: their account stays; the others' accounts go with the cell.
    both = add_member(app, herko.tenant_id, HERKO, Role.PARTNER, leuven.partner.email)
    with app.app_context(), tenant_context(leuven.tenant_id):
        stored = ciphertexts_of(case_id) + ciphertexts_of(amrani_l)
        db.session.remove()
    herko_before = {model: count(app, herko.tenant_id, model) for model in (Case, Membership, DataKey, AuditEntry)}
    client = app.test_client()
    give_session(app, client, leuven.coordinator)

    offboard(app, LEUVEN)  # inline jobs: every step runs as soon as the one before commits

    state = progress(app, LEUVEN)
    assert state["state"] == "done"
    assert [(step["name"], step["state"]) for step in state["steps"]] == [
        ("suspend", "done"), ("export", "done"), ("shred", "done"), ("verify", "done")]
    assert state["steps"][0]["counts"] == {"sessions_ended": 1, "was_active": True}
    assert state["report"]["passed"] is True
    assert all(check["passed"] for check in state["report"]["checks"])
    assert set(state["report"]["counts"].values()) == {0}
    assert state["export"]["state"] == "pending" and state["export"]["recipient"] == RECIPIENT

    # The mail names the cell and carries the link, nothing of the cases.
    mail, body = export_mail(app)
    assert "Demo" in mail["Subject"] or "Leuven" in mail["Subject"]
    assert leaks(body) == [] and code not in body
    path = export_path(body)

    # The designated person downloads it once, under a passphrase of their own.
    municipality = app.test_client()
    page = municipality.get(path, headers=EN)
    assert page.status_code == 200 and "passphrase" in page.get_data(as_text=True)
    short = download(municipality, path, "too short")
    assert short.status_code == 422 and "at least 12 characters" in short.get_data(as_text=True)
    differ = download(municipality, path, PASSPHRASE, PASSPHRASE + "!")
    assert differ.status_code == 422 and "The two passphrases differ" in differ.get_data(as_text=True)
    got = download(municipality, path)
    assert got.status_code == 200 and got.mimetype == "application/zip"
    files = opened(got.data)
    with pytest.raises(RuntimeError):
        opened(got.data, "not the passphrase")
    again = municipality.get(path, headers=EN)
    assert again.status_code == 410 and "works once only" in again.get_data(as_text=True)
    assert progress(app, LEUVEN)["export"]["state"] == "downloaded"

    # The export: a manifest that vouches for every file, and the cell's data in clear.
    manifest = json.loads(files["manifest.json"])
    assert manifest["format"] == "livc-tenant-export" and manifest["version"] == "1"
    assert {entry["name"] for entry in manifest["files"]} == set(files) - {"manifest.json"}
    for entry in manifest["files"]:
        assert hashlib.sha256(files[entry["name"]]).hexdigest() == entry["sha256"]
        assert len(json.loads(files[entry["name"]]).get("rows", [None])) == entry["rows"] or entry["name"] in (
            "organisation.json", "members.json")
    identities = json.loads(files["tables/identities.json"])["rows"]
    assert {row["family_name"] for row in identities} >= {IDENTITY["family_name"], AMRANI_L["family_name"]}
    assert any(row["national_number"] == IDENTITY["national_number"] for row in identities)
    assert not any(key.endswith(("_ciphertext", "_index")) for row in identities for key in row)
    cases = json.loads(files["tables/cases.json"])["rows"]
    assert code in {row["code"] for row in cases}
    assert "Weekly talk with the counsellor" in files["tables/measures.json"].decode()
    members = json.loads(files["members.json"])["members"]
    assert leuven.coordinator.email in {member["email"] for member in members}
    assert json.loads(files["organisation.json"])["slug"] == LEUVEN
    assert "tables/data_keys.json" not in files and "tables/auth_sessions.json" not in files
    assert len(json.loads(files["tables/audit_entries.json"])["rows"]) > 10
    assert code_h.encode() not in b"".join(files.values())  # nothing of the other cell

    # Nothing of the cell is left, and what was encrypted cannot be read any more.
    with app.app_context():
        gone = tenant(LEUVEN)
        assert gone.status == TenantStatus.OFFBOARDED  # a tombstone: the address stays reserved
        with tenant_context(leuven.tenant_id):
            for table, columns in verification.tenant_tables():
                left = db.session.scalar(sa.select(sa.func.count()).select_from(table).where(
                    sa.or_(*(column == leuven.tenant_id for column in columns))))
                if table.name == "data_keys":
                    assert left > 0 and db.session.scalar(sa.select(sa.func.count()).select_from(table).where(
                        table.c.tenant_id == leuven.tenant_id, table.c.wrapped_key.is_not(None))) == 0
                else:
                    assert left == 0, table.name
            for _table, token, scope in stored:
                with pytest.raises(KeyDestroyed):
                    decrypt(token, scope)
        db.session.remove()
    assert client.get(f"/{LEUVEN}/", headers=EN).status_code == 404

    # The other cell: its alert withdrawn and gone, its link ended, its own data untouched.
    assert alerts_of(app, herko) == []
    assert [e.subject for e in trail(app, herko.tenant_id, "federation.alert_withdrawn")] == [f"alert:{alert.id}"]
    assert len(trail(app, herko.tenant_id, "federation.link_ended")) == 1
    with app.app_context():
        assert db.session.scalars(sa.select(FederationLink)).all() == []
        assert db.session.scalars(sa.select(MatchAlert)).all() == []
        assert {e.tenant_id for e in db.session.scalars(sa.select(FederationEnrolment))} <= {herko.tenant_id}
        assert {t.tenant_id for t in db.session.scalars(sa.select(FederationToken))} <= {herko.tenant_id}
        from livc.platform.accounts import Account

        assert db.session.get(Account, leuven.coordinator.account_id) is None
        assert db.session.get(Account, both.account_id) is not None
        db.session.remove()
    for model, before in herko_before.items():
        after = count(app, herko.tenant_id, model)
        assert after >= before if model is AuditEntry else after == before, model
    neighbour = app.test_client()
    give_session(app, neighbour, herko.coordinator)
    assert neighbour.get(f"/{HERKO}/", headers=EN).status_code == 200

    # Offboarding twice is refused, and so is reactivating.
    with pytest.raises(ValidationError) as refusal:
        offboard(app, LEUVEN)
    assert refusal.value.messages == {"_schema": ["This cell is already being offboarded or was offboarded."]}
    with pytest.raises(ValidationError):
        reactivate(app, LEUVEN)


# --- a failed step, resumed ------------------------------------------------------------------------


def test_a_failed_step_leaves_nothing_half_done_and_resumes_to_the_end(app, two, monkeypatch):
    leuven, _herko = two
    case_id, code = full_case(app, leuven)
    real_export = lifecycle.STEP_WORK["export"]

    def export_then_fail(run, tenant):
        real_export(run, tenant)  # everything written, then the step breaks: all of it rolls back
        raise OSError("disk full")

    monkeypatch.setitem(lifecycle.STEP_WORK, "export", export_then_fail)
    offboard(app, LEUVEN)

    state = progress(app, LEUVEN)
    assert state["state"] == "failed" and state["resumable"] is True
    steps = {step["name"]: step for step in state["steps"]}
    assert (steps["suspend"]["state"], steps["export"]["state"], steps["shred"]["state"]) == ("done", "failed", "pending")
    assert steps["export"]["error"] == "OSError" and steps["export"]["attempts"] == 1
    assert state["export"] is None and state["report"] is None
    assert [mail for mail in mails(app) if mail["To"] == RECIPIENT] == []  # no link to an export that is not there
    with app.app_context():
        assert tenant(LEUVEN).status == TenantStatus.SUSPENDED
        with tenant_context(leuven.tenant_id):
            assert db.session.get(Case, case_id).goal  # still readable: nothing shredded
        db.session.remove()
    # Resuming while nothing failed is refused; a failed one resumes from the failed step.
    with pytest.raises(ValidationError) as refusal:
        act(app, lambda: lifecycle.resume_offboarding(tenant(HERKO), "operator:1"))
    assert refusal.value.messages == {"_schema": ["This cell is not being offboarded."]}

    monkeypatch.setitem(lifecycle.STEP_WORK, "export", real_export)
    act(app, lambda: lifecycle.resume_offboarding(tenant(LEUVEN), "operator:1"))

    state = progress(app, LEUVEN)
    assert state["state"] == "done" and state["report"]["passed"] is True
    assert [(step["name"], step["attempts"]) for step in state["steps"]] == [
        ("suspend", 1), ("export", 2), ("shred", 1), ("verify", 1)]
    assert len([mail for mail in mails(app) if mail["To"] == RECIPIENT]) == 1
    with pytest.raises(ValidationError) as refusal:
        act(app, lambda: lifecycle.resume_offboarding(tenant(LEUVEN), "operator:1"))
    assert refusal.value.messages == {"_schema": ["This offboarding has finished."]}


def test_a_verification_that_finds_something_fails_the_run_and_resuming_shreds_again(app, two, monkeypatch):
    from livc.platform.roles import OrganisationKind
    from livc.tenants.members.models import Organisation

    leuven, _herko = two
    real_shred = lifecycle.STEP_WORK["shred"]

    def shred_but_leave_a_row(run, tenant):
        counts = real_shred(run, tenant)
        with tenant_context(tenant.id):  # say, a late write that slipped in
            db.session.add(Organisation(name="Left behind", kind=OrganisationKind.OTHER))
            db.session.flush()
        return counts

    monkeypatch.setitem(lifecycle.STEP_WORK, "shred", shred_but_leave_a_row)
    offboard(app, LEUVEN)

    state = progress(app, LEUVEN)
    assert state["state"] == "failed" and state["steps"][3]["error"].endswith("VerificationFailed")
    assert state["report"]["passed"] is False
    assert [check for check in state["report"]["checks"] if not check["passed"]] == [
        {"check": "no_tenant_rows", "passed": False, "found": 1, "tables": ["organisations"]}]

    monkeypatch.setitem(lifecycle.STEP_WORK, "shred", real_shred)
    act(app, lambda: lifecycle.resume_offboarding(tenant(LEUVEN), "operator:1"))
    state = progress(app, LEUVEN)
    assert state["state"] == "done" and state["report"]["passed"] is True
    assert [(step["name"], step["attempts"]) for step in state["steps"]] == [
        ("suspend", 1), ("export", 1), ("shred", 2), ("verify", 2)]
    assert count(app, leuven.tenant_id, Organisation) == 0


# --- what is left, and for how long ------------------------------------------------------------------


def test_after_offboarding_a_database_dump_holds_nothing_of_the_cell(app, two):
    leuven, herko = two
    _, code = full_case(app, leuven)
    before = database_dump(app)
    assert code in before and leuven.coordinator.email in before  # kept in clear while the cell is here

    offboard(app, LEUVEN)
    assert progress(app, LEUVEN)["export"]["state"] == "pending"  # its encrypted file is in the dump too

    dump = database_dump(app)
    assert leaks(dump) == []
    for kept_in_clear in (code, leuven.coordinator.email, leuven.partner.email, leuven.mayor.email):
        assert kept_in_clear not in dump
    assert herko.coordinator.email in dump  # the dump is the real thing


def test_an_unused_link_expires_and_its_file_is_deleted(app, two):
    offboard(app, LEUVEN)
    path = export_path(export_mail(app)[1])
    with app.app_context():
        export = db.session.scalar(sa.select(lifecycle_models.TenantExport))
        export.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
        db.session.remove()

    refused = app.test_client().get(path, headers=EN)
    assert refused.status_code == 410 and "expired" in refused.get_data(as_text=True)
    with app.app_context():
        assert lifecycle_export.expire_exports() == 1
        db.session.commit()
        export = db.session.scalar(sa.select(lifecycle_models.TenantExport))
        assert export.deleted_because == "expired" and export.wrapped_key is None
        assert db.session.scalars(sa.select(lifecycle_models.TenantExportFile)).all() == []
        assert lifecycle_export.expire_exports() == 0
        db.session.remove()
    assert app.test_client().get("/admin/export/" + "x" * 43, headers=EN).status_code == 404


# --- the commands ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_the_commands(app, two):
    from livc.app.cli import cli

    settings = app.extensions["livc.settings"]
    env = {"LIVC_ENV": "test", "LIVC_DATA_DIR": str(settings.data_dir), "LIVC_SECRET_KEY": settings.secret_key}

    def livc(*args):
        return CliRunner().invoke(cli, ["tenant", *args], env=env)

    for args, message in (
        (["suspend", "nowhere", "--reason", "x"], "There is no cell at this address."),
        (["suspend", LEUVEN, "--reason", " "], "Say why the cell is suspended."),
        (["reactivate", LEUVEN], "Only a suspended cell can be reactivated."),
        (["offboard", LEUVEN, "--recipient", "not an address"], "Give the e-mail address of the municipality's designated person."),
        (["offboarding", LEUVEN], "This cell is not being offboarded."),
        (["offboarding-resume", LEUVEN], "This cell is not being offboarded."),
    ):
        result = livc(*args)
        assert result.exit_code == 1 and result.output.strip() == f"Error: {message}", args
    assert livc("suspend", LEUVEN).exit_code == 2  # --reason is required

    assert livc("suspend", LEUVEN, "--reason", "Contract ended").output == f"{LEUVEN}: suspended, 0 session(s) ended\n"
    assert livc("reactivate", LEUVEN).output == f"{LEUVEN}: active again, 0 paused job(s) resumed\n"

    done = livc("offboard", LEUVEN, "--recipient", RECIPIENT)
    assert done.exit_code == 0, done.output
    assert "offboarding of demo-leuven: done" in done.output
    shown = livc("offboarding", LEUVEN).output
    for line in ("suspend  done", "export   done", "shred    done", "verify   done", "verification: passed",
                 f"export: pending, for {RECIPIENT}", "ok   no_tenant_rows", "ok   keys_destroyed"):
        assert line in shown, line
    again = livc("offboard", LEUVEN, "--recipient", RECIPIENT)
    assert again.exit_code == 1 and "already being offboarded or was offboarded" in again.output
    assert livc("offboarding-resume", LEUVEN).output.strip() == "Error: This offboarding has finished."


# --- with Redis and a real worker -----------------------------------------------------------------------


@pytest.mark.redis
def test_on_a_worker_a_suspended_cells_job_is_kept_not_failed_and_runs_after_reactivation(deployment, two):
    import job_tasks
    from rq.job import JobStatus

    leuven, _herko = two
    suspend(deployment.app, LEUVEN)
    with deployment.app.app_context():
        queued = enqueue(job_tasks.visit, "kept", tenant_id=leuven.tenant_id)
    deployment.work()
    job = deployment.job(queued.job_id)
    assert job.get_status() == JobStatus.FINISHED  # not failed, so neither retried nor in the failed registry
    assert deployment.queue("default").failed_job_registry.get_job_ids() == []
    assert deployment.queue("default").scheduled_job_registry.get_job_ids() == []
    assert trail(deployment.app, leuven.tenant_id, "test.visited") == []

    assert reactivate(deployment.app, LEUVEN) == 1
    assert deployment.queue("default").count == 1
    deployment.work()
    [entry] = trail(deployment.app, leuven.tenant_id, "test.visited")
    assert entry.subject == "note:kept"


@pytest.mark.redis
def test_on_a_worker_each_step_is_a_job_of_its_own_and_the_offboarding_completes(deployment, two):
    leuven, herko = two
    herko_members = count(deployment.app, herko.tenant_id, Membership)
    full_case(deployment.app, leuven)
    offboard(deployment.app, LEUVEN)
    maintenance = deployment.queue("maintenance")
    assert maintenance.count == 1  # the first step, handed over on commit
    assert [step["state"] for step in progress(deployment.app, LEUVEN)["steps"]] == ["pending"] * 4

    deployment.work()

    state = progress(deployment.app, LEUVEN)
    assert state["state"] == "done" and state["report"]["passed"] is True
    assert maintenance.finished_job_registry.count == 4  # suspend, export, shred, verify
    assert maintenance.failed_job_registry.get_job_ids() == []
    deployment.work()  # the export's mail, on its own queue
    _mail, body = export_mail(deployment.app)
    got = download(deployment.app.test_client(), export_path(body))
    assert IDENTITY["family_name"] in opened(got.data)["tables/identities.json"].decode()
    assert count(deployment.app, herko.tenant_id, Membership) == herko_members  # the other cell untouched


# --- the console -------------------------------------------------------------------------------------------


def test_the_console_pages_suspend_reactivate_offboard_and_show_the_report(app, two):
    from admin_helpers import add_operator, give_operator_session
    from livc.admin.operators.models import OperatorRole

    administrator = app.test_client()
    give_operator_session(app, administrator, add_operator(app, OperatorRole.ADMINISTRATOR))
    page = f"/admin/tenants/{LEUVEN}/lifecycle"
    assert f'href="{page}"' in administrator.get(f"/admin/tenants/{LEUVEN}", headers=EN).get_data(as_text=True)

    refused = post_form(administrator, f"/admin/tenants/{LEUVEN}/suspend", {"reason": ""}, form_path=page, headers=EN)
    assert refused.status_code == 422 and "Say why the cell is suspended." in refused.get_data(as_text=True)
    done = post_form(administrator, f"/admin/tenants/{LEUVEN}/suspend", {"reason": "Invoice unpaid"}, form_path=page)
    assert done.status_code == 303 and done.headers["Location"] == page
    shown = administrator.get(page, headers=EN).get_data(as_text=True)
    assert 'data-status="suspended"' in shown and "Reactivate the cell" in shown
    assert post_form(administrator, f"/admin/tenants/{LEUVEN}/reactivate", {}, form_path=page).status_code == 303

    wrong = post_form(administrator, f"/admin/tenants/{LEUVEN}/offboard",
                      {"recipient": RECIPIENT, "confirm_slug": "demo-leuve"}, form_path=page, headers=EN)
    text = html.unescape(wrong.get_data(as_text=True))
    assert wrong.status_code == 422 and "Type the cell's address exactly, to confirm." in text
    assert f'value="{RECIPIENT}"' in text  # what was typed stays
    bad = post_form(administrator, f"/admin/tenants/{LEUVEN}/offboard",
                    {"recipient": "archief", "confirm_slug": LEUVEN}, form_path=page, headers=EN)
    assert bad.status_code == 422 and "municipality's designated person" in html.unescape(bad.get_data(as_text=True))
    started = post_form(administrator, f"/admin/tenants/{LEUVEN}/offboard",
                        {"recipient": RECIPIENT, "confirm_slug": LEUVEN}, form_path=page)
    assert started.status_code == 303

    report = administrator.get(page, headers=EN).get_data(as_text=True)
    assert 'data-offboarding="done"' in report and 'data-report="passed"' in report
    assert report.count('data-passed="yes"') == 7 and 'data-passed="no"' not in report
    assert 'data-export="pending"' in report and RECIPIENT in report
    assert f'action="/admin/tenants/{LEUVEN}/offboard"' not in report and f'action="/admin/tenants/{LEUVEN}/suspend"' not in report
    # The support role sees the progress, not the buttons.
    support = app.test_client()
    give_operator_session(app, support, add_operator(app, OperatorRole.SUPPORT))
    seen = support.get(page, headers=EN)
    assert seen.status_code == 200 and 'data-report="passed"' in seen.get_data(as_text=True)
    with app.app_context():
        actions = [entry.action for entry in db.session.scalars(sa.select(OperatorAuditEntry))]
        db.session.remove()
    for action in ("tenant.suspended", "tenant.reactivated", "tenant.offboarding_started", "tenant.exported",
                   "tenant.shredded", "tenant.verified", "tenant.offboarded"):
        assert action in actions, action


def test_the_json_api_runs_the_same_actions_with_field_level_answers(app, two):
    from admin_helpers import add_operator, give_operator_session, operator_csrf
    from livc.admin.operators.models import OperatorRole

    client = app.test_client()
    give_operator_session(app, client, add_operator(app, OperatorRole.ADMINISTRATOR))
    headers = {"X-CSRFToken": operator_csrf(client), **EN}
    base = f"/admin/api/tenants/{LEUVEN}"

    missing = client.post(f"{base}/suspend", json={}, headers=headers)
    assert missing.status_code == 422 and list(missing.get_json()["error"]["fields"]) == ["reason"]
    blank = client.post(f"{base}/suspend", json={"reason": " "}, headers=headers)
    assert blank.get_json()["error"]["fields"] == {"reason": ["Say why the cell is suspended."]}
    suspended = client.post(f"{base}/suspend", json={"reason": "Invoice unpaid"}, headers=headers)
    assert suspended.status_code == 200 and suspended.get_json() == {
        "tenant": {"slug": LEUVEN, "status": "suspended"}, "offboarding": None}
    assert client.post(f"{base}/reactivate", json={}, headers=headers).get_json()["tenant"]["status"] == "active"

    bad = client.post(f"{base}/offboard", json={"recipient": "nobody"}, headers=headers)
    assert bad.get_json()["error"]["fields"] == {"recipient": ["Give the e-mail address of the municipality's designated person."]}
    started = client.post(f"{base}/offboard", json={"recipient": RECIPIENT}, headers=headers).get_json()
    # Answered when the run is written; its steps run as jobs once the request commits.
    assert started["offboarding"]["state"] == "running"
    assert [step["state"] for step in started["offboarding"]["steps"]] == ["pending"] * 4
    shown = client.get(f"{base}/offboarding", headers=EN).get_json()["offboarding"]
    assert [step["state"] for step in shown["steps"]] == ["done"] * 4
    assert shown["report"]["passed"] is True and shown["export"]["state"] == "pending"
    token = export_path(export_mail(app)[1]).rsplit("/", 1)[1]
    assert token not in json.dumps(shown)  # the link is the designated person's alone
    twice = client.post(f"{base}/offboard", json={"recipient": RECIPIENT}, headers=headers)
    assert twice.status_code == 422 and twice.get_json()["error"]["fields"] == {
        "_schema": ["This cell is already being offboarded or was offboarded."]}


@pytest.mark.parametrize("app", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_the_app_role_can_remove_only_a_shredded_cells_audit_trail(app, two):
    leuven, _herko = two
    purge = sa.text("SELECT livc_purge_offboarded_audit(:tenant)")
    with app.app_context():
        tenant(LEUVEN).status = TenantStatus.OFFBOARDED  # marked, but its keys are still there
        db.session.flush()
        with tenant_context(leuven.tenant_id):
            from livc.platform.keys import data_key

            data_key()
            with pytest.raises(sa.exc.ProgrammingError, match="crypto-shredded"):
                db.session.execute(purge, {"tenant": leuven.tenant_id})
        db.session.rollback()
        db.session.remove()
    assert count(app, leuven.tenant_id, AuditEntry) > 0  # the trail is intact


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_guessing_export_links_is_rate_limited_like_every_credential(app, cells):
    from livc.tenants.access import SIGN_IN_ATTEMPTS_PER_MINUTE

    guesser = app.test_client()
    answers = [guesser.get(f"/admin/export/{'a' * 42}{n % 10}", headers=EN).status_code
               for n in range(SIGN_IN_ATTEMPTS_PER_MINUTE + 1)]
    assert answers == [404] * SIGN_IN_ATTEMPTS_PER_MINUTE + [429]


def test_a_suspended_cells_alert_mail_waits_until_it_is_reactivated(app, two):
    from livc.federation.enrolment import sweep_enrolments

    leuven, herko = two
    open_person(app, herko, AMRANI_H)
    link(app, leuven, herko)
    suspend(app, HERKO)

    open_person(app, leuven, AMRANI_L)  # matches Herent-Kortenberg's person, enrolled earlier: it hears first

    def alert_mails_to(cell):
        return [mail for mail in mails(app) if mail["To"] == cell.coordinator.email and "federation/alerts" in str(mail)]

    assert alert_mails_to(leuven) == []  # the newer cell: told only once Herent-Kortenberg judged it worth checking
    assert alert_mails_to(herko) == []  # its members cannot sign in: the mail waits
    with app.app_context():
        [alert] = db.session.scalars(sa.select(MatchAlert)).all()
        assert alert.state.value == "open"
        db.session.remove()

    assert reactivate(app, HERKO) == 1  # the mail's job, kept while the cell was suspended
    assert len(alert_mails_to(herko)) == 1 and alert_mails_to(leuven) == []
    with app.app_context(), tenant_context(herko.tenant_id):  # the periodic federation sweep adds none
        sweep_enrolments(older_than=timedelta(0))
        db.session.commit()
        db.session.remove()
    assert len(alert_mails_to(herko)) == 1


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_a_step_whose_job_was_lost_can_be_resumed_once_it_is_clearly_stale(app, two, monkeypatch):
    monkeypatch.setattr(lifecycle, "enqueue", lambda *args, **kwargs: None)  # the first step's job is lost
    offboard(app, LEUVEN)
    monkeypatch.undo()
    with pytest.raises(ValidationError) as refusal:
        act(app, lambda: lifecycle.resume_offboarding(tenant(LEUVEN), "operator:1"))
    assert refusal.value.messages == {
        "_schema": ["A step of this offboarding is still running: wait for it to finish or fail."]}
    assert progress(app, LEUVEN)["resumable"] is False

    with app.app_context():
        run = lifecycle.offboarding_of(tenant(LEUVEN).id)
        run.updated_at = utcnow() - lifecycle.STALE_RUNNING - timedelta(seconds=1)
        db.session.commit()
        db.session.remove()
    assert progress(app, LEUVEN)["resumable"] is True
    act(app, lambda: lifecycle.resume_offboarding(tenant(LEUVEN), "operator:1"))
    state = progress(app, LEUVEN)
    assert state["state"] == "done" and state["report"]["passed"] is True


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_the_downloaded_export_opens_with_7_zip_and_the_passphrase_only(app, two, tmp_path):
    """The municipality opens the file with a standard tool, not with livc."""
    import shutil
    import subprocess

    from conftest import service_unavailable

    seven_zip = shutil.which("7z")
    if seven_zip is None:
        service_unavailable("7-Zip", FileNotFoundError("7z"), "install p7zip-full: the export test opens the ZIP with it")
    _, code = full_case(app, two[0])
    offboard(app, LEUVEN)
    got = download(app.test_client(), export_path(export_mail(app)[1]))
    archive = tmp_path / "export.zip"
    archive.write_bytes(got.data)

    wrong = subprocess.run([seven_zip, "x", f"-p{'wrong ' * 3}", f"-o{tmp_path / 'wrong'}", str(archive)],
                           capture_output=True, text=True, timeout=300)
    assert wrong.returncode != 0 and "Wrong password" in wrong.stdout + wrong.stderr
    listed = subprocess.run([seven_zip, "l", "-slt", str(archive)], capture_output=True, text=True, timeout=300)
    assert "Method = AES-256" in listed.stdout
    done = subprocess.run([seven_zip, "x", f"-p{PASSPHRASE}", f"-o{tmp_path / 'out'}", str(archive)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    cases = json.loads((tmp_path / "out" / "tables" / "cases.json").read_text())
    assert code in {row["code"] for row in cases["rows"]}
