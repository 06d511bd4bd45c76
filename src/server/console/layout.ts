/**
 * The console's page shell and the small formatting helpers every page shares. Pages are tagged
 * templates from `hono/html`: interpolated values are escaped, `raw` marks the few trusted fragments.
 */
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { Principal } from '../auth.ts';

export type Fragment = HtmlEscapedString | Promise<HtmlEscapedString>;

export interface PageOptions {
  title: string;
  principal: Principal | undefined;
  /** The nav entry to mark as current. */
  current?: 'readiness' | 'runs' | 'drills' | 'runbooks';
  body: Fragment;
  /** Extra scripts served by drctl, e.g. `/console/assets/drills.js`. */
  scripts?: string[];
  styles?: string[];
}

const NAV = [
  { id: 'readiness', href: '/', label: 'Readiness' },
  { id: 'runs', href: '/runs', label: 'Runs' },
  { id: 'drills', href: '/drills', label: 'Drills' },
  { id: 'runbooks', href: '/runbooks', label: 'Runbooks' },
] as const;

export function page(options: PageOptions): Fragment {
  const { principal } = options;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${options.title} · drctl</title>
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href="/console/assets/console.css" />
        ${(options.styles ?? []).map((href) => html`<link rel="stylesheet" href="${href}" />`)}
        ${principal?.csrf === undefined ? '' : html`<meta name="csrf-token" content="${principal.csrf}" />`}
        <script src="/console/assets/console.js" defer></script>
        ${(options.scripts ?? []).map((src) => html`<script src="${src}" defer></script>`)}
      </head>
      <body>
        <header class="top">
          <a class="brand" href="/">drctl</a>
          ${
            principal === undefined
              ? ''
              : html`<nav>
                    ${NAV.map(
                      (item) =>
                        html`<a
                          href="${item.href}"
                          ${item.id === options.current ? 'aria-current="page"' : ''}
                          >${item.label}</a
                        >`,
                    )}
                  </nav>
                  <form class="who" method="post" action="/sign-out">
                    ${csrfField(principal)}
                    <span>${principal.name} <small>${principal.role}</small></span>
                    <button type="submit" class="link">Sign out</button>
                  </form>`
          }
        </header>
        <main>${options.body}</main>
      </body>
    </html>`;
}

/** The hidden field every mutating form carries (the core checks it against the session). */
export function csrfField(principal: Principal | undefined): Fragment {
  return html`<input type="hidden" name="_csrf" value="${principal?.csrf ?? ''}" />`;
}

/** `1 h 5 min`, `42 s`, `350 ms`: durations as people read them. */
export function duration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '–';
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(ms)} ms`;
  if (abs < 60_000) return `${(ms / 1000).toFixed(abs < 10_000 ? 1 : 0)} s`;
  if (abs < 3_600_000) {
    const min = Math.floor(abs / 60_000);
    const s = Math.round((abs % 60_000) / 1000);
    return `${min} min${s > 0 ? ` ${s} s` : ''}`;
  }
  if (abs < 86_400_000) {
    const h = Math.floor(abs / 3_600_000);
    const min = Math.round((abs % 3_600_000) / 60_000);
    return `${h} h${min > 0 ? ` ${min} min` : ''}`;
  }
  return `${Math.round(abs / 86_400_000)} d`;
}

/** How long ago an ISO time was, with the exact time on hover. */
export function ago(iso: string | undefined, now = Date.now()): Fragment {
  if (iso === undefined) return html`<span class="muted">never</span>`;
  return html`<time datetime="${iso}" title="${iso}">${duration(now - Date.parse(iso))} ago</time>`;
}

export function statusBadge(status: string): Fragment {
  return html`<span class="badge status-${status}">${status}</span>`;
}

/** A refusal or a note shown once at the top of a page. */
export function noticeLine(text: string | undefined): Fragment {
  return text === undefined ? html`` : html`<p class="notice" role="alert">${text}</p>`;
}
