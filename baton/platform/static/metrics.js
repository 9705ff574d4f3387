/* Draws the metrics pages' charts from the JSON block each page embeds (Chart.js, local). */
(function () {
  "use strict";
  var block = document.getElementById("chart-data");
  if (!block || typeof Chart === "undefined") { return; }
  var data = JSON.parse(block.textContent);
  var percent = function (v) { return v === null ? null : Math.round(v * 1000) / 10; };
  var base = { responsive: true, maintainAspectRatio: false, animation: false,
               plugins: { legend: { position: "bottom" } } };
  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) { new Chart(canvas, Object.assign({ options: base }, config)); }
  }
  if (data.funnel) {
    draw("funnel-chart", { type: "bar", data: { labels: data.funnel.labels,
      datasets: [{ label: "Referrals", data: data.funnel.values, backgroundColor: "#2b6cb0" }] } });
  }
  if (data.trend) {
    draw("trend-chart", { type: "line", data: { labels: data.trend.labels, datasets: [
      { label: "Referrals sent", data: data.trend.sent, borderColor: "#2b6cb0", yAxisID: "y" },
      { label: "Sent → attended (%)", data: data.trend.connected.map(percent),
        borderColor: "#2f855a", yAxisID: "pct" }] },
      options: Object.assign({}, base, { scales: { y: { beginAtZero: true, position: "left" },
        pct: { beginAtZero: true, max: 100, position: "right", grid: { drawOnChartArea: false } } } }) });
  }
  if (data.groups) {
    draw("groups-chart", { type: "bar", data: { labels: data.groups.labels, datasets: [
      { label: "Sent → attended (%)", data: data.groups.connected.map(percent),
        backgroundColor: "#2f855a" }] },
      options: Object.assign({}, base, { scales: { y: { beginAtZero: true, max: 100 } } }) });
  }
  if (data.bounces) {
    draw("bounce-chart", { type: "bar", data: { labels: data.bounces.labels,
      datasets: data.bounces.series.map(function (s, i) {
        var colours = ["#c53030", "#dd6b20", "#d69e2e", "#2f855a", "#2b6cb0", "#6b46c1", "#718096"];
        return { label: s.label, data: s.values, backgroundColor: colours[i % colours.length] };
      }) },
      options: Object.assign({}, base, { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } }) });
  }
})();
