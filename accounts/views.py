from __future__ import annotations

from django.contrib.auth import login
from django.urls import reverse_lazy
from django.views.generic import CreateView

from accounts.forms import SignUpForm


class SignUpView(CreateView):
    """A new account may watch at once; bidding waits for staff to verify it (profile.can_bid)."""

    form_class = SignUpForm
    template_name = "accounts/signup.html"
    success_url = reverse_lazy("auctions:lot_list")

    def form_valid(self, form):
        response = super().form_valid(form)
        login(self.request, self.object)
        return response
