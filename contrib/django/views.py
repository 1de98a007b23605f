"""The Prometheus endpoint: ``path("solrsync/", include("solrsync.contrib.django.urls"))`` serves
``/solrsync/metrics`` (see README, Metrics). No access control of its own, as Prometheus
scrapes without logging in: expose it on an internal address, or restrict it in the web server."""
from django.http import HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client.exposition import choose_encoder

from .runtime import get_metrics


@require_GET
def metrics(request):
    encoder, content_type = choose_encoder(request.META.get("HTTP_ACCEPT", ""))
    return HttpResponse(encoder(get_metrics()), content_type=content_type)
