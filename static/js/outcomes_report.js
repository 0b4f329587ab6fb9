// The outcomes report's charts (Chart.js, served from node_modules as vendor/chartjs). Each chart
// is drawn from the JSON the page embeds; its numbers are also in the table beside it. A small
// group's value is null: Chart.js leaves the bar out, so no figure appears for too few clients.
(function () {
  "use strict";
  var source = document.getElementById("report-chart-data");
  if (!source || typeof Chart === "undefined") return;
  var palette = ["#2f6f8f", "#6aa84f", "#f1c232", "#e69138", "#cc4125"];
  JSON.parse(source.textContent).forEach(function (chart) {
    var canvas = document.getElementById(chart.id);
    if (!canvas) return;
    var stacked = chart.kind === "stacked";
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: chart.labels,
        datasets: chart.datasets.map(function (d, i) {
          return { label: d.label, data: d.data, backgroundColor: palette[i % palette.length] };
        }),
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: { x: { stacked: stacked }, y: { stacked: stacked, beginAtZero: true } },
        plugins: { legend: { position: "bottom" } },
      },
    });
  });
})();
