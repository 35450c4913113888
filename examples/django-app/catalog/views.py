import os

from django.http import HttpResponse
from django.templatetags.static import static

from catalog.models import Product


def index(request):
    names = ", ".join(Product.objects.order_by("name").values_list("name", flat=True))
    release = os.environ.get("GITDEPLOY_RELEASE", "?")
    return HttpResponse(f"{release} products: {names} css: {static('catalog/site.css')}\n")
