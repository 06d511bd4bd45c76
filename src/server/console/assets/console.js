// The console's live updates. A run page subscribes to its run's server-sent events; after each journal
// record it fetches the run's body again (server-rendered, the same HTML as the page) and swaps it in.
// Forms a person is filling in are kept as they are. Without JavaScript the page still works: reload it.
(() => {
  'use strict';
  const root = document.getElementById('run-body');
  if (root === null || typeof EventSource === 'undefined') return;
  const runId = root.dataset.run;
  const live = `/runs/${encodeURIComponent(runId)}/live`;
  const FINAL = ['succeeded', 'failed', 'cancelled', 'rolled-back'];
  let source;
  let timer;
  let busy = false;
  let again = false;

  const dirty = (form) =>
    form.contains(document.activeElement) ||
    [...form.elements].some(
      (field) =>
        (field.type === 'file' && field.files && field.files.length > 0) ||
        ((field.tagName === 'TEXTAREA' || field.type === 'text' || field.type === '') && field.value !== ''),
    );

  const swap = (text) => {
    const current = document.getElementById('run-body');
    const template = document.createElement('template');
    template.innerHTML = text;
    const next = template.content.getElementById('run-body');
    if (current === null || next === null) return;
    // keep what a person is typing: the same form (same action) moves over to the new body
    for (const form of current.querySelectorAll('form')) {
      if (!dirty(form)) continue;
      const same = [...next.querySelectorAll('form')].find(
        (f) => f.getAttribute('action') === form.getAttribute('action'),
      );
      if (same) same.replaceWith(form);
    }
    next.dataset.live = current.dataset.live || '';
    current.replaceWith(next);
    if (FINAL.includes(next.dataset.status)) stop('finished');
  };

  const refresh = async () => {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      const answer = await fetch(live, { credentials: 'same-origin', headers: { accept: 'text/html' } });
      if (answer.ok) swap(await answer.text());
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

  // records come in bursts (a step starting and finishing): one fetch for each burst
  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 25);
  };

  const mark = (state) => {
    const body = document.getElementById('run-body');
    if (body) body.dataset.live = state;
  };

  const stop = (state) => {
    if (source) source.close();
    mark(state);
  };

  if (FINAL.includes(root.dataset.status)) return;
  source = new EventSource(`/api/v1/runs/${encodeURIComponent(runId)}/events?afterSeq=${root.dataset.head}`);
  source.addEventListener('ready', () => {
    mark('connected');
    // anything that happened between rendering and subscribing
    soon();
  });
  source.addEventListener('journal', soon);
  source.addEventListener('run', soon);
  source.addEventListener('error', () => mark('reconnecting'));
})();
