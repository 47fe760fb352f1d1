// Render TeX with KaTeX for the site build (hooks/math.py): one JSON request per line on stdin,
// one JSON answer per line on stdout, in order, so a whole build is served by one Node process.
//
// Request: {"tex": "x^2", "display": false, "scope": "page.md"}
// Answer:  {"html": "<span class=\"katex\">...</span>", "warnings": [...]}
//      or  {"error": "KaTeX parse error: ...", "warnings": [...]}
//
// The options are those the browser used (docs/javascripts/katex.js with auto-render): KaTeX's
// defaults (HTML and MathML output, strict "warn"), with the macros that \gdef defines shared by
// the formulas of one scope (auto-render shared them within one page), but with throwOnError, so
// a formula KaTeX cannot parse is an error rather than red text on the page.

import readline from "node:readline";

import katex from "katex";

let scope = null;
let macros = {};
let warnings = [];
console.warn = (...parts) => warnings.push(parts.join(" ")); // strict "warn" reports here

function render({ tex, display, scope: requested }) {
  if (requested !== scope) {
    scope = requested;
    macros = {};
  }
  warnings = [];
  try {
    const html = katex.renderToString(tex, { displayMode: display, throwOnError: true, macros });
    return { html, warnings };
  } catch (error) {
    return { error: String(error.message ?? error), warnings };
  }
}

for await (const line of readline.createInterface({ input: process.stdin })) {
  let answer;
  try {
    answer = render(JSON.parse(line));
  } catch (error) {
    answer = { error: `not a render request (${error.message}): ${line.slice(0, 200)}` };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}
