"""The morning pack as a terminal report (``manage.py morning_pack``): the stored sections,
formatted for reading (SPEC §10: thousands separators, money to 2 decimals, percentages to 2
decimals, negatives signed with −)."""

from __future__ import annotations

from pms_project.formatting import DASH, money, pct, qty

WIDTH = 96


def _signed(value) -> str:
    text = pct(value)
    return f"+{text}" if value is not None and float(value) > 0 else text


def _title(text: str) -> list[str]:
    return ["", text.upper(), "─" * min(WIDTH, max(len(text), 20))]


def _table(headers: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(headers), line(["─" * w for w in widths]), *(line(r) for r in rows)]


def render(pack: dict) -> str:
    h = pack["header"]
    out = [
        f"MORNING PACK  {pack['portfolio']} — {pack['name']}",
        f"for {pack['date']}, as of the close of {pack['as_of']} ({pack['base_currency']})",
    ]
    out += [f"! {w}" for w in pack["warnings"]]
    out += _title("Header")
    out.append(f"NAV {money(h['nav'])}")
    out += _table(
        ["", "P&L", "TWR"],
        [[p, money(h["pnl"][p]), _signed(h["twr"][p])] for p in ("1D", "MTD", "YTD")],
        {1, 2},
    )

    out += _title("Market moves")
    out += _table(
        ["symbol", "class", "ccy", "held", "sig", "close", "date", "1D", "1W", "1M"],
        [
            [
                m["symbol"],
                m["asset_class"],
                m["currency"],
                "yes" if m["held"] else "",
                "yes" if m["signalled"] else "",
                qty(m["close"]),
                m["close_date"] or DASH,
                *(_signed(m["moves"][k]) for k in ("1D", "1W", "1M")),
            ]
            for m in pack["market_moves"]
        ],
        {5, 7, 8, 9},
    )

    positions = pack["positions"]
    for key, label in (("top_exposure", "by |exposure|"), ("top_movers", "by |daily P&L|")):
        out += _title(f"Positions: top {len(positions[key])} {label} of {positions['count']}")
        out += _table(
            ["symbol", "strategy", "quantity", "price", "exposure", "daily P&L", "total P&L"],
            [
                [
                    r["symbol"],
                    r["strategy"],
                    qty(r["quantity"]),
                    qty(r["price"]),
                    money(r["exposure"]),
                    money(r["daily_pnl"]),
                    money(r["total_pnl"]),
                ]
                for r in positions[key]
            ],
            {2, 3, 4, 5, 6},
        )

    risk = pack["risk"]
    out += _title("Risk")
    var = risk["var"]
    out += _table(
        ["", "amount", "% NAV"],
        [
            [name, money(var[key]["amount"]), pct(var[key]["nav_fraction"])]
            for key, name in (
                ("var_95", "VaR 95"),
                ("var_99", "VaR 99"),
                ("es_975", "ES 97.5"),
                ("parametric_var_95", "parametric VaR 95"),
                ("parametric_var_99", "parametric VaR 99"),
            )
        ],
        {1, 2},
    )
    exposures = risk["exposures"]
    out.append(
        f"{risk['scenarios']} scenarios"
        + (" — insufficient history" if risk["insufficient_history"] else "")
        + f"; gross {money(exposures['gross'])}, net {money(exposures['net'])}, leverage "
        + (DASH if exposures["leverage"] is None else f"{exposures['leverage']:.2f}x")
    )
    out += _table(
        ["limit", "value", "soft", "hard", "used", "status"],
        [
            [
                r["metric"],
                pct(r["value"]),
                pct(r["soft"]),
                pct(r["hard"]),
                pct(r["utilization"]),
                r["status"].upper() if r["status"] != "ok" else "ok",
            ]
            for r in risk["limits"]
        ],
        {1, 2, 3, 4},
    )
    breaches = ", ".join(r["metric"] for r in risk["breaches"]) or "none"
    out.append(f"breaches: {breaches}")

    out += _title(f"Pending proposals ({len(pack['proposals'])})")
    for p in pack["proposals"]:
        impact = (
            f"VaR 99 {money(p['var_99_before'])} → {money(p['var_99_after'])}, worst limit "
            f"{pct(p['utilization_before'])} → {pct(p['utilization_after'])}"
            + (" — BREAKS A HARD LIMIT" if p["breaks_hard_limit"] else "")
        )
        out.append(
            f"#{p['id']} {p['date']} {p['strategy']} {p['side']} {qty(p['quantity'])} "
            f"{p['symbol']} @ {qty(p['price'])} ({p['source']}, {p['created_by']})"
        )
        if p["rationale"]:
            out.append(f"    {p['rationale']}")
        out.append(f"    {impact}")
    if not pack["proposals"]:
        out.append("none")

    a = pack["attribution"]
    out += _title(f"Attribution MTD by strategy ({a['first_date']} to {a['last_date']})")
    out.append(f"P&L {money(a['pnl'])}, TWR {_signed(a['twr'])} over {a['days']} day(s)")
    out += _table(
        ["strategy", "P&L", "contribution"],
        [[r["key"], money(r["pnl"]), _signed(r["contribution"])] for r in a["rows"]],
        {1, 2},
    )

    out += _title("Alerts")
    out += [
        f"{al['date']} {al['metric']}: {al['message']} (used {pct(al['utilization'])})"
        for al in pack["alerts"]
    ] or ["none"]
    return "\n".join(out) + "\n"
