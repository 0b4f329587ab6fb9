from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from plans.views.accounts import LoginView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("plans.urls")),
]

# A readable page for a request Django refuses (oversized body, malformed form); the default is a bare line.
handler400 = "plans.views.errors.bad_request"
