import { describe, expect, it } from 'vitest';
import { Html, html } from '../pipelines/console/html.js';

describe('the console’s html tagged template', () => {
  it('escapes every value, joins arrays, prints nothing for null, undefined and false', () => {
    const name = `"><script>alert('x')</script>&`;
    const out = html`<a title="${name}">${name}</a>${[1, '<b>', null]}${undefined}${false}${0}`;
    expect(out).toBeInstanceOf(Html);
    expect(out.text).toBe(
      '<a title="&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;">&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;</a>1&lt;b&gt;0',
    );
  });

  it('keeps markup made by html itself, and only that', () => {
    const inner = html`<b>${'<i>'}</b>`;
    expect(html`<p>${inner}</p>`.text).toBe('<p><b>&lt;i&gt;</b></p>');
    // a look-alike object is a value like any other
    expect(html`${{ text: '<b>', toString: () => '<b>' }}`.text).toBe('&lt;b&gt;');
  });
});
