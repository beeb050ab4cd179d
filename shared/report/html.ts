// The HTML report: one self-contained file (inline CSS, JS and SVG; no external asset, no network) that a security
// lead can open and share. The report's data travels as JSON inside a non-executable script element, with `<`
// escaped so no resource name can close it; the page builds every element with textContent, never innerHTML, so a
// hostile tag value or rule name stays text.

import type { ScanReport } from "../usecases/scan.ts";
import type { ScanDiff } from "./diff.ts";

/** JSON that is safe inside <script type="application/json">: no `<`, `>`, `&` or line separators as such. */
export function embedJson(value: unknown): string {
  return JSON.stringify(value)
    .replaceAll("<", "\\u003c")
    .replaceAll(">", "\\u003e")
    .replaceAll("&", "\\u0026")
    .replaceAll("\u2028", "\\u2028")
    .replaceAll("\u2029", "\\u2029");
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:16px 24px}header h1{margin:0;font-size:20px}
main{padding:16px 24px}.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{background:#fff;border-radius:6px;padding:12px 16px;box-shadow:0 1px 2px #0002;min-width:120px}
.card b{display:block;font-size:24px}.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:12px;margin:16px 0}
.chart{background:#fff;border-radius:6px;padding:12px;box-shadow:0 1px 2px #0002}.chart h2{font-size:14px;margin:0 0 8px}
.warn{background:#fff3cd;border:1px solid #e0c060;padding:8px 12px;border-radius:6px;margin:12px 0}
table{width:100%;border-collapse:collapse;background:#fff}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e3e6ea;vertical-align:top}
th{background:#eef0f3}.sev{font-weight:600;text-transform:uppercase;font-size:12px}
.critical{color:#8b0000}.high{color:#c0392b}.medium{color:#b9770e}.low{color:#2e6da4}
.filters{display:flex;gap:8px;margin:12px 0}input,select{padding:6px;font:inherit}
pre{margin:0;white-space:pre-wrap;word-break:break-all;font-size:12px}.new{color:#c0392b;font-weight:600}
`;

const SCRIPT = `
(function(){
var data=JSON.parse(document.getElementById('report-data').textContent);
var r=data.report,diff=data.diff;
function el(tag,attrs,text){var e=document.createElement(tag);for(var k in attrs||{})e.setAttribute(k,attrs[k]);if(text!==undefined)e.textContent=String(text);return e}
var counted=r.findings.filter(function(f){return !f.exempt});
var act={};r.actions.forEach(function(a){var k=a.resourceId+'\\u0000'+a.policyRule;(act[k]=act[k]||[]).push(a)});
var newKeys={};if(diff)diff.added.forEach(function(f){newKeys[f.resourceId.toLowerCase()+'\\u0000'+f.policyRule]=1});
function account(f){var a=(act[f.resourceId+'\\u0000'+f.policyRule]||[])[0];if(a)return a.cloud+' '+a.account;var m=/^\\/subscriptions\\/([^/]+)/i.exec(f.resourceId);return m?'azure '+m[1]:'unknown'}
function tally(key){var m={};counted.forEach(function(f){[].concat(key(f)).forEach(function(k){m[k]=(m[k]||0)+1})});return m}
var cards=document.getElementById('cards');
[['listed',r.totals.listed],['evaluated',r.totals.evaluated],['findings',r.totals.findings],['exempt',r.totals.exempt],['failed',r.totals.failed]].forEach(function(c){var d=el('div',{class:'card','data-total':c[0]});d.appendChild(el('b',{},c[1]));d.appendChild(document.createTextNode(c[0]));cards.appendChild(d)});
var order={critical:0,high:1,medium:2,low:3};
function chart(id,title,counts){var box=el('div',{class:'chart',id:id});box.appendChild(el('h2',{},title));var keys=Object.keys(counts).sort(function(a,b){return (order[a]!==undefined&&order[b]!==undefined)?order[a]-order[b]:counts[b]-counts[a]||a.localeCompare(b)});
var ns='http://www.w3.org/2000/svg',h=22*Math.max(keys.length,1),svg=document.createElementNS(ns,'svg');svg.setAttribute('width','100%');svg.setAttribute('viewBox','0 0 400 '+h);svg.setAttribute('role','img');
var max=Math.max.apply(null,keys.map(function(k){return counts[k]}).concat([1]));
keys.forEach(function(k,i){var g=document.createElementNS(ns,'g');g.setAttribute('data-key',k);g.setAttribute('data-count',String(counts[k]));
var t=document.createElementNS(ns,'text');t.setAttribute('x','0');t.setAttribute('y',String(i*22+15));t.setAttribute('font-size','11');t.textContent=k.length>38?k.slice(0,37)+'…':k;
var b=document.createElementNS(ns,'rect');b.setAttribute('x','200');b.setAttribute('y',String(i*22+3));b.setAttribute('height','16');b.setAttribute('width',String(Math.max(2,170*counts[k]/max)));b.setAttribute('class',k);b.setAttribute('fill',({critical:'#8b0000',high:'#c0392b',medium:'#d68910',low:'#2e6da4'})[k]||'#5d6d7e');
var n=document.createElementNS(ns,'text');n.setAttribute('x',String(205+170*counts[k]/max));n.setAttribute('y',String(i*22+15));n.setAttribute('font-size','11');n.textContent=String(counts[k]);
g.appendChild(t);g.appendChild(b);g.appendChild(n);svg.appendChild(g)});box.appendChild(svg);return box}
var charts=document.getElementById('charts');
charts.appendChild(chart('by-severity','By severity',tally(function(f){return f.severity})));
charts.appendChild(chart('by-rule','By policy rule',tally(function(f){return f.policyRule})));
charts.appendChild(chart('by-control','By control',tally(function(f){return f.controls.length?f.controls:['(none)']})));
charts.appendChild(chart('by-account','By subscription / account',tally(account)));
var body=document.getElementById('rows');
r.findings.forEach(function(f){var tr=el('tr',{'data-severity':f.severity,'data-exempt':f.exempt?'yes':'no'});
var isNew=newKeys[f.resourceId.toLowerCase()+'\\u0000'+f.policyRule];
var sev=el('td',{class:'sev '+f.severity},f.exempt?'exempt':f.severity);if(isNew)sev.appendChild(el('div',{class:'new'},'new'));tr.appendChild(sev);
tr.appendChild(el('td',{},f.policyRule));tr.appendChild(el('td',{class:'resource'},f.resourceId));tr.appendChild(el('td',{},account(f)));
var msg=el('td',{},f.message+(f.exempt?' — '+f.exempt:''));msg.appendChild(el('pre',{},JSON.stringify(f.matched,null,1)));tr.appendChild(msg);
var acts=act[f.resourceId+'\\u0000'+f.policyRule]||[];tr.appendChild(el('td',{class:'remediation'},acts.map(function(a){return a.outcome+': '+a.wouldDo}).join('\\n')));
tr.setAttribute('data-text',(f.severity+' '+f.policyRule+' '+f.resourceId+' '+f.message+' '+f.controls.join(' ')).toLowerCase());body.appendChild(tr)});
var q=document.getElementById('search'),s=document.getElementById('severity'),shown=document.getElementById('shown');
function apply(){var text=q.value.toLowerCase(),sv=s.value,n=0;Array.prototype.forEach.call(body.rows,function(tr){var ok=(!sv||tr.getAttribute('data-severity')===sv)&&(!text||tr.getAttribute('data-text').indexOf(text)>=0);tr.hidden=!ok;if(ok)n++});shown.textContent=String(n)}
q.addEventListener('input',apply);s.addEventListener('change',apply);apply();
})();
`;

export function renderHtml(report: ScanReport, diff?: ScanDiff): string {
  const notCovered = report.coverage.filter((c) => !c.complete);
  const warning =
    notCovered.length > 0 || report.failures.length > 0
      ? `<div class="warn" id="incomplete"><b>Incomplete scan.</b> Not covered: ${escapeHtml(
          [
            ...notCovered.map(
              (c) => `${c.kind} in ${c.target} after ${c.listed} resource(s) (${c.error ?? "stopped"})`,
            ),
            ...report.failures.map((f) => `${f.resourceId} (${f.error})`),
          ].join("; "),
        )}</div>`
      : "";
  const diffLine = diff
    ? `<p id="diff">Since ${escapeHtml(diff.against)}: <b>${diff.added.length}</b> new, <b>${diff.resolved.length}</b> resolved.</p>`
    : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>network-guardian scan — ${escapeHtml(report.targets.join(", "))}</title><style>${CSS}</style></head>
<body><header><h1>network-guardian scan</h1><div>${escapeHtml(report.targets.join(", "))} · ${escapeHtml(
    report.startedAt,
  )} · ${report.remediate ? "remediate" : "report-only"}</div></header>
<main>${warning}${diffLine}<div class="cards" id="cards"></div><div class="charts" id="charts"></div>
<div class="filters"><input id="search" type="search" placeholder="Search resources, rules, controls" aria-label="search">
<select id="severity" aria-label="severity"><option value="">all severities</option><option>critical</option><option>high</option><option>medium</option><option>low</option></select>
<span><span id="shown"></span> shown</span></div>
<table id="findings"><thead><tr><th>severity</th><th>policy rule</th><th>resource</th><th>subscription / account</th><th>finding and offending parts</th><th>remediation</th></tr></thead><tbody id="rows"></tbody></table>
</main>
<script type="application/json" id="report-data">${embedJson({ report, diff })}</script>
<script>${SCRIPT}</script></body></html>
`;
}
