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
    const width = () => Math.max(260, box.clientWidth);
    const chart = new uPlot(
      {
        width: width(),
        height: 220,
        scales: { y: { range: (u, min, max) => [0, Math.max(1, max * 1.15)] } },
        axes: [{}, { label: 'seconds', size: 60 }],
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
