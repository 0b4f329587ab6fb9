# ruff: noqa: E501 - the consent texts are paragraphs, kept one per line exactly as clients read them
"""The shipped consent forms, in the clinic's own words: loaded by migration 0012_consent and load_demo.

Written from the clinic's microneedling review (docs/clinical-sources.md): the risks a client
must hear before needling (pigment change, infection, cold-sore reactivation, granulomas from
products put on needled skin), and the device's regulatory status, which for pores is off-label.
A clinic edits them in the admin; every edit is a new version, and signatures keep theirs.
"""

from __future__ import annotations

TREATMENT_TITLE = "Consent to microneedling treatment"
TREATMENT_BODY = """\
What the treatment is
Microneedling (collagen induction therapy) makes many tiny punctures in the skin with a sterile, single-use needle cartridge on a pen device. The skin's healing response is meant to improve texture and the look of enlarged pores over a course of sessions. Results build slowly, usually over the 3 months after the last session, differ from person to person and are not guaranteed; maintenance sessions may be needed.

The device and pores
The pen is cleared by regulators for other uses (such as acne scars in adults). Using it to treat enlarged pores is off-label: it is common practice, but the evidence for pores specifically is limited. Your practitioner has explained this.

What to expect
Redness, warmth, tightness and mild swelling for 1 to 3 days; pinpoint bleeding during treatment; dryness or flaking for up to a week.

Risks
- Post-inflammatory hyperpigmentation (PIH): darker patches after the skin heals, more likely in darker skin types (Fitzpatrick IV-VI), after sun exposure or with irritated skin. It usually fades over weeks to months but can last longer. A check after the first session may be booked for you.
- Infection: bacterial, or viral (warts), through the punctures. Keep the skin clean and follow the aftercare.
- Cold-sore reactivation: if you have ever had cold sores, treatment can trigger an outbreak; antiviral cover may be advised before treatment.
- Less common: prolonged redness, bruising, acne flare, allergic reaction (including to a numbing cream or serum), granulomas (lumps) from products applied to needled skin, and scarring, including tram-track marks.

What I agree to
- I have answered the health questions truthfully and will tell the clinic before each session about any change (new medicines, pregnancy, isotretinoin, a cold sore, sunburn or an infection).
- I will follow the pre-care and aftercare instructions, including sun protection.
- I understand I can stop the course at any time, and withdraw this consent, without giving a reason.
- I have had the chance to ask questions and have had them answered.

I consent to a course of microneedling treatment as planned with my practitioner.
"""

PHOTO_TITLE = "Consent to clinical photographs"
PHOTO_BODY = """\
Photographs help the clinic see how your skin responds and plan each session. They are taken in the clinic, stored with your clinical record, and never sold.

Each use below is a separate choice. Saying no to any of them does not affect your treatment. You can withdraw this consent at any time; photos already published cannot always be recalled, but no new use will be made of them.

Uses you may agree to:
- Clinical record: before, during and after photos kept with your record, seen only by the clinic's clinical staff.
- Anonymised teaching: photos with your face not identifiable (eyes and distinguishing marks covered), used to train staff or in professional talks.
- Marketing: photos on the clinic's website, social media or brochures. You may be recognisable.
"""

DEFAULT_TEMPLATES = (
    ("treatment", "Treatment consent: microneedling", TREATMENT_TITLE, TREATMENT_BODY),
    ("photo", "Photo consent", PHOTO_TITLE, PHOTO_BODY),
)


def load_default_consents(apps=None) -> list[str]:
    """Create the consent forms that are missing (matched by kind) with their first version.

    Never touches an existing form: its versions are the clinic's. Pass the historical `apps`
    from a data migration. Returns the kinds created."""
    if apps is None:
        from django.apps import apps as current_apps

        apps = current_apps
    Template = apps.get_model("plans", "ConsentTemplate")
    Version = apps.get_model("plans", "ConsentVersion")
    created = []
    for kind, name, title, body in DEFAULT_TEMPLATES:
        template, new = Template.objects.get_or_create(kind=kind, defaults={"name": name})
        if new:
            Version.objects.create(template=template, number=1, title=title, body=body)
            created.append(kind)
    return created
