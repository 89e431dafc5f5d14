"""Thin, read-only views of the pipeline runs (the pipelines write them)."""

from __future__ import annotations

import django_filters

from pms_project.filters import StrictFilterSet
from portfolio.api.views import PortfolioListView

from .. import selectors
from ..choices import Pipeline, RunStatus
from ..models import PipelineRun
from . import serializers as s


def _business_date(lookup: str) -> django_filters.DateFilter:
    # ISO dates only, as everywhere in the API.
    return django_filters.DateFilter(
        field_name="business_date", lookup_expr=lookup, input_formats=["%Y-%m-%d"]
    )


# Declared by their wire names ("from" is a keyword), so errors and the schema name them.
PipelineRunFilter = type(
    "PipelineRunFilter",
    (StrictFilterSet,),
    {
        "__module__": __name__,
        "pipeline": django_filters.ChoiceFilter(choices=Pipeline.choices),
        "status": django_filters.ChoiceFilter(choices=RunStatus.choices),
        "from": _business_date("gte"),
        "to": _business_date("lte"),
        "Meta": type("Meta", (), {"model": PipelineRun, "fields": ["pipeline", "status"]}),
    },
)


class PipelineRunListView(PortfolioListView):
    """The EOD and pre-open runs of the portfolio, newest business date first: status, each
    step's time and result, the failed step and its error (`pipeline`, `status`, `from`, `to`)."""

    serializer_class = s.PipelineRunSerializer
    filterset_class = PipelineRunFilter

    def portfolio_queryset(self, portfolio):
        return selectors.pipeline_run_list(portfolio)
