/** The console's pages as HTML (pure: data in, markup out); every value goes through `html`. */
import type { Catalog } from '../../catalog/load.js';
import type { Review } from '../match/review.js';
import { REASON_TEXT, type Reason } from '../publication/decide.js';
import type { Objection } from '../publication/objections.js';
import type { Repair } from '../publication/repairs.js';
import { resourcesChart, scorecardChart, trendsChart } from '../report/charts.js';
import type { QualityReport } from '../report/data.js';
import { type Lang, labelsFor, percent } from '../report/labels.js';
import type { DepartmentAttention } from './departments.js';
import type { EnterpriseHit, EnterpriseProfile, FiledRecord, PublicationState } from './enterprises.js';
import { type Html, html, svgImage } from './html.js';
import type { ConsoleLabels } from './labels.js';
import type { FileLine, RejectedFile, RunDetail, RunLine } from './runs.js';

export interface PageView {
  t: ConsoleLabels;
  lang: Lang;
  /** The path of the page, for the navigation's current item and the language switch. */
  path: string;
  signedIn: boolean;
  /** The forms' CSRF field, when signed in. */
  csrf: string | null;
}

const NAV: ReadonlyArray<readonly [string, keyof ConsoleLabels]> = [
  ['/', 'home'],
  ['/enterprises', 'enterprises'],
  ['/runs', 'runs'],
  ['/quality', 'quality'],
  ['/reviews', 'reviews'],
  ['/rejected', 'rejected'],
  ['/objections', 'objections'],
  ['/repairs', 'repairs'],
];

export function layout(view: PageView, title: string, body: Html): string {
  const { t } = view;
  const other = view.lang === 'en' ? 'zh' : 'en';
  const nav = NAV.map(
    ([href, key]) =>
      html`<a href="${href}" class="${href === view.path || (href !== '/' && view.path.startsWith(href)) ? 'here' : ''}">${t[key] as string}</a>`,
  );
  const account = view.signedIn
    ? html`<form class="inline" method="post" action="/logout"><input type="hidden" name="csrf" value="${view.csrf}"><button>${t.signOut}</button></form>`
    : html`<a href="/login">${t.signIn}</a>`;
  return html`<!doctype html>
<html lang="${view.lang === 'en' ? 'en' : 'zh-CN'}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · ${t.title}</title><link rel="stylesheet" href="/static/console.css"><link rel="icon" href="data:,"></head>
<body><header><strong>${t.title}</strong>${nav}<span class="right"><a href="?lang=${other}">${t.language}</a>${account}</span></header>
<main><h1>${title}</h1>${body}</main></body></html>`.text;
}

function table(head: readonly string[], rows: readonly unknown[][], id?: string): Html {
  return html`<table${id ? html` id="${id}"` : ''}><thead><tr>${head.map((h) => html`<th>${h}</th>`)}</tr></thead>
<tbody>${rows.map((r) => html`<tr>${r.map((c) => (typeof c === 'number' ? html`<td class="n">${c}</td>` : html`<td>${c}</td>`))}</tr>`)}</tbody></table>`;
}

function statusText(t: ConsoleLabels, status: string): Html {
  const bad = ['failed', 'partial', 'interrupted', 'rejected'].includes(status);
  return html`<span class="${bad ? 'bad' : 'ok'}">${t.statuses[status] ?? status}</span>`;
}

function time(value: string | null): string {
  return value ? value.slice(0, 19).replace('T', ' ') : '—';
}

export function runsTable(t: ConsoleLabels, runs: readonly RunLine[], id = 'runs'): Html {
  if (!runs.length) return html`<p>${t.none}</p>`;
  return table(
    [
      t.run,
      t.kind,
      t.status,
      t.started,
      t.finished,
      t.source,
      t.read,
      t.inserted,
      t.updated,
      t.quarantined,
      t.unmatched,
    ],
    runs.map((r) => [
      html`<a href="/runs/${r.runId}">#${r.runId}</a>`,
      r.kind,
      statusText(t, r.status),
      time(r.startedAt),
      time(r.finishedAt),
      r.sources.map((s) => s.source).join(', '),
      sum(r, 'read'),
      sum(r, 'inserted'),
      sum(r, 'updated'),
      sum(r, 'quarantined'),
      sum(r, 'unmatched'),
    ]),
    id,
  );
}

function sum(run: RunLine, key: 'read' | 'inserted' | 'updated' | 'quarantined' | 'unmatched'): number {
  return run.sources.reduce((n, s) => n + s[key], 0);
}

export function homePage(
  view: PageView,
  data: {
    last: RunLine[];
    attention: RunLine[];
    reviews: Review[];
    departments: DepartmentAttention;
    /** Open objections near (≤ 3 working days) or past their deadline. */
    objections: Objection[];
    today: string;
  },
): string {
  const { t } = view;
  const { late, silent } = data.departments;
  return layout(
    view,
    t.home,
    html`<h2>${t.attention}</h2>${runsTable(t, data.attention, 'attention')}
<h2>${t.lateDepartments}</h2>${
      late.length
        ? table(
            [t.department, t.late, t.measured],
            late.map((d) => [d.name, d.late, d.measured]),
            'late',
          )
        : html`<p>${t.none}</p>`
    }
<h2>${t.silentDepartments}</h2>${silent.length ? html`<p id="silent">${silent.map((d) => d.name).join('、')}</p>` : html`<p>${t.none}</p>`}
<h2>${t.objectionsDue}</h2>${data.objections.length ? objectionTable(view, data.objections, data.today, false, 'objections-due') : html`<p>${t.none}</p>`}
<h2>${t.waiting} (${data.reviews.length})</h2>${reviewList(view, data.reviews, false)}
<h2>${t.lastRuns}</h2>${runsTable(t, data.last)}`,
  );
}

export function searchPage(view: PageView, query: string, hits: EnterpriseHit[] | null): string {
  const { t } = view;
  const form = html`<form method="get" action="/enterprises"><input name="q" value="${query}" placeholder="${t.searchHint}" size="40" maxlength="100"> <button>${t.search}</button></form>`;
  const results =
    hits === null
      ? ''
      : hits.length
        ? table(
            [t.uscc, t.name, t.formerName, t.status],
            hits.map((h) => [
              html`<a href="/enterprises/${h.uscc}">${h.uscc}</a>`,
              h.name,
              h.formerName ?? '',
              h.status ?? '',
            ]),
            'hits',
          )
        : html`<p>${t.noHits}</p>`;
  return layout(view, t.enterprises, html`${form}${results}`);
}

function fieldList(catalog: Catalog, resource: string, fields: Record<string, unknown>): Html {
  const defs = catalog.resources.get(resource)?.current.fields ?? [];
  const titled = defs.filter((f) => fields[f.code] !== undefined && fields[f.code] !== null);
  const known = new Set(titled.map((f) => f.code));
  const rest = Object.keys(fields).filter((k) => !known.has(k));
  return html`<dl class="fields">${titled.map((f) => html`<dt>${f.title}</dt><dd>${fields[f.code]}</dd>`)}${rest.map((k) => html`<dt>${k}</dt><dd>${fields[k]}</dd>`)}</dl>`;
}

function recordRows(view: PageView, catalog: Catalog, records: readonly FiledRecord[], full: boolean): Html {
  const { t } = view;
  return table(
    [
      t.recordId,
      t.version,
      t.matchMethod,
      t.flags,
      t.disclosure,
      t.publication,
      t.department,
      t.receivedAt,
      t.fields,
    ],
    records.map((r) => [
      r.recordId,
      r.version,
      html`${r.matchMethod ? (t.methods[r.matchMethod] ?? r.matchMethod) : '—'}${r.matchScore !== null && r.matchScore < 1 ? ` (${r.matchScore})` : ''}`,
      r.matchFlags.join(', '),
      t.disclosures[r.disclosure] ?? r.disclosure,
      publicationCell(view, r.publication),
      r.department ?? '',
      time(r.receivedAt),
      html`${fieldList(catalog, r.resource, r.fields)}${
        full && r.history.length
          ? html`<details><summary>${t.history} (${r.history.length})</summary>${r.history.map(
              (h) =>
                html`<p class="muted">${t.version} ${h.version} · ${t.run} #${h.runId} · ${time(h.changedAt)}</p>${fieldList(catalog, r.resource, h.fields)}`,
            )}</details>`
          : ''
      }`,
    ]),
  );
}

/** A record's publication state, why (in Chinese, as `guiji publication show` says it) and its period. */
function publicationCell(view: PageView, p: PublicationState | null): Html | string {
  if (!p) return '—';
  const { t } = view;
  const why = p.reason ? (view.lang === 'zh' ? (REASON_TEXT[p.reason as Reason] ?? p.reason) : p.reason) : '';
  const period = p.publicFrom || p.publicUntil ? `${p.publicFrom ?? '…'} – ${p.publicUntil ?? '…'}` : '';
  return html`<span class="publication" data-state="${p.state}">${t.publicationStates[p.state] ?? p.state}</span><br><span class="muted">${why}</span><br><span class="muted">${period}</span>`;
}

export function profilePage(
  view: PageView,
  catalog: Catalog,
  profile: EnterpriseProfile,
  preview: FiledRecord[] | null,
): string {
  const { t } = view;
  const e = profile.enterprise;
  const records = preview ?? profile.records;
  const byResource = new Map<string, FiledRecord[]>();
  for (const r of records) byResource.set(r.resource, [...(byResource.get(r.resource) ?? []), r]);
  const facts = table(
    [t.uscc, t.regNo, t.legalRep, t.regDate, t.status, t.address, t.names],
    [
      [
        e.uscc,
        e.regNo ?? '',
        preview ? '' : (e.legalRep ?? ''),
        e.regDate ?? '',
        e.status ?? '',
        preview ? '' : (e.address ?? ''),
        e.names.join('；'),
      ],
    ],
    'enterprise',
  );
  const switcher = preview
    ? html`<p><a href="/enterprises/${e.uscc}">${t.fullView}</a></p>`
    : html`<p><a href="/enterprises/${e.uscc}?view=public">${t.publicPreview}</a></p>`;
  const sections = [...byResource].map(
    ([resource, list]) =>
      html`<section class="resource" data-resource="${resource}"><h2>${list[0]?.resourceName ?? resource} (${list.length})</h2>${recordRows(view, catalog, list, !preview)}</section>`,
  );
  return layout(
    view,
    preview ? `${e.name} · ${t.publicPreview}` : e.name,
    html`${facts}${switcher}<h2>${t.records} (${records.length})</h2>${sections.length ? sections : html`<p>${t.noRecords}</p>`}`,
  );
}

export function runsPage(
  view: PageView,
  runs: RunLine[],
  filter: { kind?: string | undefined; source?: string | undefined },
): string {
  const { t } = view;
  const form = html`<form method="get" action="/runs">${t.kind} <select name="kind">${[
    '',
    'run',
    'backfill',
    'demo',
  ].map(
    (k) =>
      html`<option value="${k}"${k === (filter.kind ?? '') ? html` selected` : ''}>${k || t.all}</option>`,
  )}</select> ${t.source} <select name="source">${['', 'drops', 'credit-platform', 'sharing-platform'].map(
    (s) =>
      html`<option value="${s}"${s === (filter.source ?? '') ? html` selected` : ''}>${s || t.all}</option>`,
  )}</select> <button>${t.filter}</button></form>`;
  return layout(view, t.runs, html`${form}${runsTable(t, runs)}`);
}

function filesTable(t: ConsoleLabels, runId: number, files: readonly FileLine[]): Html {
  if (!files.length) return html`<p>${t.none}</p>`;
  return table(
    [t.file, t.status, t.resource, t.read, t.quarantined, t.reason],
    files.map((f) => [
      f.rowsQuarantined
        ? html`<a href="/rejected?run=${runId}#${f.sha256}">${f.name}</a> · <a href="/runs/${runId}/files/${f.sha256}/feedback.xlsx">${t.feedback}</a>`
        : f.name,
      statusText(t, f.status),
      f.resources.join(', '),
      f.rowsRead,
      f.rowsQuarantined,
      f.reason ?? '',
    ]),
    'files',
  );
}

export function runPage(view: PageView, detail: RunDetail): string {
  const { t } = view;
  const r = detail.run;
  const sources = table(
    [
      t.source,
      t.status,
      t.read,
      t.inserted,
      t.updated,
      t.unchanged,
      t.quarantined,
      t.duplicates,
      t.unmatched,
      t.error,
    ],
    r.sources.map((s) => [
      s.source,
      statusText(t, s.status),
      s.read,
      s.inserted,
      s.updated,
      s.unchanged,
      s.quarantined,
      s.duplicates,
      s.unmatched,
      s.error ?? '',
    ]),
    'sources',
  );
  return layout(
    view,
    `${t.run} #${r.runId}`,
    html`<p>${t.kind}: ${r.kind} · ${t.status}: ${statusText(t, r.status)} · ${t.started}: ${time(r.startedAt)} · ${t.finished}: ${time(r.finishedAt)}</p>
${sources}<h2>${t.files}</h2>${filesTable(t, r.runId, detail.files)}<p><a href="/rejected?run=${r.runId}">${t.rejected}</a></p>`,
  );
}

export function qualityPage(view: PageView, month: string, report: QualityReport | null): string {
  const { t } = view;
  const form = html`<form method="get" action="/quality">${t.month} <input type="month" name="month" value="${month}"> <button>${t.show}</button></form>`;
  if (!report) return layout(view, t.quality, html`${form}<p>${t.noRun}</p>`);
  const rt = labelsFor(view.lang);
  const figs = [
    [t.read, report.totals.read],
    [t.quarantined, report.totals.quarantined],
    [t.complianceRate, percent(report.rates.complianceRate)],
    [t.lateRate, percent(report.rates.lateRate)],
    [t.matchRate, percent(report.rates.matchRate)],
  ].map(([k, v]) => html`<div class="fig">${k}<b>${v}</b></div>`);
  const departments = table(
    [t.department, t.score, t.read, t.quarantined, t.late, t.measured],
    report.departments.map((d) => [d.name, d.score ?? '—', d.read, d.quarantined, d.late, d.measured]),
    'departments',
  );
  const resources = table(
    [t.resource, t.read, t.inserted, t.updated, t.quarantined, t.unmatched, t.complianceRate, t.lateRate],
    report.resources.map((r) => [
      r.name,
      r.read,
      r.inserted,
      r.updated,
      r.quarantined,
      r.unmatched,
      percent(r.complianceRate),
      percent(r.lateRate),
    ]),
    'resources',
  );
  return layout(
    view,
    `${t.quality} · ${month}`,
    html`${form}<p><a href="/quality/full?month=${month}">${t.fullReport}</a></p>
<h2>${t.figures}</h2><div class="figs" id="figures">${figs}</div>
${departments}${svgImage(scorecardChart(report, rt), rt.scorecard)}
${resources}${svgImage(resourcesChart(report, rt), rt.resources)}
${svgImage(trendsChart(report, rt), rt.trends)}`,
  );
}

function reviewList(view: PageView, reviews: readonly Review[], actions: boolean): Html {
  const { t } = view;
  if (!reviews.length) return html`<p>${t.noReviews}</p>`;
  return table(
    ['#', t.resource, t.name, t.candidates, t.queuedAt],
    reviews.map((r) => [
      r.id,
      r.resource,
      r.name ?? '',
      html`${r.candidates.map(
        (c) =>
          html`<div>${c.name} <span class="muted">${c.uscc} (${c.score})</span>${
            actions && view.signedIn
              ? html` <form class="inline" method="post" action="/reviews/${r.id}/accept"><input type="hidden" name="csrf" value="${view.csrf}"><input type="hidden" name="uscc" value="${c.uscc}"><button>${t.accept}</button></form>`
              : ''
          }</div>`,
      )}${
        actions && view.signedIn
          ? html`<form class="inline" method="post" action="/reviews/${r.id}/reject"><input type="hidden" name="csrf" value="${view.csrf}"><button>${t.reject}</button></form>`
          : ''
      }`,
      time(r.queuedAt),
    ]),
    'reviews',
  );
}

export function reviewsPage(view: PageView, reviews: Review[], notice: string | null): string {
  const { t } = view;
  return layout(
    view,
    t.reviews,
    html`${notice ? html`<p class="ok" id="notice">${notice}</p>` : ''}${view.signedIn ? '' : html`<p class="muted">${t.signInNeeded} — <a href="/login">${t.signIn}</a></p>`}${reviewList(view, reviews, true)}`,
  );
}

export function rejectedPage(view: PageView, files: RejectedFile[]): string {
  const { t } = view;
  if (!files.length) return layout(view, t.rejected, html`<p>${t.noRejected}</p>`);
  return layout(
    view,
    t.rejected,
    html`${files.map(
      (f) =>
        html`<section id="${f.sha256 ?? ''}"><h2>${f.file || '—'} <span class="muted">(${t.run} #${f.runId}, ${f.rows} ${t.rows})</span></h2>${table(
          [t.sheet, t.row, t.resource, t.reason],
          f.sample.map((r) => [
            r.sheet ?? '',
            r.row ?? '',
            r.resource ?? '',
            html`${r.issues.map((i) => html`<div>${i.messageZh}${i.value ? html` <span class="muted">「${i.value}」</span>` : ''}</div>`)}`,
          ]),
        )}</section>`,
    )}`,
  );
}

export function loginPage(view: PageView, failed: boolean): string {
  const { t } = view;
  return layout(
    view,
    t.signIn,
    html`${failed ? html`<p class="bad">${t.refusedAction}</p>` : ''}<form method="post" action="/login"><label>${t.token} <input type="password" name="token" autocomplete="current-password"></label> <button>${t.signIn}</button></form>`,
  );
}

export function messagePage(view: PageView, title: string, message: string): string {
  return layout(view, title, html`<p>${message}</p>`);
}

/** The sign-in hint of the action pages, or nothing when signed in. */
function signInHint(view: PageView): Html | string {
  return view.signedIn
    ? ''
    : html`<p class="muted">${view.t.signInNeeded} — <a href="/login">${view.t.signIn}</a></p>`;
}

function csrfField(view: PageView): Html {
  return html`<input type="hidden" name="csrf" value="${view.csrf}">`;
}

function objectionTable(
  view: PageView,
  list: readonly Objection[],
  today: string,
  actions: boolean,
  id: string,
): Html {
  const { t } = view;
  if (!list.length) return html`<p>${t.noObjections}</p>`;
  return table(
    ['#', t.record, t.resource, t.received, t.deadline, t.status, t.reason, t.outcome],
    list.map((o) => [
      o.id,
      o.record,
      o.resource,
      o.received,
      html`<span class="${o.status === 'open' && o.deadline < today ? 'bad' : ''}">${o.deadline}</span>`,
      t.objectionStatuses[o.status] ?? o.status,
      o.reason,
      o.outcome
        ? (t.outcomes[o.outcome] ?? o.outcome)
        : actions && view.signedIn
          ? html`<form class="inline" method="post" action="/objections/${o.id}/resolve">${csrfField(view)}<select name="outcome">${Object.entries(
              t.outcomes,
            ).map(
              ([k, v]) => html`<option value="${k}">${v}</option>`,
            )}</select> <input name="note" placeholder="${t.note}" maxlength="2000"> <button>${t.resolve}</button></form>`
          : '',
    ]),
    id,
  );
}

export function objectionsPage(
  view: PageView,
  list: Objection[],
  today: string,
  filter: { open?: boolean | undefined; overdue?: boolean | undefined },
  notice: string | null,
): string {
  const { t } = view;
  const check = (name: string, on: boolean | undefined, label: string) =>
    html`<label><input type="checkbox" name="${name}" value="true"${on ? html` checked` : ''}> ${label}</label> `;
  const form = html`<form method="get" action="/objections">${check('open', filter.open, t.openOnly)}${check('overdue', filter.overdue, t.overdueOnly)}<button>${t.filter}</button></form>`;
  const open = view.signedIn
    ? html`<h2>${t.openObjection}</h2><form method="post" action="/objections">${csrfField(view)}${t.record} <input name="record" required size="10"> ${t.received} <input type="date" name="received" required> ${t.reason} <input name="reason" required size="40" maxlength="2000"> <button>${t.openObjection}</button></form>`
    : '';
  return layout(
    view,
    t.objections,
    html`${notice ? html`<p class="ok" id="notice">${notice}</p>` : ''}${signInHint(view)}${form}${objectionTable(view, list, today, true, 'objections')}${open}`,
  );
}

export function repairsPage(view: PageView, list: Repair[], notice: string | null): string {
  const { t } = view;
  const rows = list.length
    ? table(
        ['#', t.record, t.resource, t.repairDate, t.status, t.by, t.receivedAt],
        list.map((r) => [
          r.id,
          r.record,
          r.resource,
          r.date,
          t.repairStatuses[r.status] ?? r.status,
          r.by,
          time(r.at),
        ]),
        'repairs',
      )
    : html`<p>${t.noRepairs}</p>`;
  const apply = view.signedIn
    ? html`<h2>${t.applyRepair}</h2><form method="post" action="/repairs">${csrfField(view)}${t.record} <input name="record" required size="10"> ${t.repairDate} <input type="date" name="date" required> ${t.note} <input name="note" size="40" maxlength="2000"> <button>${t.applyRepair}</button></form>`
    : '';
  return layout(
    view,
    t.repairs,
    html`${notice ? html`<p class="ok" id="notice">${notice}</p>` : ''}${signInHint(view)}${rows}${apply}`,
  );
}
