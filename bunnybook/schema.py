"""OpenAPI schema additions: the error answers of shared/API.md's conventions, written into
every operation, so the schema describes every status code a client can get (and schema
fuzzing can hold the API to it)."""

ERROR_COMPONENT = "Error"
ERROR_SCHEMA = {
    "type": "object",
    "description": '`{"detail": "..."}`, or `{"field": ["message", ...], ...}` for bad input.',
    "additionalProperties": True,
}
# Status code -> (description, whether only requests with a body can get it).
ERROR_ANSWERS = {
    "400": ("Bad input.", False),
    "401": ("No token, or a bad, expired or sanctioned one.", False),
    "403": ("Signed in, but not allowed.", False),
    "404": ("Missing, or not visible to you.", False),
    "409": ("Conflicts with the current state.", True),
    "413": ("The request body is too large.", True),
    "429": ("Rate limited; see Retry-After.", False),
}
BODY_METHODS = {"post", "put", "patch"}


def document_error_answers(result, generator, request, public):
    """drf-spectacular postprocessing hook: add the shared error answers to every
    operation that does not describe them itself."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components[ERROR_COMPONENT] = ERROR_SCHEMA
    reference = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for code, (description, needs_body) in ERROR_ANSWERS.items():
                if needs_body and method not in BODY_METHODS:
                    continue
                operation["responses"].setdefault(
                    code,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": reference}},
                    },
                )
    return result
