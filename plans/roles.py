"""Staff roles: Django groups and the permissions each one holds.

The table below is the single source of truth. `sync_roles` makes the database match it
and is idempotent; it runs from the `security_roles` data migration (so a fresh database
has the groups) and again after every `migrate` through a post_migrate handler (see
apps.py), because:
- permissions for models added by later migrations only exist after those migrations, and
  the handler grants them as soon as they do;
- a flushed database (TransactionTestCase, `manage.py flush`) loses the groups that a
  data migration created, while post_migrate runs again after the flush.

Permission names are "app_label.codename". A name whose permission does not exist yet is
skipped, not an error: it is granted by the next run once its model exists.
"""

from __future__ import annotations

AESTHETICIAN = "Aesthetician"
FRONT_DESK = "Front desk"
CLINIC_ADMIN = "Clinic admin"
CLINICIAN = "Clinician"
ROLES = (AESTHETICIAN, FRONT_DESK, CLINIC_ADMIN, CLINICIAN)


def _crud(model: str, *actions: str) -> list[str]:
    return [f"plans.{action}_{model}" for action in actions]


_ALL = ("view", "add", "change", "delete")
# What everybody who works at the clinic may read: the set-up the calendar and plans rely on.
_CLINIC_SETUP = [
    *_crud("practitioner", "view"),
    *_crud("room", "view"),
    *_crud("workinghours", "view"),
    *_crud("timeoff", "view"),
    *_crud("protocol", "view"),
]

# Treats clients: intake, screening, plans, booking, clinical notes.
_AESTHETICIAN = [
    *_crud("client", "view", "add", "change"),
    *_crud("screening", "view", "add", "change"),
    *_crud("screeninganswer", "view", "add", "change"),
    *_crud("screeningquestion", "view"),
    *_crud("treatmentplan", "view", "add", "change"),
    *_crud("plansession", "view", "add", "change"),
    *_crud("contraindicationrule", "view"),
    *_crud("combinationtreatment", "view"),
    *_crud("carenote", "view"),
    *_crud("reminderlead", "view"),
    *_CLINIC_SETUP,
    *_crud("message", "view", "change"),
    "plans.view_clinical_record",
    "plans.book_sessions",
    # The pre-session check is health data, like the screening it updates.
    *_crud("presessioncheck", "view", "add"),
    *_crud("clinicalhold", "view"),
    *_crud("reviewsignoff", "view"),
    *_crud("clinicaloverride", "view"),
    # Consent: read the forms, record signatures on the tablet and withdrawals (view_clinical_record
    # guards the signed record itself).
    *_crud("consenttemplate", "view"),
    *_crud("consentversion", "view"),
    *_crud("signedconsent", "view", "add"),
    *_crud("consentwithdrawal", "view", "add"),
    # The treatment record and adverse events: written at the visit, never edited (addenda instead).
    *_crud("treatmentrecord", "view", "add"),
    *_crud("zonedepth", "view", "add"),
    *_crud("recordaddendum", "view", "add"),
    *_crud("adverseevent", "view", "add", "change"),
    *_crud("device", "view"),
    *_crud("lot", "view"),
    # Standard photos: taken at the visit, seen with the record (view_clinical_record too).
    *_crud("photoview", "view"),
    *_crud("photo", "view", "add"),
    # Outcomes: a practitioner rates the pore grade (and GAIS) at baseline and the assessment and
    # corrects a rating; the client's questionnaire answers are read, never written, by staff.
    *_crud("poregradeanchor", "view"),
    *_crud("outcomescore", "view", "add", "change"),
    *_crud("outcomequestion", "view"),
    *_crud("questionnaireresponse", "view"),
    *_crud("questionnaireanswer", "view"),
    # New clients' own forms: invite, withdraw a link, review the answers (view_clinical_record).
    *_crud("intakeinvitation", "view", "add", "change"),
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    AESTHETICIAN: _AESTHETICIAN,
    # A prescriber (doctor, nurse): everything an aesthetician does, plus the clinical decisions
    # nobody else may take: signing off review items, deciding holds, overriding clinical rules.
    # The outcomes report too: how each protocol does for each group of clients is a clinical
    # judgement's evidence (admins hold it through plans.*).
    CLINICIAN: [*_AESTHETICIAN, "plans.make_clinical_decision", "plans.view_outcomes_report"],
    # Reception: contact details, the calendar and bookings. Never screening answers or
    # clinical notes: no view_screening / view_screeninganswer / view_clinical_record.
    FRONT_DESK: [
        *_crud("client", "view", "add", "change"),
        *_crud("treatmentplan", "view"),
        *_crud("plansession", "view", "change"),
        *_CLINIC_SETUP,
        # The email timeline: reception answers "did my reminder go out?" and resends it.
        *_crud("message", "view", "change"),
        "plans.book_sessions",
        # They take the first call: invite a new person to their forms and follow the list (names
        # and status; the answers are the clinical record).
        *_crud("intakeinvitation", "view", "add", "change"),
    ],
    # Everything in the app (every plans permission, including models added later), plus
    # staff accounts and unlocking locked-out logins in the Django admin. Members also need
    # is_staff to enter the admin: services.security.user_set_role sets it.
    CLINIC_ADMIN: [
        "plans.*",
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "auth.view_group",
        "axes.view_accessattempt",
        "axes.delete_accessattempt",
        "axes.view_accesslog",
        "axes.view_accessfailurelog",
    ],
}


def sync_roles(apps, *, using: str = "default") -> None:
    """Create the role groups and set their permissions to exactly the table above."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=role)
        wanted = []
        for name in names:
            app_label, codename = name.split(".", 1)
            found = Permission.objects.using(using).filter(content_type__app_label=app_label)
            if codename != "*":
                found = found.filter(codename=codename)
            wanted.extend(found.values_list("pk", flat=True))
        group.permissions.set(wanted)


def sync_roles_after_migrate(sender, *, using="default", apps=None, **kwargs) -> None:
    """post_migrate handler: `migrate` passes its state's apps; `flush` passes none (the live registry is right)."""
    if apps is None:
        from django.apps import apps
    sync_roles(apps, using=using)
