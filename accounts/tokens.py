"""Refresh-token rotation that is safe under concurrency and detects token theft.

Out of the box simplejwt lets N concurrent refreshes of one token all succeed, and a
replayed (already rotated) token revokes nothing. Here the token's outstanding row is
locked, so exactly one refresh wins; presenting a dead token again revokes every refresh
token of that bunny, since either the thief or the owner is holding a stolen copy.
"""

from django.db import transaction
from rest_framework import exceptions, serializers
from rest_framework_simplejwt.exceptions import (
    AuthenticationFailed,
    InvalidToken,
    TokenBackendError,
    TokenError,
)
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.backends import sanction_notice_for_credentials
from accounts.services import revoke_refresh_tokens
from bunnybook import ratelimit


def decode_refresh_token(raw: str) -> dict:
    """Verify signature, expiry and type; return the payload or raise InvalidToken."""
    try:
        payload = token_backend.decode(raw, verify=True)
    except (TokenError, TokenBackendError) as exc:
        raise InvalidToken(str(exc)) from exc
    if payload.get(api_settings.TOKEN_TYPE_CLAIM) != RefreshToken.token_type:
        raise InvalidToken("Token has wrong type.")
    return payload


class SanctionAwareTokenObtainSerializer(TokenObtainPairSerializer):
    """The token pair for a username (or email) and password. A suspended or banned bunny
    who gives her right password is told why she cannot have one."""

    def validate(self, attrs):
        username = attrs.get(self.username_field)
        address = ratelimit.client_address(self.context["request"])
        ratelimit.check_login(username, address)  # 429 while too many have failed
        try:
            tokens = super().validate(attrs)
        except exceptions.AuthenticationFailed:  # DRF's: simplejwt raises the base class here
            ratelimit.login_failed(username, address)
            notice = sanction_notice_for_credentials(
                attrs.get(self.username_field), attrs.get("password")
            )
            if notice is None:
                raise
            raise AuthenticationFailed(notice, code="account_sanctioned") from None
        ratelimit.login_succeeded(username, address)
        return tokens


class RotatingRefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField()
    access = serializers.CharField(read_only=True)

    def validate(self, attrs):
        payload = decode_refresh_token(attrs["refresh"])
        jti = payload[api_settings.JTI_CLAIM]
        with transaction.atomic():
            outstanding = (
                OutstandingToken.objects.select_for_update(of=("self",))
                .select_related("user")
                .filter(jti=jti)
                .first()
            )
            if outstanding is None or outstanding.user is None:
                raise InvalidToken("Token is not recognised.")
            reused = BlacklistedToken.objects.filter(token=outstanding).exists()
            if not reused:
                if not api_settings.USER_AUTHENTICATION_RULE(outstanding.user):
                    raise AuthenticationFailed("No active account found for the given token.")
                BlacklistedToken.objects.create(token=outstanding)
                fresh = RefreshToken.for_user(outstanding.user)
                return {"access": str(fresh.access_token), "refresh": str(fresh)}
        # Outside the block above, so the revocation commits although we answer 401.
        revoke_refresh_tokens(user_id=outstanding.user_id)
        raise InvalidToken("Token was already used; every session of this account was ended.")


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField()

    def save(self, **kwargs):
        payload = decode_refresh_token(self.validated_data["refresh"])
        outstanding = OutstandingToken.objects.filter(jti=payload[api_settings.JTI_CLAIM]).first()
        if outstanding is not None:
            BlacklistedToken.objects.get_or_create(token=outstanding)
