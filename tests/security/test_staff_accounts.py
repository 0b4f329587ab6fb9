"""Staff accounts in the admin: a clinic admin gives roles; only a superuser gives more."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from plans.roles import AESTHETICIAN, CLINIC_ADMIN, FRONT_DESK
from tests.factories import UserFactory


def change_url(user) -> str:
    return reverse("admin:auth_user_change", args=[user.pk])


def account_form(user, **extra) -> dict:
    return {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "role": CLINIC_ADMIN,
        **extra,
    }


def stored(user) -> tuple:
    user.refresh_from_db()
    return (
        user.is_superuser,
        user.is_staff,
        sorted(user.groups.values_list("name", flat=True)),
        list(user.user_permissions.all()),
        user.password,
        user.first_name,
    )


@pytest.fixture
def maria(client, clinic_admin):
    client.force_login(clinic_admin)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    "grab",
    [
        {"is_superuser": "on"},
        {"is_staff": "on", "role": FRONT_DESK},
        {"groups": "GROUP"},
        {"user_permissions": "PERMISSION"},
    ],
    ids=["superuser", "staff-status", "groups", "permissions"],
)
def test_a_clinic_admin_cannot_grant_itself_superuser_groups_or_permissions(maria, clinic_admin, grab):
    grab = dict(grab)
    if grab.get("groups") == "GROUP":
        grab["groups"] = str(Group.objects.create(name="Owners").pk)
    if grab.get("user_permissions") == "PERMISSION":
        grab["user_permissions"] = str(Permission.objects.get(codename="delete_user").pk)
    before = stored(clinic_admin)
    response = maria.post(change_url(clinic_admin), account_form(clinic_admin, first_name="Changed", **grab))
    assert response.status_code == 200
    assert "Only a superuser can set" in response.content.decode()
    assert stored(clinic_admin) == before


@pytest.mark.django_db
def test_the_clinic_admins_account_form_offers_only_the_clinics_roles(maria, aesthetician):
    page = maria.get(change_url(aesthetician)).content.decode()
    for absent in ('name="is_superuser"', 'name="groups"', 'name="user_permissions"', 'name="is_staff"'):
        assert absent not in page
    assert 'name="role"' in page and f'value="{AESTHETICIAN}" selected' in page


@pytest.mark.django_db
def test_a_clinic_admin_changes_a_role_through_the_role_service(maria, aesthetician):
    response = maria.post(change_url(aesthetician), account_form(aesthetician, role=FRONT_DESK))
    assert response.status_code == 302
    aesthetician.refresh_from_db()
    assert list(aesthetician.groups.values_list("name", flat=True)) == [FRONT_DESK]
    assert not aesthetician.is_staff and not aesthetician.is_superuser
    maria.post(change_url(aesthetician), account_form(aesthetician, role=CLINIC_ADMIN))
    aesthetician.refresh_from_db()
    assert aesthetician.is_staff and not aesthetician.is_superuser


@pytest.mark.django_db
def test_a_clinic_admin_adds_a_staff_account_with_a_role(maria):
    response = maria.post(
        reverse("admin:auth_user_add"),
        {
            "username": "nina",
            "usable_password": "true",
            "password1": "a-long-Passphrase-9",
            "password2": "a-long-Passphrase-9",
            "role": FRONT_DESK,
            "is_superuser": "on",
        },
    )
    assert response.status_code == 200 and "Only a superuser can set" in response.content.decode()
    response = maria.post(
        reverse("admin:auth_user_add"),
        {
            "username": "nina",
            "usable_password": "true",
            "password1": "a-long-Passphrase-9",
            "password2": "a-long-Passphrase-9",
            "role": FRONT_DESK,
        },
    )
    assert response.status_code == 302
    from django.contrib.auth import get_user_model

    nina = get_user_model().objects.get(username="nina")
    assert [g.name for g in nina.groups.all()] == [FRONT_DESK] and not nina.is_superuser and not nina.is_staff


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["change", "password"])
def test_a_clinic_admin_cannot_edit_a_superuser_or_set_its_password(maria, page):
    owner = UserFactory(username="owner", is_superuser=True, is_staff=True)
    before = stored(owner)
    if page == "change":
        url, data = change_url(owner), account_form(owner, first_name="Hacked", is_active="")
    else:
        url = reverse("admin:auth_user_password_change", args=[owner.pk])
        data = {"password1": "taken-Over-12345", "password2": "taken-Over-12345", "usable_password": "true"}
    response = maria.post(url, data)
    assert response.status_code == 403
    assert stored(owner) == before


@pytest.mark.django_db
def test_a_superuser_still_has_the_full_account_form(client):
    owner = UserFactory(username="owner", is_superuser=True, is_staff=True)
    other = UserFactory(username="other")
    client.force_login(owner)
    page = client.get(change_url(other)).content.decode()
    assert 'name="is_superuser"' in page and 'name="groups"' in page
