"""The pre-trade check a proposal carries: the risk app's impact, summarized into its fields."""

from __future__ import annotations

from ..models import TradeProposal


def worst_utilization(limits: list[dict]) -> float | None:
    values = [row["utilization"] for row in limits if row["utilization"] is not None]
    return max(values) if values else None


def store_impact(proposal: TradeProposal, impact: dict) -> None:
    """Copy ``risk.pretrade`` output onto the (unsaved) proposal: VaR 99 and the worst limit
    utilization before and after, whether a hard limit breaks, and one row per limit with its
    value before and after — compact, as a generation run stores hundreds of them at once."""
    before, after = impact["before"], impact["after"]
    proposal.var_99_before = before["var_99"]
    proposal.var_99_after = after["var_99"]
    proposal.utilization_before = worst_utilization(before["limits"])
    proposal.utilization_after = worst_utilization(after["limits"])
    proposal.breaks_hard_limit = impact["breaks_hard_limit"]
    value_before = {row["metric"]: row["value"] for row in before["limits"]}
    proposal.risk_impact = {
        "nav": impact["nav"],
        "exposure_added": impact["exposure_added"],
        "hard_breaches": impact["hard_breaches"],
        "scenarios": [before["scenarios"], after["scenarios"]],
        "insufficient_history": [before["insufficient_history"], after["insufficient_history"]],
        "var_99_fraction": [before["var_99_fraction"], after["var_99_fraction"]],
        # metric, soft, hard, value before, value after, utilization after, status after
        "limits": [
            [
                row["metric"],
                float(row["soft"]),
                float(row["hard"]),
                value_before.get(row["metric"]),
                row["value"],
                row["utilization"],
                row["status"],
            ]
            for row in after["limits"]
        ],
    }


IMPACT_FIELDS = [
    "var_99_before",
    "var_99_after",
    "utilization_before",
    "utilization_after",
    "breaks_hard_limit",
    "risk_impact",
]
