"""Admin for friendships, blocks, posts, comments, likes and the graph outbox.

Relations are read-only: only the services may write them, since every friendship change
must reach the graph outbox and the live events. Posts and comments can be removed with a
moderation action, which calls reports.services.remove_content (audited)."""

from django.contrib import admin
from django.db.models import Q
from django.utils.html import format_html

from accounts.forms import NoteForm
from bunnybook.admin import ReadOnlyAdmin, changelist_url, excerpt, link, run_with_form
from reports import services as report_services
from reports.models import TargetType
from social.models import (
    Block,
    Comment,
    CommentLike,
    FriendRequest,
    Friendship,
    GraphOutbox,
    Post,
    PostLike,
    SuggestionDismissal,
)

PAIR_SEARCH = ["=user_a__username", "=user_b__username"]


class ContentAdmin(ReadOnlyAdmin):
    """Posts and comments: moderators read them and remove them (with a reason)."""

    target_type = ""
    actions = ["remove"]
    show_full_result_count = False

    @admin.action(description="Remove selected (moderation)…")
    def remove(self, request, queryset):
        def apply(content, data):
            report_services.remove_content(
                target_type=self.target_type,
                target=content,
                moderator=request.user,
                reason=data["note"],
            )

        return run_with_form(
            self, request, queryset, form_class=NoteForm, title="Remove", apply=apply
        )

    @admin.display(description="Author", ordering="author__username")
    def author_link(self, content):
        return link(content.author)

    @admin.display(description="Text")
    def text(self, content):
        return excerpt(content.body)

    def reports_link(self, content):
        url = changelist_url(_report_model(), target_type=self.target_type, target_id=content.pk)
        return format_html('<a href="{}">Reports of this {}</a>', url, self.target_type)


def _report_model():
    from reports.models import Report

    return Report


@admin.register(Post)
class PostAdmin(ContentAdmin):
    target_type = TargetType.POST
    list_display = [
        "id",
        "author_link",
        "wall_link",
        "text",
        "visibility",
        "like_count",
        "comment_count",
        "created_at",
    ]
    list_select_related = ["author", "wall"]
    list_filter = ["visibility", "created_at"]
    search_fields = ["=author__username", "=wall__username", "body"]
    ordering = ["-created_at", "-id"]
    fields = [
        "author_link",
        "wall_link",
        "body",
        "visibility",
        "created_at",
        "edited_at",
        "like_count",
        "comment_count",
        "related",
    ]
    readonly_fields = fields

    @admin.display(description="Wall", ordering="wall__username")
    def wall_link(self, post):
        return link(post.wall)

    @admin.display(description="Related")
    def related(self, post):
        return format_html(
            '<a href="{}">Comments</a> · <a href="{}">Likes</a> · {} · '
            '<a href="{}">On the site</a>',
            changelist_url(Comment, post__id__exact=post.pk),
            changelist_url(PostLike, post__id__exact=post.pk),
            self.reports_link(post),
            post.get_absolute_url(),
        )


@admin.register(Comment)
class CommentAdmin(ContentAdmin):
    target_type = TargetType.COMMENT
    list_display = ["id", "post_link", "author_link", "text", "like_count", "created_at"]
    list_select_related = ["post", "author"]
    list_filter = ["created_at"]
    search_fields = ["=author__username", "body"]
    ordering = ["-created_at", "-id"]
    fields = [
        "post_link",
        "author_link",
        "body",
        "created_at",
        "edited_at",
        "like_count",
        "related",
    ]
    readonly_fields = fields

    @admin.display(description="Post", ordering="post_id")
    def post_link(self, comment):
        return link(comment.post, f"Post {comment.post_id}")

    @admin.display(description="Related")
    def related(self, comment):
        return format_html(
            '<a href="{}">Likes</a> · {}',
            changelist_url(CommentLike, comment__id__exact=comment.pk),
            self.reports_link(comment),
        )


@admin.register(Friendship)
class FriendshipAdmin(ReadOnlyAdmin):
    list_display = ["id", "bunny_a", "bunny_b", "created_at"]
    list_select_related = ["user_a", "user_b"]
    list_filter = ["created_at"]
    search_fields = PAIR_SEARCH
    show_full_result_count = False
    fields = ["bunny_a", "bunny_b", "created_at"]
    readonly_fields = fields

    @admin.display(description="Bunny", ordering="user_a__username")
    def bunny_a(self, friendship):
        return link(friendship.user_a)

    @admin.display(description="Bunny", ordering="user_b__username")
    def bunny_b(self, friendship):
        return link(friendship.user_b)

    def get_search_results(self, request, queryset, search_term):
        # "ann" finds Ann's friendships on either side of the pair.
        if not search_term:
            return queryset, False
        term = search_term.strip()
        return queryset.filter(
            Q(user_a__username__iexact=term) | Q(user_b__username__iexact=term)
        ), False


@admin.register(FriendRequest)
class FriendRequestAdmin(ReadOnlyAdmin):
    list_display = ["id", "sender", "addressee", "created_at"]
    list_select_related = ["from_user", "to_user"]
    list_filter = ["created_at"]
    search_fields = ["=from_user__username", "=to_user__username"]
    fields = ["sender", "addressee", "created_at"]
    readonly_fields = fields

    @admin.display(description="From", ordering="from_user__username")
    def sender(self, request):
        return link(request.from_user)

    @admin.display(description="To", ordering="to_user__username")
    def addressee(self, request):
        return link(request.to_user)


@admin.register(Block)
class BlockAdmin(ReadOnlyAdmin):
    list_display = ["id", "blocker_link", "blocked_link", "created_at"]
    list_select_related = ["blocker", "blocked"]
    list_filter = ["created_at"]
    search_fields = ["=blocker__username", "=blocked__username"]
    fields = ["blocker_link", "blocked_link", "created_at"]
    readonly_fields = fields

    @admin.display(description="Blocker", ordering="blocker__username")
    def blocker_link(self, block):
        return link(block.blocker)

    @admin.display(description="Blocked", ordering="blocked__username")
    def blocked_link(self, block):
        return link(block.blocked)


class LikeAdmin(ReadOnlyAdmin):
    list_filter = ["created_at"]
    show_full_result_count = False

    @admin.display(description="Bunny", ordering="user__username")
    def bunny(self, like):
        return link(like.user)


@admin.register(PostLike)
class PostLikeAdmin(LikeAdmin):
    list_display = ["id", "bunny", "post_link", "created_at"]
    list_select_related = ["user", "post"]
    search_fields = ["=user__username"]
    fields = ["bunny", "post_link", "created_at"]
    readonly_fields = fields

    @admin.display(description="Post", ordering="post_id")
    def post_link(self, like):
        return link(like.post, f"Post {like.post_id}: {excerpt(like.post.body, 40)}")


@admin.register(CommentLike)
class CommentLikeAdmin(LikeAdmin):
    list_display = ["id", "bunny", "comment_link", "created_at"]
    list_select_related = ["user", "comment"]
    search_fields = ["=user__username"]
    fields = ["bunny", "comment_link", "created_at"]
    readonly_fields = fields

    @admin.display(description="Comment", ordering="comment_id")
    def comment_link(self, like):
        return link(like.comment, f"Comment {like.comment_id}: {excerpt(like.comment.body, 40)}")


class OutboxStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("pending", "Pending"), ("failing", "Pending with errors"), ("done", "Done")]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.pending()
        if self.value() == "failing":
            return queryset.pending().filter(attempts__gt=0)
        if self.value() == "done":
            return queryset.filter(done_at__isnull=False)
        return queryset


@admin.register(GraphOutbox)
class GraphOutboxAdmin(ReadOnlyAdmin):
    """Friendship changes on their way to Neo4j; `graph_sync` replays what is pending."""

    list_display = [
        "id",
        "op",
        "user_a_id",
        "user_b_id",
        "created_at",
        "done_at",
        "attempts",
        "error",
    ]
    list_filter = [OutboxStateFilter, "op"]
    search_fields = ["=user_a_id", "=user_b_id"]
    ordering = ["-id"]
    show_full_result_count = False

    @admin.display(description="Last error")
    def error(self, row):
        return excerpt(row.last_error, 60)


@admin.register(SuggestionDismissal)
class SuggestionDismissalAdmin(ReadOnlyAdmin):
    list_display = ["id", "bunny", "dismissed_bunny", "dismissed_at"]
    list_select_related = ["user", "dismissed"]
    search_fields = ["=user__username"]
    list_filter = ["dismissed_at"]
    fields = ["bunny", "dismissed_bunny", "dismissed_at"]
    readonly_fields = fields

    @admin.display(description="Bunny", ordering="user__username")
    def bunny(self, row):
        return link(row.user)

    @admin.display(description="Not now for", ordering="dismissed__username")
    def dismissed_bunny(self, row):
        return link(row.dismissed)
