"""Schemathesis hooks for contract/run.sh (loaded by contract/schemathesis.toml).

Three rules of the API depend on who calls or on what was sent before, which no schema can
say. These hooks keep the generated requests inside those rules. They relax no check, and they
only ever touch a member that is absent or already schema-valid, so a schema-violating case
stays one (Schemathesis re-validates a case after `before_call` changes it).
"""

import itertools
import re
import uuid
from collections.abc import MutableMapping

import schemathesis

REGISTER = "registerPersonClient"
UPDATE = "updatePersonClient"
# What the server takes as an Idempotency-Key: 1 to 255 visible ASCII characters.
_ACCEPTED_IDEMPOTENCY_KEY = re.compile(r"[!-~]{1,255}")
_request_number = itertools.count(1)
# Keys are remembered for 24 hours, so runs against the same database must not reuse them.
_run = uuid.uuid4().hex[:12]


def _operation_id(context):
    return context.operation.definition.raw.get("operationId") if context.operation else None


@schemathesis.hook
def before_load_schema(context, raw_schema):
    """The run uses an organization key (organization 1), as partners do.

    `organization_id` is for admin keys (docs/API-DESIGN.md, "Access"): the list's
    `?organization_id=` and the registration's and webhook endpoint's body member
    `organization_id` are refused for an organization key (`400 unknown_parameter`, `422 read_only_field`), by design, and the spec
    cannot tie a member to a kind of key. So the tests see the spec as an organization key
    does: without those members.
    """
    list_clients = raw_schema["paths"]["/api/v1/clients"]["get"]
    list_clients["parameters"] = [
        p for p in list_clients.get("parameters", []) if p.get("name") != "organization_id"
    ]
    schemas = raw_schema["components"]["schemas"]
    for body in ("RegisterPersonIn", "CreateWebhookEndpoint"):
        schemas[body]["properties"].pop("organization_id", None)


@schemathesis.hook
def before_call(context, case, kwargs):
    operation = _operation_id(context)
    if operation == REGISTER:
        _fresh_idempotency_key(case)
    elif operation == UPDATE:
        _blacklisting_has_a_comment(case)


def _fresh_idempotency_key(case):
    """An Idempotency-Key sent again with another body is `422 idempotency_key_reused`.

    That is the contract (docs/API-DESIGN.md, "Safe retries"), but it depends on what was sent
    before, and Hypothesis draws short keys ("0", "a") again and again for different bodies.
    A key the server accepts gets a per-run and per-request suffix, so that each registration
    uses its own key, as a client does. A key it refuses (empty, too long, not visible ASCII) is left as it
    is, so those cases still reach the server as generated.
    """
    headers = case.headers
    if not isinstance(headers, MutableMapping):
        return
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and _ACCEPTED_IDEMPOTENCY_KEY.fullmatch(key):
        headers["Idempotency-Key"] = f"{key[:200]}.{_run}.{next(_request_number)}"


def _blacklisting_has_a_comment(case):
    """A blacklisted client needs a `blacklisted_comment`, from the body or already stored.

    After an update, `is_blacklisted` true requires a non-empty comment (docs/API-DESIGN.md;
    `422 blacklisted_comment_required` otherwise). Whether the stored client is blacklisted or
    has a comment depends on earlier requests, so the schema cannot say which bodies break the
    rule. Two schema-valid bodies can: one that blacklists (`is_blacklisted: true`) without a
    comment (absent, null or blank), and one that clears the comment (blank) without
    un-blacklisting (`is_blacklisted` not false) while the stored client may be blacklisted.
    Those get a comment.
    """
    body = case.body
    if not isinstance(body, MutableMapping):
        return
    blacklisted = body.get("is_blacklisted")
    comment = body.get("blacklisted_comment")
    blank = isinstance(comment, str) and not comment.strip()
    if (blacklisted is True and (comment is None or blank)) or (blacklisted is not False and blank):
        body["blacklisted_comment"] = "Listed by the contract tests"
