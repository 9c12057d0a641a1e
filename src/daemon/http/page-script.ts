/**
 * /assets/page.js, the status pages' one script (same origin, so the CSP needs no inline script):
 * it follows /events and swaps the page's <main> for a fresh one when the daemon says something
 * changed, and sends the cluster page's actions with the API token, kept in sessionStorage (this tab
 * only; never a cookie, so no other site can make the browser send it).
 */
export const PAGE_SCRIPT = `'use strict';
(() => {
  const KEY = 'corral-api-token';
  let timer;
  const refresh = async () => {
    const res = await fetch(location.href, { cache: 'no-store' });
    if (!res.ok) return;
    const next = new DOMParser().parseFromString(await res.text(), 'text/html');
    const fresh = next.querySelector('main');
    const main = document.querySelector('main');
    if (!fresh || !main) return;
    main.replaceWith(fresh);
    document.title = next.title;
    bind();
  };
  const events = new EventSource('/events');
  events.addEventListener('change', () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 100);
  });
  const say = (text) => {
    const out = document.getElementById('action-result');
    if (out) out.textContent = text;
  };
  const act = async (button) => {
    const token = sessionStorage.getItem(KEY);
    if (!token) return say('Enter the API token first.');
    const { action, cluster } = button.dataset;
    const res = await fetch('/api/clusters/' + encodeURIComponent(cluster) + '/' + action, { method: 'POST', headers: { authorization: 'Bearer ' + token } });
    const body = await res.json().catch(() => ({}));
    say(res.ok ? action + ' ' + cluster + ': ' + (body.message || 'done') : action + ' refused (' + res.status + '): ' + (body.message || body.error || res.statusText));
  };
  const bind = () => {
    for (const b of document.querySelectorAll('button[data-action]')) b.onclick = () => act(b);
  };
  const form = document.getElementById('token-form');
  if (form) {
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const input = document.getElementById('token');
      sessionStorage.setItem(KEY, input.value.trim());
      input.value = '';
      say('Token kept for this tab.');
    });
  }
  bind();
})();
`;
