"""Offline interactive page of the covariate model: pick a province (level, …) or a year.

Like the LDAvis pages (:mod:`research.topics.ldavis`), everything is inline — the data as
JSON and a few lines of plain JavaScript drawing SVG — so the file opens without network
and is byte-stable. The reader chooses a covariate and one of its values and sees each
topic's estimated prevalence with its interval (the rows of
``topic_prevalence.csv``), topics labelled by their top words.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from research.io import write_text
from research.topics.ldavis import PAGE_HEAD, _script_safe

_PAGE = (
    PAGE_HEAD
    + """body {{ font-size: 13px; }}
select {{ font-size: 13px; margin-right: 1em; }}
.note {{ color: #555; max-width: 60em; }}
</style>
</head>
<body>
<h1 style="font-size:16px">{title}</h1>
<p class="note">{note}</p>
<label>Covariate <select id="cov"></select></label>
<label>Value <select id="val"></select></label>
<div id="chart"></div>
<script type="text/javascript">
var DATA = {data};
var covSel = document.getElementById("cov"), valSel = document.getElementById("val");
function opts(sel, values) {{
  sel.innerHTML = "";
  values.forEach(function (v) {{ var o = document.createElement("option"); o.value = v; o.textContent = v; sel.appendChild(o); }});
}}
function values(cov) {{
  var seen = [];
  DATA.rows.forEach(function (r) {{ if (r.covariate === cov && seen.indexOf(r.value) < 0) seen.push(r.value); }});
  return seen;
}}
function draw() {{
  var cov = covSel.value, val = valSel.value;
  var rows = DATA.rows.filter(function (r) {{ return r.covariate === cov && r.value === val; }});
  var xmax = 0;
  DATA.rows.forEach(function (r) {{ if (r.covariate === cov) xmax = Math.max(xmax, r.hi || 0, r.estimate || 0); }});
  var W = 760, L = 300, rowH = 22, H = rows.length * rowH + 40, ns = "http://www.w3.org/2000/svg";
  var svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", W); svg.setAttribute("height", H);
  function x(v) {{ return L + (W - L - 20) * v / (xmax || 1); }}
  function el(name, attrs, text) {{
    var e = document.createElementNS(ns, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    svg.appendChild(e); return e;
  }}
  rows.forEach(function (r, i) {{
    var y = 10 + i * rowH;
    el("text", {{x: L - 6, y: y + 14, "text-anchor": "end", "font-size": 12}}, "T" + r.topic + " " + DATA.labels[r.topic]);
    el("rect", {{x: L, y: y + 3, width: Math.max(0, x(r.estimate) - L), height: rowH - 8, fill: "#56B4E9"}});
    if (r.lo !== null && r.hi !== null) {{
      el("line", {{x1: x(r.lo), x2: x(r.hi), y1: y + rowH / 2, y2: y + rowH / 2, stroke: "black"}});
    }}
    el("text", {{x: x(Math.max(r.hi || 0, r.estimate)) + 4, y: y + 14, "font-size": 11}},
       r.estimate.toFixed(3) + (r.n_rep ? " (n=" + r.n_rep + ")" : ""));
  }});
  el("text", {{x: L, y: H - 8, "font-size": 11}}, "estimated prevalence (bar) with interval over replicates (line)");
  var c = document.getElementById("chart"); c.innerHTML = ""; c.appendChild(svg);
}}
opts(covSel, DATA.covariates);
covSel.onchange = function () {{ opts(valSel, values(covSel.value)); draw(); }};
valSel.onchange = draw;
opts(valSel, values(covSel.value)); draw();
</script>
</body>
</html>
"""
)


def write_prevalence_page(
    prevalence: pd.DataFrame, labels: dict[int, str], path: str | Path, title: str, note: str
) -> Path:
    """Write the self-contained page from the tidy prevalence table."""
    rows = []
    for r in prevalence.to_dict("records"):
        rows.append(
            {
                "topic": int(r["topic"]),
                "covariate": str(r["covariate"]),
                "value": str(r["value"]),
                "estimate": None if pd.isna(r["estimate"]) else float(r["estimate"]),
                "lo": None if pd.isna(r["lo"]) else float(r["lo"]),
                "hi": None if pd.isna(r["hi"]) else float(r["hi"]),
                "n_rep": int(r["n_rep"]),
            }
        )
    rows = [r for r in rows if r["estimate"] is not None]
    data = {
        "covariates": list(dict.fromkeys(r["covariate"] for r in rows)),
        "labels": {str(k): v for k, v in sorted(labels.items())},
        "rows": rows,
    }
    page = _PAGE.format(
        title=html.escape(title),
        note=html.escape(note),
        data=_script_safe(json.dumps(data, ensure_ascii=False, sort_keys=True)),
    )
    return write_text(page, path)
