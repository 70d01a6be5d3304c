from __future__ import annotations

from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.forms import UserCreationForm


class SignUpForm(UserCreationForm):
    """Django's sign-up form: its password is checked by AUTH_PASSWORD_VALIDATORS (config/settings/base.py)."""

    class Meta(UserCreationForm.Meta):
        fields = ("username", "email")


class SignOutEverywhereForm(forms.Form):
    """Ending every session needs the password: the session asking may be the stolen one. The password goes
    through authenticate(), so wrong guesses here count towards django-axes' lockout like any other."""

    password = forms.CharField(label="Your password", strip=False, widget=forms.PasswordInput)
    stay_signed_in_here = forms.BooleanField(label="Keep this browser signed in", required=False, initial=True)

    def __init__(self, *args, request, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.request = request

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        user = self.request.user
        if authenticate(self.request, username=user.get_username(), password=password) is None:
            raise forms.ValidationError("That is not your password.", code="password_incorrect")
        return password
