"""The API at /api/v1/: one NinjaAPI, its routers, and the OpenAPI 3.1 description it serves.

The description is generated from the endpoints' signatures and schemas; `get_openapi_schema`
adds what the code cannot say by itself: error bodies are `application/problem+json`, POST
takes an `Idempotency-Key`, 429 carries `Retry-After`, and links from each created or listed
resource to the operations that use its id (for clients and fuzzers that follow them).
"""

from ninja import NinjaAPI
from ninja.openapi.docs import Swagger

from . import errors
from .auth import ApiKeyAuth
from .endpoints import clients, invoices, ledger, payments
from .errors import PROBLEM_JSON

DESCRIPTION = """\
Settle's public API. Authenticate with a company API key (Settings > API keys):
`Authorization: Bearer settle_…`. A key acts at its access level (Admin, Bookkeeper or
Viewer) with the same rules as a person of that level.

Money is a decimal string with its currency (`{"amount": "120.00", "currency": "USD"}`);
amounts sent are decimal strings too. Dates are ISO 8601. Lists page with `cursor`
(the previous page's `next_cursor`) and `limit`. Errors are RFC 9457 problem details.
A POST with an `Idempotency-Key` header is done once: repeating it with the same body
replays the first answer; the same key with another body is refused (409).
"""

# operationId -> {link name: (target operationId, parameter, runtime expression)}
_BY_ID = {
    "client": [("get_client", "client_id"), ("update_client", "client_id"), ("delete_client", "client_id"),
               ("list_invoices", "client_id"), ("list_credit_notes", "client_id")],
    "invoice": [("get_invoice", "invoice_id"), ("update_invoice", "invoice_id"), ("email_invoice", "invoice_id"),
                ("create_manual_payment", "invoice_id"), ("list_card_payments", "invoice_id"),
                ("list_refunds", "invoice_id"), ("void_invoice", "invoice_id"), ("list_disputes", "invoice_id"),
                ("list_credit_notes", "invoice_id")],
    "entry": [("get_journal_entry", "entry_id")],
    "account": [("get_account", "account_id")],
    "card_payment": [("get_card_payment", "payment_id"), ("list_refunds", "card_payment_id"),
                     ("list_disputes", "card_payment_id")],
    "refund": [("get_refund", "refund_id")],
    "problem": [("get_payment_problem", "problem_id"), ("resolve_payment_problem", "problem_id")],
    "processor": [("get_processor", "processor_id"), ("list_payouts", "processor_id")],
    "dispute": [("get_dispute", "dispute_id")],
    "payout": [("get_payout", "payout_id")],
    "credit_note": [("get_credit_note", "credit_note_id")],
}
_SOURCES = {
    "create_client": ("client", "201", "#/id"), "get_client": ("client", "200", "#/id"),
    "list_clients": ("client", "200", "#/data/0/id"),
    "create_invoice": ("invoice", "201", "#/id"), "get_invoice": ("invoice", "200", "#/id"),
    "update_invoice": ("invoice", "200", "#/id"), "list_invoices": ("invoice", "200", "#/data/0/id"),
    "create_manual_payment": ("invoice", "201", "#/invoice_id"),
    "create_journal_entry": ("entry", "201", "#/id"), "list_journal_entries": ("entry", "200", "#/data/0/id"),
    "list_accounts": ("account", "200", "#/data/0/id"),
    "list_card_payments": ("card_payment", "200", "#/data/0/id"),
    "list_refunds": ("refund", "200", "#/data/0/id"),
    "list_payment_problems": ("problem", "200", "#/data/0/id"),
    "list_processors": ("processor", "200", "#/data/0/id"),
    "list_disputes": ("dispute", "200", "#/data/0/id"),
    "list_payouts": ("payout", "200", "#/data/0/id"),
    "list_credit_notes": ("credit_note", "200", "#/data/0/id"),
}


class SettleAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        problem_ref = {"$ref": "#/components/schemas/Problem"}
        operations = {}
        for path_item in schema["paths"].values():
            for method, operation in path_item.items():
                operations[operation["operationId"]] = operation
                operation["summary"] = operation["operationId"].replace("_", " ").capitalize()
                responses = {str(status): response for status, response in operation.get("responses", {}).items()}
                operation["responses"] = responses
                for status, response in responses.items():
                    if status.isdigit() and int(status) >= 400:
                        response["content"] = {PROBLEM_JSON: {"schema": problem_ref}}
                        if status == "429":
                            response["headers"] = {
                                "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
                            }
                        if status == "401":
                            response["headers"] = {
                                "WWW-Authenticate": {"description": "Bearer.", "schema": {"type": "string"}}
                            }
                if method == "post":
                    operation.setdefault("parameters", []).append({
                        "in": "header", "name": "Idempotency-Key", "required": False,
                        "description": "Do this POST once: a repeat with the same body replays the first answer.",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
                    })
        for source_id, (kind, status, pointer) in _SOURCES.items():
            response = operations.get(source_id, {}).get("responses", {}).get(status)
            if response is None:
                continue
            links = response.setdefault("links", {})
            for target_id, parameter in _BY_ID[kind]:
                if target_id in operations and target_id != source_id:
                    links[target_id] = {"operationId": target_id, "parameters": {parameter: f"$response.body{pointer}"}}
        return schema


api = SettleAPI(
    title="Settle API",
    version="1",
    description=DESCRIPTION,
    auth=ApiKeyAuth(),
    urls_namespace="api_v1",
    docs=Swagger(settings={"persistAuthorization": False}),
    docs_url="/docs",
    openapi_url="/openapi.json",
)
errors.install(api)
api.add_router("", clients.router)
api.add_router("", invoices.router)
api.add_router("", payments.router)
api.add_router("", ledger.router)
