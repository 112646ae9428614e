"""JSON API for profiles, friendships, blocks, posts, comments, likes and the feed.
Thin views: parse, call a service or selector, serialise."""

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import ProfileSerializer, profile_of
from accounts.models import User, equal_ignoring_case
from bunnybook.pagination import Page
from bunnybook.ratelimit import limit
from chat import selectors as chat_selectors
from social import selectors, services
from social.graph import services as graph_services
from social.graph import suggestions as graph_suggestions
from social.models import Comment, FriendRequest, Friendship, Post, Visibility

CURSOR = OpenApiParameter("cursor", OpenApiTypes.STR, description="From the previous `next`.")


# --- Serialisation helpers --------------------------------------------------------------


def profile_context(request, users) -> dict:
    """Batch-load the viewer's relation to every bunny about to be serialised, and the
    presence of her friends (and herself) among them."""
    users = [user for user in users if user is not None]
    states = selectors.friendship_states(request.user, [user.pk for user in users])
    online = chat_selectors.presence_for(request.user, users, states)
    return {"request": request, "friendship_states": states, "online": online}


def profiles(request, users) -> list[dict]:
    users = list(users)
    return ProfileSerializer(users, many=True, context=profile_context(request, users)).data


def page_response(request, page: Page, results: list) -> Response:
    next_url = None
    if page.next_cursor:
        query = request.GET.copy()
        query["cursor"] = page.next_cursor
        next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
    return Response({"results": results, "next": next_url})


def list_schema(item_serializer, name: str):
    return inline_serializer(
        name=name,
        fields={
            "results": item_serializer(many=True),
            "next": serializers.URLField(allow_null=True),
        },
    )


class ProfileDetailSerializer(ProfileSerializer):
    mutual_friends_count = serializers.IntegerField(read_only=True)

    class Meta(ProfileSerializer.Meta):
        fields = [*ProfileSerializer.Meta.fields, "mutual_friends_count"]
        read_only_fields = fields


class PostSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()
    wall = serializers.SerializerMethodField()
    liked = serializers.SerializerMethodField()

    class Meta:
        model = Post
        fields = [
            "id",
            "author",
            "wall",
            "body",
            "visibility",
            "created_at",
            "edited_at",
            "like_count",
            "liked",
            "comment_count",
        ]
        read_only_fields = fields

    @extend_schema_field(ProfileSerializer)
    def get_author(self, post) -> dict:
        return profile_of(self, post.author)

    @extend_schema_field(ProfileSerializer)
    def get_wall(self, post) -> dict:
        return profile_of(self, post.wall)

    def get_liked(self, post) -> bool:
        return post.pk in self.context.get("liked_ids", ())


class CommentSerializer(serializers.ModelSerializer):
    post_id = serializers.IntegerField(read_only=True)
    author = serializers.SerializerMethodField()
    liked = serializers.SerializerMethodField()

    class Meta:
        model = Comment
        fields = [
            "id",
            "post_id",
            "author",
            "body",
            "created_at",
            "edited_at",
            "like_count",
            "liked",
        ]
        read_only_fields = fields

    @extend_schema_field(ProfileSerializer)
    def get_author(self, comment) -> dict:
        return profile_of(self, comment.author)

    def get_liked(self, comment) -> bool:
        return comment.pk in self.context.get("liked_ids", ())


class FriendRequestSerializer(serializers.ModelSerializer):
    sender = serializers.SerializerMethodField(method_name="get_sender")
    to = serializers.SerializerMethodField()

    class Meta:
        model = FriendRequest
        fields = ["id", "sender", "to", "created_at"]
        read_only_fields = fields

    def get_fields(self):
        # "from" is a Python keyword, so the field is renamed on the way out.
        fields = super().get_fields()
        fields["from"] = fields.pop("sender")
        return fields

    @extend_schema_field(ProfileSerializer)
    def get_sender(self, friend_request) -> dict:
        return profile_of(self, friend_request.from_user)

    @extend_schema_field(ProfileSerializer)
    def get_to(self, friend_request) -> dict:
        return profile_of(self, friend_request.to_user)


class LikeStateSerializer(serializers.Serializer):
    like_count = serializers.IntegerField()
    liked = serializers.BooleanField()


class BodySerializer(serializers.Serializer):
    body = serializers.CharField(max_length=5000, trim_whitespace=False)


class PostInputSerializer(BodySerializer):
    wall = serializers.CharField(max_length=30, required=False)
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)


class PostEditSerializer(BodySerializer):
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)


class FriendRequestInputSerializer(serializers.Serializer):
    to = serializers.CharField(max_length=30)


def serialize_posts(request, posts: list[Post]) -> list[dict]:
    authors = [user for post in posts for user in (post.author, post.wall)]
    context = profile_context(request, authors)
    context["liked_ids"] = selectors.liked_post_ids(request.user, posts)
    return PostSerializer(posts, many=True, context=context).data


def serialize_comments(request, comments: list[Comment]) -> list[dict]:
    context = profile_context(request, [comment.author for comment in comments])
    context["liked_ids"] = selectors.liked_comment_ids(request.user, comments)
    return CommentSerializer(comments, many=True, context=context).data


def cursor_of(request) -> str | None:
    return request.query_params.get("cursor") or None


# --- Profiles ---------------------------------------------------------------------------


class ProfileSearchView(APIView):
    @extend_schema(
        operation_id="profiles_search",
        parameters=[OpenApiParameter("q", OpenApiTypes.STR)],
        responses=list_schema(ProfileSerializer, "ProfileList"),
    )
    def get(self, request):
        found = selectors.search_bunnies(request.user, request.query_params.get("q", ""))
        return Response({"results": profiles(request, found), "next": None})


class ProfileDetailView(APIView):
    @extend_schema(responses=ProfileDetailSerializer)
    def get(self, request, username):
        bunny = selectors.get_bunny_for(request.user, username)
        bunny.mutual_friends_count = (
            0
            if bunny.pk == request.user.pk
            else graph_suggestions.mutual_friends(request.user, bunny).count()
        )
        context = profile_context(request, [bunny])
        return Response(ProfileDetailSerializer(bunny, context=context).data)


class ProfileFriendsView(APIView):
    @extend_schema(parameters=[CURSOR], responses=list_schema(ProfileSerializer, "FriendList"))
    def get(self, request, username):
        bunny = selectors.get_bunny_for(request.user, username)
        page = selectors.paginate_bunnies(
            selectors.friends_of(bunny, viewer=request.user), cursor=cursor_of(request)
        )
        return page_response(request, page, profiles(request, page.items))


class MutualFriendsView(APIView):
    @extend_schema(parameters=[CURSOR], responses=list_schema(ProfileSerializer, "MutualList"))
    def get(self, request, username):
        bunny = selectors.get_bunny_for(request.user, username)
        page = selectors.paginate_bunnies(
            graph_suggestions.mutual_friends(request.user, bunny), cursor=cursor_of(request)
        )
        return page_response(request, page, profiles(request, page.items))


class WallView(APIView):
    @extend_schema(parameters=[CURSOR], responses=list_schema(PostSerializer, "WallPostList"))
    def get(self, request, username):
        owner = selectors.get_bunny_for(request.user, username)
        page = selectors.wall_for(request.user, owner, cursor=cursor_of(request))
        return page_response(request, page, serialize_posts(request, page.items))


# --- Friendships and blocks -------------------------------------------------------------


class FriendRequestsView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("direction", OpenApiTypes.STR, enum=["incoming", "outgoing"])],
        responses=list_schema(FriendRequestSerializer, "FriendRequestList"),
    )
    def get(self, request):
        direction = request.query_params.get("direction", "incoming")
        if direction not in ("incoming", "outgoing"):
            raise serializers.ValidationError({"direction": ["Use incoming or outgoing."]})
        page = selectors.paginate_requests(
            selectors.friend_requests_for(request.user, direction=direction),
            cursor=cursor_of(request),
        )
        users = [user for item in page.items for user in (item.from_user, item.to_user)]
        context = profile_context(request, users)
        data = FriendRequestSerializer(page.items, many=True, context=context).data
        return page_response(request, page, data)

    @extend_schema(request=FriendRequestInputSerializer, responses={201: FriendRequestSerializer})
    @limit("friend_request")
    def post(self, request):
        data = FriendRequestInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        to = selectors.get_bunny_for(request.user, data.validated_data["to"])
        outcome = services.send_friend_request(sender=request.user, to=to)
        if isinstance(outcome, Friendship):
            return Response({"friendship": "friends"}, status=status.HTTP_200_OK)
        context = profile_context(request, [request.user, to])
        return Response(
            FriendRequestSerializer(outcome, context=context).data, status=status.HTTP_201_CREATED
        )


class FriendRequestDetailView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, request_id):
        friend_request = selectors.get_friend_request_for(request.user, request_id)
        services.cancel_friend_request(friend_request=friend_request, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AcceptFriendRequestView(APIView):
    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    def post(self, request, request_id):
        friend_request = selectors.get_friend_request_for(request.user, request_id)
        services.accept_friend_request(friend_request=friend_request, by=request.user)
        return Response({"friendship": "friends"})


class DeclineFriendRequestView(APIView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request, request_id):
        friend_request = selectors.get_friend_request_for(request.user, request_id)
        services.decline_friend_request(friend_request=friend_request, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FriendsView(APIView):
    @extend_schema(parameters=[CURSOR], responses=list_schema(ProfileSerializer, "MyFriendList"))
    def get(self, request):
        page = selectors.paginate_bunnies(
            selectors.friends_of(request.user, viewer=request.user), cursor=cursor_of(request)
        )
        return page_response(request, page, profiles(request, page.items))


class FriendDetailView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, username):
        friend = selectors.get_bunny_for(request.user, username)
        services.unfriend(user=request.user, friend=friend)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BlocksView(APIView):
    @extend_schema(responses=list_schema(ProfileSerializer, "BlockList"))
    def get(self, request):
        return Response(
            {"results": profiles(request, selectors.blocked_by(request.user)), "next": None}
        )


class BlockDetailView(APIView):
    def _target(self, username) -> User:
        # Blocking works even against a bunny who already blocked you.
        named = equal_ignoring_case("username", username)
        target = User.objects.filter(named, is_active=True).first()
        if target is None:
            raise Http404
        return target

    @extend_schema(request=None, responses={204: None})
    def put(self, request, username):
        services.block_bunny(blocker=request.user, blocked=self._target(username))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={204: None})
    def delete(self, request, username):
        services.unblock_bunny(blocker=request.user, blocked=self._target(username))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Posts, comments, likes -------------------------------------------------------------


class FeedView(APIView):
    @extend_schema(parameters=[CURSOR], responses=list_schema(PostSerializer, "FeedPostList"))
    def get(self, request):
        page = selectors.feed_for(request.user, cursor=cursor_of(request))
        return page_response(request, page, serialize_posts(request, page.items))


class PostsView(APIView):
    @extend_schema(request=PostInputSerializer, responses={201: PostSerializer})
    @limit("post")
    def post(self, request):
        data = PostInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if "wall" in fields:
            fields["wall"] = selectors.get_bunny_for(request.user, fields["wall"])
        post = services.create_post(author=request.user, **fields)
        return Response(serialize_posts(request, [post])[0], status=status.HTTP_201_CREATED)


class PostDetailView(APIView):
    @extend_schema(responses=PostSerializer)
    def get(self, request, post_id):
        post = selectors.get_post_for(request.user, post_id)
        return Response(serialize_posts(request, [post])[0])

    @extend_schema(request=PostEditSerializer, responses=PostSerializer)
    def patch(self, request, post_id):
        post = selectors.get_post_for(request.user, post_id)
        data = PostEditSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        post = services.edit_post(post=post, by=request.user, **data.validated_data)
        return Response(serialize_posts(request, [post])[0])

    @extend_schema(responses={204: None})
    def delete(self, request, post_id):
        post = selectors.get_post_for(request.user, post_id)
        services.delete_post(post=post, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PostLikeView(APIView):
    def _answer(self, request, post_id, change) -> Response:
        post = selectors.get_post_for(request.user, post_id)
        change(post=post, user=request.user)
        post.refresh_from_db(fields=["like_count"])
        liked = bool(selectors.liked_post_ids(request.user, [post]))
        return Response({"like_count": post.like_count, "liked": liked})

    @extend_schema(request=None, responses=LikeStateSerializer)
    @limit("like")
    def post(self, request, post_id):
        return self._answer(request, post_id, services.like_post)

    @extend_schema(responses={200: LikeStateSerializer})  # not 204: the new state comes back
    @limit("like")
    def delete(self, request, post_id):
        return self._answer(request, post_id, services.unlike_post)


class CommentsView(APIView):
    @extend_schema(parameters=[CURSOR], responses=list_schema(CommentSerializer, "CommentList"))
    def get(self, request, post_id):
        post = selectors.get_post_for(request.user, post_id)
        page = selectors.paginate_comments(
            selectors.comments_on(request.user, post), cursor=cursor_of(request)
        )
        return page_response(request, page, serialize_comments(request, page.items))

    @extend_schema(request=BodySerializer, responses={201: CommentSerializer})
    @limit("comment")
    def post(self, request, post_id):
        post = selectors.get_post_for(request.user, post_id)
        data = BodySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        comment = services.add_comment(post=post, author=request.user, **data.validated_data)
        return Response(serialize_comments(request, [comment])[0], status=status.HTTP_201_CREATED)


class CommentDetailView(APIView):
    @extend_schema(request=BodySerializer, responses=CommentSerializer)
    def patch(self, request, comment_id):
        comment = selectors.get_comment_for(request.user, comment_id)
        data = BodySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        comment = services.edit_comment(comment=comment, by=request.user, **data.validated_data)
        return Response(serialize_comments(request, [comment])[0])

    @extend_schema(responses={204: None})
    def delete(self, request, comment_id):
        comment = selectors.get_comment_for(request.user, comment_id)
        services.delete_comment(comment=comment, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CommentLikeView(APIView):
    def _answer(self, request, comment_id, change) -> Response:
        comment = selectors.get_comment_for(request.user, comment_id)
        change(comment=comment, user=request.user)
        comment.refresh_from_db(fields=["like_count"])
        liked = bool(selectors.liked_comment_ids(request.user, [comment]))
        return Response({"like_count": comment.like_count, "liked": liked})

    @extend_schema(request=None, responses=LikeStateSerializer)
    @limit("like")
    def post(self, request, comment_id):
        return self._answer(request, comment_id, services.like_comment)

    @extend_schema(responses={200: LikeStateSerializer})  # not 204: the new state comes back
    @limit("like")
    def delete(self, request, comment_id):
        return self._answer(request, comment_id, services.unlike_comment)


# --- Suggestions ------------------------------------------------------------------------


class SuggestionSerializer(serializers.Serializer):
    profile = ProfileSerializer()
    mutual_count = serializers.IntegerField()
    mutual_sample = serializers.ListField(
        child=serializers.CharField(),
        help_text="Usernames of up to 3 mutual friends, smallest id first.",
    )
    reason = serializers.ChoiceField(
        choices=["mutual_friends", "new_bunny"],
        help_text="new_bunny: a recently joined bunny, offered when nobody can be suggested "
        "from friends of friends (e.g. a bunny without friends yet).",
    )


class SuggestionsView(APIView):
    @extend_schema(
        summary="Bunnies you may know",
        description="Friends of friends ranked by mutual friends (desc), ties by id. Never "
        "yourself, a friend, a pending request either way, a block either way, or a bunny "
        "dismissed in the last 90 days. One page: `next` is always null.",
        parameters=[
            OpenApiParameter("limit", OpenApiTypes.INT, description="1 to 50, default 10.")
        ],
        responses=list_schema(SuggestionSerializer, "SuggestionList"),
    )
    def get(self, request):
        raw = request.query_params.get("limit", "10")
        if not raw.isdigit() or not 1 <= int(raw) <= graph_suggestions.MAX_LIMIT:
            raise serializers.ValidationError({"limit": ["Use a number from 1 to 50."]})
        suggestions = graph_suggestions.suggestions_for(request.user, limit=int(raw))
        # Every suggested bunny is a stranger to the viewer by construction: no state lookup.
        profile = ProfileSerializer(context={"request": request, "friendship_states": {}})
        results = [
            {
                "profile": profile.to_representation(item.user),
                "mutual_count": item.mutual_count,
                "mutual_sample": [friend.username for friend in item.mutual_sample],
                "reason": item.reason,
            }
            for item in suggestions
        ]
        return Response({"results": results, "next": None})


class DismissSuggestionView(APIView):
    @extend_schema(
        summary="Not now: stop suggesting this bunny for 90 days",
        request=None,
        responses={204: None},
    )
    def post(self, request, username):
        bunny = selectors.get_bunny_for(request.user, username)
        graph_services.dismiss_suggestion(user=request.user, dismissed=bunny)
        return Response(status=status.HTTP_204_NO_CONTENT)
