from __future__ import annotations

from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    """Every list of the API: `{count, next, previous, results}`, `page` and `page_size` (≤ 100)."""

    page_size_query_param = "page_size"
    max_page_size = 100
