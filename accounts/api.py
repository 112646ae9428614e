"""JSON API for accounts: sign-up, JWT tokens, the current bunny's profile and avatar."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts import services
from accounts.models import User, username_validator
from accounts.tokens import LogoutSerializer
from bunnybook.ratelimit import limit
from chat.selectors import profile_context


class ProfileSerializer(serializers.ModelSerializer):
    """A bunny as others see it. The viewer's relation to each bunny comes from the context:
    `friendship_states` ({user_id: state}) and `online` ({user_id: bool}), batch-loaded by
    the caller so a list costs a constant number of queries."""

    avatar_url = serializers.SerializerMethodField()
    friendship = serializers.SerializerMethodField()
    online = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "display_name", "bio", "avatar_url", "friendship", "online"]
        read_only_fields = fields

    def _viewer_id(self):
        request = self.context.get("request")
        return getattr(getattr(request, "user", None), "pk", None)

    def get_avatar_url(self, user) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(user.avatar_url) if request else user.avatar_url

    def get_friendship(self, user) -> str:
        if user.pk == self._viewer_id():
            return "self"
        return self.context.get("friendship_states", {}).get(user.pk, "none")

    def get_online(self, user) -> bool | None:
        return self.context.get("online", {}).get(user.pk)


def nested_serializer(parent: serializers.Serializer, serializer_class) -> serializers.Serializer:
    """One `serializer_class` per response, on the parent's context: building a
    ModelSerializer (its fields) costs more than using it, and a list uses the same nested
    kinds dozens of times."""
    shared = parent.context.setdefault("_shared_serializers", {})
    try:
        return shared[serializer_class]
    except KeyError:
        serializer = shared[serializer_class] = serializer_class(context=parent.context)
        return serializer


def profile_of(parent: serializers.Serializer, user: User) -> dict:
    """`user` as a profile, once per bunny per response: a feed page names the same few
    bunnies dozens of times. The viewer-relative parts come from the shared context."""
    profiles = parent.context.setdefault("_profiles", {})
    try:
        return profiles[user.pk]
    except KeyError:
        profile = nested_serializer(parent, ProfileSerializer).to_representation(user)
        profiles[user.pk] = profile
        return profile


class SignupSerializer(serializers.Serializer):
    username = serializers.CharField(min_length=3, max_length=30, validators=[username_validator])
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)
    display_name = serializers.CharField(max_length=50, required=False, allow_blank=True)


class MeUpdateSerializer(serializers.Serializer):
    display_name = serializers.CharField(max_length=50, required=False, allow_blank=True)
    bio = serializers.CharField(max_length=500, required=False, allow_blank=True)
    appear_offline = serializers.BooleanField(required=False)


class SignupView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(request=SignupSerializer, responses={201: ProfileSerializer})
    @limit("signup")
    def post(self, request):
        data = SignupSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.register_bunny(**data.validated_data)
        context = {"request": request, "friendship_states": {user.pk: "self"}}
        return Response(
            ProfileSerializer(user, context=context).data, status=status.HTTP_201_CREATED
        )


class TokenView(TokenObtainPairView):
    """Exchange a username (or email) and password for an access and a refresh token."""

    authentication_classes = []


class RefreshView(TokenRefreshView):
    """Rotate a refresh token. A dead refresh presented again revokes them all."""

    authentication_classes = []

    @limit("token_refresh")
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class LogoutView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request):
        # A dead or forged refresh token is a 401, as on the refresh endpoint.
        return 'Bearer realm="api"'

    @extend_schema(request=LogoutSerializer, responses={204: None})
    def post(self, request):
        data = LogoutSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        data.save()
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeSerializer(ProfileSerializer):
    """The current bunny: her profile plus her own settings."""

    class Meta(ProfileSerializer.Meta):
        fields = [*ProfileSerializer.Meta.fields, "appear_offline"]
        read_only_fields = fields


def _me(request, user) -> dict:
    return MeSerializer(user, context=profile_context(user, [user], request)).data


class MeView(APIView):
    @extend_schema(responses=MeSerializer)
    def get(self, request):
        return Response(_me(request, request.user))

    @extend_schema(request=MeUpdateSerializer, responses=MeSerializer)
    def patch(self, request):
        data = MeUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.update_profile(user=request.user, **data.validated_data)
        return Response(_me(request, user))


class MyAvatarView(APIView):
    @extend_schema(request=None, responses=ProfileSerializer)
    def post(self, request):
        user = services.reroll_avatar(user=request.user)
        return Response(ProfileSerializer(user, context={"request": request}).data)
