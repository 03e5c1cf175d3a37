// Draws the charts a benchmark page describes in <script id="perf-charts"> (see perfbench/reports.py):
// each entry names its canvas, x labels and datasets; an entry with "choices" gets a metric picker.
(function () {
  "use strict";
  const source = document.getElementById("perf-charts");
  if (!source || !window.Chart) return;

  function config(spec, datasets, yTitle) {
    const axes = spec.axes || { y: yTitle || "" };
    const scales = { x: { title: { display: true, text: spec.xTitle } } };
    Object.entries(axes).forEach(([id, title], index) => {
      scales[id] = {
        position: index === 0 ? "left" : "right",
        beginAtZero: true,
        title: { display: Boolean(title), text: title },
        grid: { drawOnChartArea: index === 0 },
      };
    });
    return {
      type: "line",
      data: { labels: spec.x, datasets: datasets.map((d) => ({ ...d, spanGaps: true, tension: 0.2, pointRadius: 4 })) },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: scales,
      },
    };
  }

  JSON.parse(source.textContent).forEach((spec) => {
    const canvas = document.getElementById(spec.canvas);
    if (!canvas) return;
    if (!spec.choices) {
      new window.Chart(canvas, config(spec, spec.datasets));
      return;
    }
    if (!spec.choices.length) return;
    const picker = document.getElementById(spec.canvas + "-choice");
    const chart = new window.Chart(canvas, config(spec, spec.choices[0].datasets, spec.choices[0].yTitle));
    if (!picker) return;
    spec.choices.forEach((choice, index) => picker.add(new Option(choice.label, String(index))));
    picker.addEventListener("change", () => {
      const choice = spec.choices[Number(picker.value)];
      chart.data.datasets = config(spec, choice.datasets).data.datasets;
      chart.options.scales.y.title.text = choice.yTitle;
      chart.update();
    });
  });
})();
