// The RTO/RPO trend of each drill scenario, drawn with uPlot (served by drctl from its package).
(() => {
  'use strict';
  if (typeof uPlot === 'undefined') return;
  const seconds = (ms) => (ms === null ? null : ms / 1000);
  for (const box of document.querySelectorAll('.chart[data-trend]')) {
    const trend = JSON.parse(box.dataset.trend);
    const flat = (value) => trend.at.map(() => seconds(value));
    const data = [
      trend.at,
      trend.rtoMs.map(seconds),
      trend.rpoMs.map(seconds),
      flat(trend.targets.rtoMs),
      flat(trend.targets.rpoMs),
    ];
    // the axis follows the measurements: sub-second RTOs against a 30 s objective would otherwise be a flat
    // line at the bottom. An objective within reach of the data is drawn; one far above it is left to the
    // caption, which names every objective.
    const measured = [...data[1], ...data[2]].filter((value) => value !== null);
    const top = Math.max(0.05, ...measured);
    const objectives = [seconds(trend.targets.rtoMs), seconds(trend.targets.rpoMs)].filter(
      (value) => value !== null && value <= top * 3,
    );
    const yMax = Math.max(top, ...objectives) * 1.15;
    const label = yMax < 2 ? 'milliseconds' : 'seconds';
    box.dataset.yLabel = label;
    const width = () => Math.max(260, box.clientWidth);
    const chart = new uPlot(
      {
        width: width(),
        height: 220,
        scales: { y: { range: () => [0, yMax] } },
        // what the axis shows, for people reading the page's source and for the browser tests
        hooks: {
          setScale: [
            (u, key) => {
              if (key === 'y') box.dataset.yMax = String(u.scales.y.max);
            },
          ],
        },
        axes: [
          {},
          {
            label,
            size: 60,
            values: (u, splits) =>
              splits.map((value) =>
                label === 'milliseconds' ? Math.round(value * 1000) : +value.toFixed(2),
              ),
          },
        ],
        series: [
          {},
          { label: 'RTO measured', stroke: '#1f6feb', width: 2, points: { size: 7 } },
          { label: 'RPO measured', stroke: '#b35900', width: 2, points: { size: 7 } },
          { label: 'RTO objective', stroke: '#1f6feb', dash: [6, 4], points: { show: false } },
          { label: 'RPO objective', stroke: '#b35900', dash: [6, 4], points: { show: false } },
        ],
      },
      data,
      box,
    );

    new ResizeObserver(() => chart.setSize({ width: width(), height: 220 })).observe(box);
  }
})();
