from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from accounts.models import Profile


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class UserWithProfileAdmin(UserAdmin):
    inlines = [ProfileInline]
    list_display = ("username", "email", "is_staff", "profile__can_bid", "profile__can_sell", "profile__banned")
    list_filter = ("is_staff", "profile__can_bid", "profile__can_sell", "profile__banned")
    actions = ["verify_bidders", "verify_sellers", "revoke_sellers", "ban_users", "unban_users"]

    @admin.action(description="Verify as bidders (can bid)")
    def verify_bidders(self, request, queryset):
        Profile.objects.filter(user__in=queryset).update(can_bid=True)

    @admin.action(description="Verify as sellers (can list lots)")
    def verify_sellers(self, request, queryset):
        Profile.objects.filter(user__in=queryset).update(can_sell=True)

    @admin.action(description="Revoke selling (lots already listed stay until they end or staff cancel them)")
    def revoke_sellers(self, request, queryset):
        Profile.objects.filter(user__in=queryset).update(can_sell=False)

    @admin.action(description="Ban (may watch, never bid)")
    def ban_users(self, request, queryset):
        Profile.objects.filter(user__in=queryset).update(banned=True)

    @admin.action(description="Lift ban")
    def unban_users(self, request, queryset):
        Profile.objects.filter(user__in=queryset).update(banned=False)
