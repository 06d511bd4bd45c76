// A drill job's page, live: on each `drill` event for this job the page is fetched again and its
// #drill-job section swapped in, until the job ends. Without JavaScript, reloading shows the same.
(() => {
  'use strict';
  const root = document.getElementById('drill-job');
  if (root === null || root.dataset.status !== 'running' || typeof EventSource === 'undefined') return;
  const id = root.dataset.job;
  const source = new EventSource('/api/v1/events');
  let busy = false;
  let again = false;
  const refresh = async () => {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      const answer = await fetch(location.pathname, {
        credentials: 'same-origin',
        headers: { accept: 'text/html' },
      });
      if (!answer.ok) return;
      const template = document.createElement('template');
      template.innerHTML = await answer.text();
      const next = template.content.getElementById('drill-job');
      const current = document.getElementById('drill-job');
      if (next === null || current === null) return;
      current.replaceWith(next);
      if (next.dataset.status !== 'running') source.close();
    } catch {
      // the next event tries again
    } finally {
      busy = false;
      if (again) {
        again = false;
        void refresh();
      }
    }
  };
  source.addEventListener('drill', (event) => {
    if (JSON.parse(event.data).data.id === id) void refresh();
  });
})();
