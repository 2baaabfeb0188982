/// The status page: one self-contained HTML file (no network beyond its
/// own `/api/status`), refreshed every second.
enum StatusPage {
    static let html = #"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>CrocBot live</title>
        <style>
        body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#0f172a;color:#e2e8f0}
        header{padding:12px 20px;background:#111827;display:flex;gap:16px;align-items:baseline;flex-wrap:wrap}
        h1{font-size:18px;margin:0}.muted{color:#94a3b8}
        main{padding:16px 20px;display:grid;gap:16px}
        .kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:10px}
        .kpi{background:#1e293b;border-radius:8px;padding:10px}.kpi b{display:block;font-size:18px}
        .card{background:#1e293b;border-radius:8px;padding:12px;overflow:auto}
        svg{width:100%;height:260px;display:block}
        table{border-collapse:collapse;width:100%;font-size:13px}td,th{padding:4px 8px;text-align:right;border-bottom:1px solid #334155}
        th:first-child,td:first-child{text-align:left}.buy{color:#4ade80}.sell{color:#f87171}
        #error{color:#f87171}
        </style></head>
        <body>
        <header><h1>CrocBot live</h1><span id="strategy" class="muted"></span><span id="feed" class="muted"></span>
        <span id="updated" class="muted"></span><span id="error"></span></header>
        <main>
        <section class="kpis">
          <div class="kpi">Equity<b id="equity">–</b></div><div class="kpi">Position<b id="position">–</b></div>
          <div class="kpi">Cash<b id="cash">–</b></div><div class="kpi">Drawdown<b id="drawdown">–</b></div>
          <div class="kpi">Bars<b id="bars">–</b></div><div class="kpi">Last bar<b id="lastbar">–</b></div>
          <div class="kpi">Uptime<b id="uptime">–</b></div><div class="kpi">Ready<b id="ready">–</b></div>
        </section>
        <section class="card"><div class="muted">Equity</div>
          <svg id="chart" viewBox="0 0 1000 260" preserveAspectRatio="none">
            <polyline id="equity-line" fill="none" stroke="#38bdf8" stroke-width="2" vector-effect="non-scaling-stroke" points=""></polyline>
          </svg>
          <div class="muted"><span id="ymin"></span> – <span id="ymax"></span> · <span id="npoints">0</span> points</div>
        </section>
        <section class="card"><div class="muted">Open orders</div><table id="orders"><thead><tr><th>id</th><th>side</th><th>size</th><th>type</th><th>created</th></tr></thead><tbody></tbody></table></section>
        <section class="card"><div class="muted">Recent fills</div><table id="fills"><thead><tr><th>order</th><th>side</th><th>qty</th><th>price</th><th>fee</th><th>time</th></tr></thead><tbody></tbody></table></section>
        <section class="card"><div class="muted">Safety</div>
          <div>Risk limits: <span id="risk">–</span></div>
          <div>Kill switch: <b id="kill">off</b> · Entries: <b id="paused">open</b> · Unresolved orders: <b id="unresolved">0</b> · Unknown fills: <b id="unknown">0</b></div>
          <div>Start-up reconciliation: <span id="recovery" class="muted">–</span></div>
          <table id="controls"><thead><tr><th>operator control</th><th>at</th><th>by</th></tr></thead><tbody></tbody></table>
        </section>
        </main>
        <script>
        const token = new URLSearchParams(location.search).get("token");
        const fmt = (x, d=2) => Number(x).toLocaleString(undefined,{minimumFractionDigits:d,maximumFractionDigits:d});
        const esc = s => String(s).replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
        function rows(id, items, cells) {
          document.querySelector("#" + id + " tbody").innerHTML = items.map(o => "<tr>" + cells(o).map(c => "<td>" + c + "</td>").join("") + "</tr>").join("");
        }
        async function refresh() {
          try {
            const r = await fetch("api/status" + (token ? "?token=" + encodeURIComponent(token) : ""), {headers: token ? {Authorization: "Bearer " + token} : {}});
            if (!r.ok) throw new Error("status " + r.status);
            const s = await r.json();
            document.getElementById("error").textContent = "";
            document.getElementById("strategy").textContent = s.strategy + " · " + s.symbol;
            document.getElementById("feed").textContent = s.feed + " → " + s.venue;
            document.getElementById("equity").textContent = fmt(s.equity);
            const held = Object.entries(s.positions || {});
            document.getElementById("position").textContent = held.length
              ? held.map(([k, v]) => k + " " + fmt(v, 0)).join(" · ") : fmt(s.position, 0);
            document.getElementById("cash").textContent = fmt(s.cash);
            document.getElementById("drawdown").textContent = fmt(100 * s.drawdown) + " %";
            document.getElementById("bars").textContent = s.bars;
            document.getElementById("lastbar").textContent = s.last_bar_time || "–";
            document.getElementById("uptime").textContent = fmt(s.uptime_seconds, 0) + " s";
            document.getElementById("ready").textContent = s.ready ? "yes" : "no";
            document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
            const pts = s.equity_curve;
            document.getElementById("npoints").textContent = pts.length;
            if (pts.length > 1) {
              const t0 = pts[0].t, t1 = pts[pts.length-1].t;
              let lo = Math.min(...pts.map(p => p.equity)), hi = Math.max(...pts.map(p => p.equity));
              if (hi === lo) { hi += 1; lo -= 1; }
              document.getElementById("ymin").textContent = fmt(lo);
              document.getElementById("ymax").textContent = fmt(hi);
              document.getElementById("equity-line").setAttribute("points", pts.map(p =>
                (1000 * (p.t - t0) / Math.max(1e-9, t1 - t0)).toFixed(1) + "," + (250 - 240 * (p.equity - lo) / (hi - lo)).toFixed(1)).join(" "));
            }
            rows("orders", s.open_orders, o => [esc(o.id), `<span class="${o.side}">${o.side}</span>`, esc(o.size), esc(o.type), esc(o.created)]);
            document.getElementById("risk").textContent = s.risk_limits || "none";
            document.getElementById("kill").textContent = s.kill_switch ? "ENGAGED: " + s.kill_switch : "off";
            document.getElementById("paused").textContent = s.paused ? "PAUSED" : "open";
            document.getElementById("unresolved").textContent = (s.unresolved_orders || []).length;
            document.getElementById("unknown").textContent = s.unknown_fills || 0;
            document.getElementById("recovery").textContent = s.recovery || "–";
            rows("controls", (s.controls || []).slice().reverse(), c => [esc(c.action), esc(c.at), esc(c.by)]);
            rows("fills", s.recent_fills.slice().reverse(), f => [esc(f.clientOrderID), `<span class="${f.side}">${f.side}</span>`, fmt(f.quantity, 0), fmt(f.price, 5), fmt(f.commission), esc(f.time)]);
          } catch (e) {
            document.getElementById("error").textContent = "⚠ " + e.message;
          }
        }
        refresh();
        setInterval(refresh, 1000);
        </script>
        </body></html>
        """#
}
