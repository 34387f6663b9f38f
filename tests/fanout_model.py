"""A model for fan-out tests: the flagship plus an explore whose one_to_many join repeats dim_service."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FANOUT = """\
version: 1
explores:
  - name: dim_service
    joins:
      - {view: fact_cost_service_daily}
"""


NUMBER_OVER_FANOUT = """\
      - {name: cost_per_service, type: number, sql: "${fact_cost_service_daily.sum_total_cost} / NULLIF(${service_count}, 0)"}
      - {name: total_sla_error_rate, type: sum, sql: "${sla_error_rate}", hidden: true}
      - {name: sla_error_rate_x1000, type: number, sql: "1000 * ${total_sla_error_rate}"}
"""


def fanout_model(tmp_path: Path) -> Path:
    """The flagship model plus an explore dim_service -> fact_cost_service_daily (one_to_many) and
    number measures of dim_service built from its count and sum (repeated by that join)."""
    model = tmp_path / "semantic"
    shutil.copytree(ROOT / "semantic", model)
    (model / "fanout.yml").write_text(FANOUT, encoding="utf-8")
    text = (model / "warehouse.yml").read_text(encoding="utf-8")
    (model / "warehouse.yml").write_text(text.replace("      - fact_performance_cost_joined\n",
                                                      "      - fact_performance_cost_joined\n      - dim_service\n"))
    dimensions = (model / "dimensions.yml").read_text(encoding="utf-8")
    anchor = "      - {name: service_count, type: count}\n"
    (model / "dimensions.yml").write_text(dimensions.replace(anchor, anchor + NUMBER_OVER_FANOUT, 1), encoding="utf-8")
    return model


FANOUT_TRUTH = """
    WITH services AS (SELECT team, COUNT(*) AS n, SUM(sla_error_rate) AS sla FROM dim_service GROUP BY 1),
         cost AS (SELECT s.team, SUM(c.total_cost) AS cost FROM fact_cost_service_daily c
                  JOIN dim_service s ON s.service_key = c.service_key GROUP BY 1)
    SELECT services.team, cost.cost / services.n, 1000 * services.sla
    FROM services LEFT JOIN cost USING (team) ORDER BY 1 NULLS LAST"""
