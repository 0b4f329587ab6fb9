from django.conf import settings

from plans.branding import brand


def clinic(request):
    """The clinic's name and zone for every page (shown in the header and next to times)."""
    return {
        "CLINIC_NAME": settings.CLINIC_NAME,
        "CLINIC_TIME_ZONE": settings.CLINIC_TIME_ZONE,
        "CLINIC_PHONE": settings.CLINIC_PHONE,
        "CLINIC_ADDRESS": settings.CLINIC_ADDRESS,
        "CLINIC_LOGO_URL": settings.CLINIC_LOGO_URL,
        "CLINIC_MAP_URL": brand().map_url,
        "CLINIC_PHONE_HREF": brand().phone_href,
    }
