import pytest
from django.conf import settings as django_settings


@pytest.fixture(autouse=True)
def photo_dir(settings, tmp_path):
    """Each test's photos in its own folder, so a test can look at exactly the files it stored."""
    folder = tmp_path / "photos"
    settings.STORAGES = {
        **django_settings.STORAGES,
        "clinical_photos": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(folder), "base_url": None},
        },
    }
    return folder
