from __future__ import annotations

import structlog
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect
from django.urls import reverse_lazy
from django.views.generic import CreateView, FormView
from rest_framework.authtoken.models import Token

from accounts import throttle
from accounts.forms import SignOutEverywhereForm, SignUpForm

log = structlog.get_logger(__name__)

TOO_MANY = 429
# The backend that signs users in (django-axes' own only refuses): config/settings/base.py.
SIGN_IN_BACKEND = "django.contrib.auth.backends.ModelBackend"


class SignUpView(CreateView):
    """A new account may watch at once; bidding waits for staff to verify it (profile.can_bid). Accounts made from
    one address are limited (SIGNUP_RATE): a refused sign-up answers 429 and creates nothing."""

    form_class = SignUpForm
    template_name = "accounts/signup.html"
    success_url = reverse_lazy("auctions:lot_list")

    def form_valid(self, form):
        if not throttle.sign_ups.take(throttle.client_address(self.request)):
            log.warning("signup_throttled")
            form.add_error(None, "Too many accounts have been created from your address. Try again later.")
            return self.render_to_response(self.get_context_data(form=form), status=TOO_MANY)
        response = super().form_valid(form)
        login(self.request, self.object, backend=SIGN_IN_BACKEND)
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset by email. Requests from one address are limited (PASSWORD_RESET_RATE), so nobody can flood a
    mailbox through it; the answer never says whether an address has an account."""

    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form):
        if not throttle.password_resets.take(throttle.client_address(self.request)):
            log.warning("password_reset_throttled")
            form.add_error(None, "Too many reset requests from your address. Try again later.")
            return self.render_to_response(self.get_context_data(form=form), status=TOO_MANY)
        return super().form_valid(form)


class SignOutEverywhereView(LoginRequiredMixin, FormView):
    """End every session of this user: the password is hashed again with a fresh salt, which changes the session
    auth hash every session carries (accounts/sessions.py), so each one, HTTP and socket, stops signing in. One
    write, however many sessions there are; the user's API tokens are deleted. This browser's session is kept if
    asked, under a new key, as a password change keeps the changer's."""

    form_class = SignOutEverywhereForm
    template_name = "accounts/security.html"
    success_url = reverse_lazy("accounts:security")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    def form_valid(self, form):
        user = self.request.user
        user.set_password(form.cleaned_data["password"])
        user.save(update_fields=["password"])
        Token.objects.filter(user=user).delete()  # the HTTP API's tokens are sessions too
        log.info("signed_out_everywhere", user_id=user.pk, kept_this_session=form.cleaned_data["stay_signed_in_here"])
        if not form.cleaned_data["stay_signed_in_here"]:
            logout(self.request)
            return redirect("accounts:login")
        update_session_auth_hash(self.request, user)
        messages.success(self.request, "Every other session has been signed out.")
        return super().form_valid(form)
