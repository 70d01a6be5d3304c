"""Notice mail settings (logged in) and the unsubscribe link every notice mail carries (no login: the signed token
says who and which kind)."""

from __future__ import annotations

import structlog
from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import UpdateView

from accounts import notice_mail_prefs
from accounts.models import Profile

log = structlog.get_logger(__name__)

BAD_LINK = 400


class NoticeMailForm(forms.ModelForm):
    class Meta:
        model = Profile
        fields = list(notice_mail_prefs.KINDS.values())


class NoticeMailSettingsView(LoginRequiredMixin, UpdateView):
    """Which notices also go by email."""

    form_class = NoticeMailForm
    template_name = "accounts/notice_mail.html"
    success_url = reverse_lazy("accounts:notice_mail")

    def get_object(self, queryset=None) -> Profile:
        return Profile.objects.get_or_create(user=self.request.user)[0]

    def form_valid(self, form):
        messages.success(self.request, "Your notice mail settings are saved.")
        return super().form_valid(form)


@method_decorator(csrf_exempt, name="dispatch")  # the token is the credential; mail clients POST without a cookie
class UnsubscribeView(View):
    """GET: the page the mail's link opens, one button. POST: done, with no login; also the one-click unsubscribe
    of RFC 8058 a mail client sends from the List-Unsubscribe header (`List-Unsubscribe=One-Click`). A GET changes
    nothing, so link scanners that open every link in a mail never unsubscribe anyone."""

    template_name = "accounts/unsubscribe.html"

    def get(self, request, token: str):
        return self._page(request, token, done=None)

    def post(self, request, token: str):
        return self._page(request, token, done=notice_mail_prefs.ALL if request.POST.get("what") == "all" else "")

    def _page(self, request, token: str, *, done: str | None):
        found = notice_mail_prefs.read_unsubscribe_token(token)
        profile = found and Profile.objects.filter(user_id=found[0]).first()
        if not profile:
            return render(request, self.template_name, {"bad_link": True}, status=BAD_LINK)
        kind = found[1]
        if done is not None:
            done = done or kind
            notice_mail_prefs.unsubscribe(profile, done)
            log.info("notice_mail_unsubscribed", user_id=profile.user_id, kind=done)
        label = Profile._meta.get_field(notice_mail_prefs.KINDS[kind]).verbose_name
        return render(request, self.template_name, {"kind_label": label, "done": done, "token": token})
