"""Standard photos: the tablet's capture page for a visit, the upload it posts to (camera or file,
one endpoint), the permission-checked image view, and a client's before/after comparison.
Rules live in services/photos.py; every image shown is logged like any view of the record."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from plans import selectors
from plans.models import Client, Photo, PhotoUse, PhotoView
from plans.permissions import staff_required
from plans.services import photos as photo_services
from plans.services.privacy import record_access_log
from plans.views.calendar import _session, wants_json

CLINICAL = "plans.view_clinical_record"


class PhotoUploadForm(forms.Form):
    image = forms.FileField(label="Photo", allow_empty_file=False)


@staff_required("plans.view_photo", CLINICAL)
@require_GET
def session_photos(request, pk: int):
    session = _session(pk)
    client = session.plan.client
    record_access_log(user=request.user, client=client, action="view")
    context = {
        "session": session,
        "client": client,
        "consented": selectors.photo_consent_allows(client=client, use=PhotoUse.CLINICAL_RECORD),
        "refusal": session.photo_refusal(),
        "slots": selectors.session_photo_slots(session),
        "form": PhotoUploadForm(),
    }
    return render(request, "plans/photos/capture.html", context)


@staff_required("plans.add_photo", CLINICAL)
@require_POST
def photo_upload(request, pk: int, view_id: int):
    """The camera's JavaScript and the plain file form post here; JSON for the one, a page for the other."""
    session = _session(pk)
    view = get_object_or_404(PhotoView, pk=view_id)
    form = PhotoUploadForm(request.POST, request.FILES)
    error, status = "", 200
    if not form.is_valid():
        error, status = "Choose a photo to upload (or take one with the camera).", 400
    else:
        upload = form.cleaned_data["image"]
        try:
            # A file over the limit is refused before it is read into memory.
            photo_services.photo_check_size(upload.size)
            photo = photo_services.photo_take(session=session, view=view, data=upload.read(), by=request.user)
        except photo_services.PhotoAlreadyTaken as exc:
            error, status = str(exc), 409
        except photo_services.PhotoRefused as exc:
            error, status = str(exc), 400
    if wants_json(request):
        if error:
            return JsonResponse({"error": error}, status=status)
        return JsonResponse(
            {"photo": photo.pk, "view": view.code, "thumbnail": reverse("photo-image", args=[photo.pk, "thumb"])},
            status=201,
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"{view} photo stored.")
    return redirect("session-photos", pk=session.pk)


@staff_required("plans.view_photo", CLINICAL)
@require_GET
def photo_image(request, pk: int, size: str):
    """The only way an image leaves the storage: after the permission check, logged, never cached."""
    if size not in ("full", "thumb"):
        raise Http404("No such image size.")
    photo = get_object_or_404(Photo.objects.select_related("session__plan__client", "view"), pk=pk)
    client = photo.session.plan.client
    record_access_log(user=request.user, client=client, action="view", reason=f"photo {photo.pk} ({size})")
    response = HttpResponse(photo_services.photo_read(photo, thumbnail=size == "thumb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    response["Content-Disposition"] = "inline"
    return response


@staff_required("plans.view_photo", CLINICAL)
@require_GET
def client_before_after(request, client_id: int):
    client = get_object_or_404(Client, pk=client_id)
    record_access_log(user=request.user, client=client, action="view")
    comparison = selectors.client_photo_comparison(
        client=client,
        view_code=request.GET.get("view", ""),
        before_id=_int(request.GET.get("before")),
        after_id=_int(request.GET.get("after")),
    )
    if comparison.refusal:
        messages.warning(request, comparison.refusal)
    return render(request, "plans/photos/before_after.html", {"client": client, "c": comparison})


def _int(raw: str | None) -> int | None:
    try:
        return int(raw) if raw else None
    except ValueError:
        return None
