"""Read-only scenario API for learners (prompts only: accepted answers stay private)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from scenarios.models import Scenario
from scenarios.rules import PENALTY_TYPES
from scenarios.selectors import scenario_get, scenario_list, scenario_rules_get


class RulesOutputSerializer(serializers.Serializer):
    lives = serializers.IntegerField()
    reward = serializers.IntegerField()
    penalties = serializers.DictField(child=serializers.DictField(child=serializers.IntegerField()))


class ScenarioOutputSerializer(serializers.Serializer):
    slug = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    language = serializers.CharField()
    difficulty = serializers.CharField()
    typed_answers = serializers.BooleanField()
    streaming_enabled = serializers.BooleanField()
    turn_count = serializers.IntegerField()
    rules = RulesOutputSerializer()


class TurnOutputSerializer(serializers.Serializer):
    index = serializers.IntegerField(source="order")
    prompt = serializers.CharField()


class ScenarioDetailOutputSerializer(ScenarioOutputSerializer):
    turns = TurnOutputSerializer(many=True)


def _scenario_data(scenario: Scenario, *, turns: bool) -> dict:
    rules = scenario_rules_get(scenario=scenario)
    data = {
        "slug": scenario.slug,
        "title": scenario.title,
        "description": scenario.description,
        "language": scenario.language,
        "difficulty": scenario.difficulty,
        "typed_answers": scenario.typed_answers,
        "streaming_enabled": scenario.streaming_enabled,
        "turn_count": getattr(scenario, "turn_count", None) or scenario.turns.count(),
        "rules": {
            "lives": rules.lives,
            "reward": rules.reward,
            "penalties": {
                name: {"lives": rules.penalty(name).lives, "points": rules.penalty(name).points}
                for name in PENALTY_TYPES
            },
        },
    }
    if turns:
        data["turns"] = list(scenario.turns.all())
    return data


class ScenarioListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=ScenarioOutputSerializer(many=True), operation_id="scenarios_list")
    def get(self, request: Request) -> Response:
        scenarios = [_scenario_data(scenario, turns=False) for scenario in scenario_list()]
        return Response(ScenarioOutputSerializer(scenarios, many=True).data)


class ScenarioDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=ScenarioDetailOutputSerializer, operation_id="scenarios_retrieve")
    def get(self, request: Request, slug: str) -> Response:
        try:
            scenario = scenario_get(slug=slug)
        except Scenario.DoesNotExist as missing:
            raise Http404(f"No scenario {slug!r}.") from missing
        return Response(ScenarioDetailOutputSerializer(_scenario_data(scenario, turns=True)).data)
