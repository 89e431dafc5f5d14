from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("pipeline-runs/", views.PipelineRunListView.as_view(), name="ops-pipeline-runs"),
]
