/* Draws every <canvas data-usher-chart="ID"> from the json_script #ID written by the
 * template include usher/chart.html (series built by usher/dashboard/charts.py).
 * Safe to load several times on one page: each canvas is drawn once. Numbers and money
 * are formatted in the page's language (<html lang>). */
(function () {
  "use strict";
  var COLORS = ["#2f6fed", "#c2410c", "#15803d", "#7c3aed", "#b91c1c", "#0e7490"];

  function formatter(axis, currency, locale) {
    if (axis === "money" && currency) {
      return new Intl.NumberFormat(locale, { style: "currency", currency: currency, maximumFractionDigits: 2 });
    }
    return new Intl.NumberFormat(locale, { maximumFractionDigits: axis === "ratio" ? 2 : 0 });
  }

  function draw(canvas) {
    if (canvas.dataset.usherChartDrawn || typeof window.Chart === "undefined") return;
    var source = document.getElementById(canvas.dataset.usherChart);
    if (!source) return;
    canvas.dataset.usherChartDrawn = "1";
    var spec = JSON.parse(source.textContent);
    var locale = document.documentElement.lang || undefined;
    var scales = {};
    var formats = {};
    var datasets = spec.datasets.map(function (d, i) {
      var color = COLORS[i % COLORS.length];
      if (!scales[d.axis]) {
        formats[d.axis] = formatter(d.axis, spec.currency, locale);
        scales[d.axis] = {
          type: "linear",
          beginAtZero: true,
          position: Object.keys(scales).length === 0 ? "left" : "right",
          grid: { drawOnChartArea: Object.keys(scales).length === 0 },
          ticks: { callback: (function (f) { return function (v) { return f.format(v); }; })(formats[d.axis]) }
        };
      }
      var out = { label: d.label, data: d.data, yAxisID: d.axis, borderColor: color,
                  backgroundColor: color + "99", tension: 0.25, spanGaps: true };
      if (d.type) out.type = d.type;
      return out;
    });
    new window.Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        locale: locale,
        interaction: { mode: "index", intersect: false },
        scales: scales,
        plugins: {
          tooltip: {
            callbacks: {
              label: function (ctx) {
                var axis = spec.datasets[ctx.datasetIndex].axis;
                return ctx.dataset.label + ": " + (ctx.raw === null ? "–" : formats[axis].format(ctx.raw));
              }
            }
          }
        }
      }
    });
  }

  function drawAll() {
    Array.prototype.forEach.call(document.querySelectorAll("canvas[data-usher-chart]"), draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
  window.addEventListener("load", drawAll);
})();
