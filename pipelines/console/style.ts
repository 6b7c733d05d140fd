/** The console's one stylesheet, served as /static/console.css (the policy allows no inline style). */
export const CONSOLE_CSS = `
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:0;color:#222;background:#f7f7f7}
header{background:#1f4e79;color:#fff;padding:.6em 1.2em;display:flex;gap:1.2em;align-items:center;flex-wrap:wrap}
header a{color:#fff;text-decoration:none}header a.here{font-weight:bold;text-decoration:underline}
header .right{margin-left:auto;display:flex;gap:1em;align-items:center}
main{padding:1em 1.5em;max-width:1200px}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.5em}
table{border-collapse:collapse;background:#fff;margin:.5em 0}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#eef2f7}td.n{text-align:right;font-variant-numeric:tabular-nums}
.bad{color:#b00020}.ok{color:#1b6e20}.muted{color:#777}
.figs{display:flex;gap:1em;flex-wrap:wrap}.fig{background:#fff;border:1px solid #ccc;padding:.6em 1em}
.fig b{display:block;font-size:1.4em}
dl.fields{display:grid;grid-template-columns:max-content 1fr;gap:.1em .8em;margin:0}
dl.fields dt{color:#555}dl.fields dd{margin:0}
form.inline{display:inline}img.chart{max-width:100%;background:#fff;border:1px solid #ddd;margin:.5em 0}
section.resource{margin-bottom:1.5em}
`;
