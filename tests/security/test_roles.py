"""Roles are groups with the right permissions, and pages declare what they need with one decorator."""

import pytest
from django.apps import apps
from django.contrib.auth.models import AnonymousUser, Group, Permission
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.http import HttpResponse
from django.test import RequestFactory

from plans.permissions import staff_required
from plans.roles import AESTHETICIAN, CLINIC_ADMIN, FRONT_DESK, ROLES, sync_roles
from plans.services.security import user_set_role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CLINICAL = {"plans.view_clinical_record", "plans.view_screening", "plans.view_screeninganswer"}


def test_the_migrations_create_the_three_roles():
    assert set(Group.objects.values_list("name", flat=True)) >= set(ROLES)


def test_the_custom_permissions_exist():
    codenames = set(Permission.objects.filter(content_type__app_label="plans").values_list("codename", flat=True))
    assert {"view_clinical_record", "book_sessions", "export_client_data", "erase_client"} <= codenames


def test_front_desk_books_but_never_sees_screening_answers_or_clinical_notes(front_desk):
    assert front_desk.has_perms(["plans.view_client", "plans.change_plansession", "plans.book_sessions"])
    assert not any(front_desk.has_perm(perm) for perm in CLINICAL)
    assert not front_desk.is_staff


def test_an_aesthetician_treats_clients_but_cannot_export_erase_or_edit_protocols(aesthetician):
    assert aesthetician.has_perms(CLINICAL | {"plans.add_treatmentplan", "plans.book_sessions"})
    assert not aesthetician.has_perm("plans.export_client_data")
    assert not aesthetician.has_perm("plans.erase_client")
    assert not aesthetician.has_perm("plans.change_protocol")
    assert not aesthetician.is_staff


def test_a_clinic_admin_holds_every_app_permission_and_enters_the_django_admin(clinic_admin):
    every = {
        f"plans.{codename}"
        for codename in Permission.objects.filter(content_type__app_label="plans").values_list("codename", flat=True)
    }
    assert clinic_admin.has_perms(every)
    assert clinic_admin.is_staff and not clinic_admin.is_superuser
    assert not clinic_admin.has_perm("auth.change_group")  # roles come from plans/roles.py, not the admin


def test_syncing_roles_is_idempotent_and_restores_a_tampered_role():
    group = Group.objects.get(name=FRONT_DESK)
    group.permissions.add(Permission.objects.get(codename="view_clinical_record"))
    Group.objects.filter(name=AESTHETICIAN).delete()
    sync_roles(apps)
    sync_roles(apps)
    assert not group.permissions.filter(codename="view_clinical_record").exists()
    assert Group.objects.get(name=AESTHETICIAN).permissions.filter(codename="view_clinical_record").exists()


@pytest.mark.django_db(transaction=True)
def test_roles_survive_a_flushed_database():
    call_command("flush", interactive=False, verbosity=0)
    assert set(Group.objects.values_list("name", flat=True)) == set(ROLES)
    assert Group.objects.get(name=CLINIC_ADMIN).permissions.filter(codename="erase_client").exists()


def test_changing_a_role_moves_the_user_and_only_clinic_admins_are_staff(aesthetician):
    user_set_role(user=aesthetician, role=CLINIC_ADMIN)
    assert list(aesthetician.groups.values_list("name", flat=True)) == [CLINIC_ADMIN] and aesthetician.is_staff
    user_set_role(user=aesthetician, role=FRONT_DESK)
    assert list(aesthetician.groups.values_list("name", flat=True)) == [FRONT_DESK] and not aesthetician.is_staff
    with pytest.raises(ValueError, match="Unknown role 'Doctor'"):
        user_set_role(user=aesthetician, role="Doctor")


# --- The decorator and the mixin ---------------------------------------------------------------


@staff_required("plans.view_clinical_record")
def clinical_page(request):
    return HttpResponse("record")


@staff_required()
def staff_page(request):
    return HttpResponse("today")


def _get(view, user):
    request = RequestFactory().get("/clients/7/?tab=notes")
    request.user = user
    return view(request)


@pytest.mark.parametrize("view", [clinical_page])
def test_anonymous_visitors_are_sent_to_log_in_and_come_back(view):
    response = _get(view, AnonymousUser())
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/clients/7/%3Ftab%3Dnotes"


@pytest.mark.parametrize("view", [clinical_page])
def test_a_role_without_the_permission_gets_403(view, front_desk):
    with pytest.raises(PermissionDenied):
        _get(view, front_desk)


@pytest.mark.parametrize("view", [clinical_page])
def test_a_role_with_the_permission_gets_the_page_and_it_is_not_cached(view, aesthetician):
    response = _get(view, aesthetician)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_a_logged_in_account_without_any_role_is_refused_even_on_plain_staff_pages(front_desk):
    assert _get(staff_page, front_desk).status_code == 200
    with pytest.raises(PermissionDenied):
        _get(staff_page, UserFactory(username="no-role"))


def test_an_inactive_account_is_refused(aesthetician):
    aesthetician.is_active = False
    with pytest.raises(PermissionDenied):
        _get(clinical_page, aesthetician)


def test_the_decorator_needs_parentheses():
    with pytest.raises(TypeError, match="with parentheses"):
        staff_required(clinical_page)


def test_the_decorator_records_what_the_page_needs():
    assert clinical_page.required_permissions == ("plans.view_clinical_record",)
