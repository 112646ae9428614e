"""Bearer authentication for the API that refuses a banned or suspended bunny's access
tokens from the next request on, although the tokens themselves are still unexpired."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed


class BunnyJWTAuthentication(JWTAuthentication):
    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        notice = user.sanction_notice()
        if notice is not None:
            raise AuthenticationFailed(notice, code="account_sanctioned")
        return user


class BunnyJWTScheme(SimpleJWTScheme):
    """Describe it in the OpenAPI schema as the Bearer scheme it is."""

    target_class = BunnyJWTAuthentication
