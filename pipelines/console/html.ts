/**
 * HTML written with one tagged template: every interpolated value is escaped unless it is itself `html`
 * output; arrays are joined; null, undefined and false print nothing. No template package, no raw strings.
 */
import { escapeHtml } from '../report/html.js';

export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

function piece(value: unknown): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(piece).join('');
  return escapeHtml(value);
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += piece(values[i]) + (strings[i + 1] ?? '');
  return new Html(out);
}

/**
 * Markup made on the server by trusted code (the report's SVG charts), as an image: a `data:` URI keeps it out
 * of the page's own document, so the page's style and script policy stays strict.
 */
export function svgImage(svg: string, alt: string): Html {
  return html`<img class="chart" alt="${alt}" src="data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}">`;
}
