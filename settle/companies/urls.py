from django.urls import path

from . import views

urlpatterns = [
    # Signing up, in and out (public)
    path("signup/", views.signup, name="signup"),
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("password-reset/", views.password_reset, name="password_reset"),
    path("password-reset/sent/", views.password_reset_done, name="password_reset_done"),
    path("reset/<uidb64>/<token>/", views.password_reset_confirm, name="password_reset_confirm"),
    path("reset/done/", views.password_reset_complete, name="password_reset_complete"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    # Companies (any signed-in user)
    path("companies/new/", views.company_create, name="company_create"),
    path("companies/switch/", views.company_switch, name="company_switch"),
    # Settings (Creator/Admin)
    path("settings/", views.settings_index, name="settings"),
    path("settings/company/", views.company_settings, name="company_settings"),
    path("settings/company/delete/", views.company_delete, name="company_delete"),
    path("settings/users/", views.users, name="users"),
    path("settings/users/invite/", views.user_invite, name="user_invite"),
    path("settings/users/<int:membership_id>/level/", views.member_level, name="member_level"),
    path("settings/users/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path("settings/invitations/<int:invitation_id>/cancel/", views.invitation_cancel, name="invitation_cancel"),
    path("settings/period-lock/", views.period_lock, name="period_lock"),
]
