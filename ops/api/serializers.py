from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from pms_project.serializers import ModelSerializer

from .. import pipelines
from ..models import PipelineRun

STEP_STATUSES = ["running", "succeeded", "failed"]


class PipelineStepSerializer(serializers.Serializer):
    """One step of a run, in the pipeline's order; a step never reached is absent."""

    name = serializers.CharField()
    status = serializers.ChoiceField(choices=STEP_STATUSES)
    started_at = serializers.DateTimeField(required=False)
    attempt = serializers.IntegerField(required=False, help_text="1, then one more per retry")
    seconds = serializers.FloatField(required=False)
    result = serializers.JSONField(required=False, help_text="what the step's service returned")
    error = serializers.CharField(required=False)


class PipelineRunSerializer(ModelSerializer):
    portfolio = serializers.CharField(source="portfolio.code", read_only=True)
    steps = serializers.SerializerMethodField()
    seconds = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = PipelineRun
        fields = [
            "id",
            "portfolio",
            "pipeline",
            "business_date",
            "status",
            "steps",
            "failed_step",
            "error",
            "note",
            "forced",
            "attempts",
            "refusals",
            "started_at",
            "finished_at",
            "seconds",
        ]

    @extend_schema_field(PipelineStepSerializer(many=True))
    def get_steps(self, run: PipelineRun) -> list[dict]:
        order = [s.name for s in pipelines.STEPS.get(run.pipeline, ())]
        named = [{"name": name, **run.steps[name]} for name in order if name in run.steps]
        return PipelineStepSerializer(named, many=True).data
