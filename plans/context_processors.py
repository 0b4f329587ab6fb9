from django.conf import settings


def clinic(request):
    """The clinic's name and zone for every page (shown in the header and next to times)."""
    return {
        "CLINIC_NAME": settings.CLINIC_NAME,
        "CLINIC_TIME_ZONE": settings.CLINIC_TIME_ZONE,
        "CLINIC_PHONE": settings.CLINIC_PHONE,
        "CLINIC_ADDRESS": settings.CLINIC_ADDRESS,
    }
