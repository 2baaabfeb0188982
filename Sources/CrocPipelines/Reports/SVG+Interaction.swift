extension SVG {
    /// The page's one script, inlined (no network, no library): on every line chart, a click
    /// activates the chart, then the wheel zooms time about the pointer, a drag pans, a
    /// double-click resets, and the pointer shows the date and each series' value. With the URL
    /// hash `#check-interaction` it also drives each chart with real events and marks the figure
    /// `data-check="ok"` or `"failed"` (CI's headless-browser check reads it).
    static let interactionScript = #"""
        (function () {
          "use strict";
          function nearest(a, v) {
            var lo = 0, hi = a.length - 1;
            if (hi < 0) return -1;
            while (hi - lo > 1) { var m = (lo + hi) >> 1; if (a[m] < v) lo = m; else hi = m; }
            return v - a[lo] <= a[hi] - v ? lo : hi;
          }
          function fmt(v) {
            var a = Math.abs(v);
            if (a >= 1e5) return v.toFixed(0);
            if (a >= 1) return v.toFixed(2);
            return v.toPrecision(4);
          }
          function setup(fig) {
            var d;
            try { d = JSON.parse(fig.querySelector("script.chart-data").textContent); } catch (e) { return; }
            if (!d.s.length || !(d.x1 > d.x0)) return;
            var svg = fig.querySelector("svg"), lines = svg.querySelector("g.lines"), cross = svg.querySelector("line.cross");
            var marks = svg.querySelectorAll(".marker"), ticks = svg.querySelectorAll("text.xt"), vbw = svg.viewBox.baseVal.width;
            var tickAt = [];
            ticks.forEach(function (t) { tickAt.push(parseFloat(t.getAttribute("x"))); });
            var tip = document.createElement("div");
            tip.className = "tip";
            fig.appendChild(tip);
            var v0 = d.x0, v1 = d.x1, drag = null, first = d.s[0];
            function dataX(X) { return v0 + (X - d.l) / d.w * (v1 - v0); }
            function draw() {
              var a = (d.x1 - d.x0) / (v1 - v0), c = d.l + (d.x0 - v0) / (v1 - v0) * d.w - a * d.l;
              lines.setAttribute("transform", "matrix(" + a + " 0 0 1 " + c + " 0)");
              marks.forEach(function (m) {
                var t = m.getAttribute("transform"), y = t.slice(t.indexOf(",") + 1, -1);
                m.setAttribute("transform", "translate(" + (a * parseFloat(m.getAttribute("data-x")) + c) + "," + y + ")");
              });
              ticks.forEach(function (t, k) {
                var i = nearest(first.x, dataX(tickAt[k]));
                if (i >= 0) t.textContent = first.xt[i];
              });
            }
            function pointerX(e) { var r = svg.getBoundingClientRect(); return (e.clientX - r.left) / r.width * vbw; }
            function clamp(lo, hi) {
              var span = Math.min(d.x1 - d.x0, Math.max(hi - lo, (d.x1 - d.x0) / 2000));
              lo = Math.max(d.x0, Math.min(lo, d.x1 - span));
              v0 = lo; v1 = lo + span;
              draw();
            }
            function hover(e) {
              var X = pointerX(e);
              if (X < d.l || X > d.l + d.w) { cross.setAttribute("visibility", "hidden"); tip.style.display = "none"; return; }
              var x = dataX(X), i = nearest(first.x, x), rows = [first.xt[i]];
              d.s.forEach(function (s) { var j = nearest(s.x, x); if (j >= 0) rows.push(s.n + ": " + fmt(s.y[j])); });
              cross.setAttribute("x1", X); cross.setAttribute("x2", X); cross.setAttribute("visibility", "visible");
              tip.textContent = rows.join("  ·  ");
              tip.style.display = "block";
            }
            svg.addEventListener("wheel", function (e) {
              if (!fig.classList.contains("active")) return;
              e.preventDefault();
              var x = dataX(pointerX(e)), f = e.deltaY < 0 ? 0.8 : 1.25;
              clamp(x - (x - v0) * f, x - (x - v0) * f + (v1 - v0) * f);
            }, { passive: false });
            svg.addEventListener("pointerdown", function (e) {
              document.querySelectorAll("figure.ix.active").forEach(function (o) { if (o !== fig) o.classList.remove("active"); });
              fig.classList.add("active");
              drag = { X: pointerX(e), v0: v0 };
              try { svg.setPointerCapture(e.pointerId); } catch (err) { /* synthetic events have no pointer to capture */ }
            });
            svg.addEventListener("pointermove", function (e) {
              if (drag) { var dx = (pointerX(e) - drag.X) / d.w * (v1 - v0); clamp(drag.v0 - dx, drag.v0 - dx + (v1 - v0)); }
              hover(e);
            });
            svg.addEventListener("pointerup", function () { drag = null; });
            svg.addEventListener("pointerleave", function () { cross.setAttribute("visibility", "hidden"); tip.style.display = "none"; });
            svg.addEventListener("dblclick", function () { clamp(d.x0, d.x1); });
            fig.setAttribute("data-interactive", "ready");
          }
          document.querySelectorAll("figure.ix").forEach(setup);
          // CI's check (scripts/check_report.sh opens the page with this hash): zoom in, pan and hover every
          // interactive chart with real events and record on the figure whether each did what it should.
          if (location.hash === "#check-interaction") {
            document.querySelectorAll("figure.ix[data-interactive=ready]").forEach(function (fig) {
              var svg = fig.querySelector("svg"), r = svg.getBoundingClientRect(), lines = svg.querySelector("g.lines");
              var at = { clientX: r.left + r.width * 0.6, clientY: r.top + r.height / 2, bubbles: true, pointerId: 1 };
              svg.dispatchEvent(new PointerEvent("pointerdown", at));
              svg.dispatchEvent(new PointerEvent("pointerup", at));
              for (var k = 0; k < 3; k++) svg.dispatchEvent(new WheelEvent("wheel", Object.assign({ deltaY: -100, cancelable: true }, at)));
              var zoomed = /^matrix\(([0-9.]+) /.exec(lines.getAttribute("transform") || "");
              svg.dispatchEvent(new PointerEvent("pointermove", at));
              var tip = fig.querySelector("div.tip");
              var ok = zoomed && parseFloat(zoomed[1]) > 1.9 && tip.style.display === "block" && tip.textContent.length > 0;
              svg.dispatchEvent(new MouseEvent("dblclick", at));
              ok = ok && /^matrix\(1 0 0 1 0 0\)$/.test(lines.getAttribute("transform"));
              fig.setAttribute("data-check", ok ? "ok" : "failed");
            });
          }
        })();
        """#

    /// The styles of the interactive parts (tooltip, crosshair, active chart).
    static let interactionCSS = """
        figure.ix{position:relative}figure.ix svg{cursor:crosshair;touch-action:pan-y}figure.ix.active{outline:2px solid #3366cc55}
        figure.ix figcaption::after{content:" · click, then wheel to zoom, drag to pan, double-click to reset";font-weight:400;font-size:12px;color:#8a94a3}
        .lines path{vector-effect:non-scaling-stroke}.cross{stroke:#8a94a3;stroke-width:1}
        .tip{display:none;position:absolute;left:14px;top:34px;background:rgba(255,255,255,.92);border:1px solid #dde2e8;border-radius:4px;padding:2px 6px;font-size:12px;pointer-events:none;font-variant-numeric:tabular-nums}
        """
}
