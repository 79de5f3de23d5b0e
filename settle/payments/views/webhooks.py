"""Stripe webhooks (R1): `POST /payments/webhooks/<processor id>/`. Public; the signature authorizes."""

from django.http import HttpResponse, HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from settle.companies.access import public

from ..processors.base import InvalidSignature, MalformedEvent
from ..services.webhooks import RetryLater, UnknownProcessor, handle_webhook


@csrf_exempt
@public
@require_POST
def stripe_webhook(request, processor_id: int):
    """400 for a bad or missing signature or a signed but malformed event (nothing changes); 503 to be retried; 200 once handled."""
    try:
        outcome = handle_webhook(
            processor_id=processor_id,
            payload=request.body,
            signature=request.headers.get("Stripe-Signature", ""),
            **({"parsed": request.checked_json} if hasattr(request, "checked_json") else {}),
        )
    except UnknownProcessor:
        return HttpResponse("Unknown processor.", status=404, content_type="text/plain")
    except InvalidSignature:
        return HttpResponseBadRequest("Invalid signature.", content_type="text/plain")
    except MalformedEvent:
        return HttpResponseBadRequest("Malformed event.", content_type="text/plain")
    except RetryLater as exc:
        return HttpResponse(exc.message, status=503, content_type="text/plain")
    return HttpResponse(str(outcome), content_type="text/plain")
