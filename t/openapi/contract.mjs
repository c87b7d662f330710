// contract.mjs: checks recorded answers of the API against the OpenAPI
// document (the contract test, t/98-contract.t).
//
//   node contract.mjs DOC DIR...
//
// Every *.jsonl file in each DIR holds one answer a line, as CETest::api
// records it: {"method","path" (below the API's mount, as sent, without
// the query),"status","headers":{name: value},"body" (text),"test"}.
// Each answer is matched to the document's operation (path template, with
// each path parameter checked against its schema; method; status; content
// type) and its body and headers are validated against the schemas with
// ajv (JSON Schema 2020-12). The rules the document states in its
// description apply beyond its operations: a path it does not have is 404,
// a method a path does not list is 405 with Allow naming exactly the
// path's methods, HEAD is GET without a body, OPTIONS is a CORS preflight
// (204) or refused (403, 405). Every error body is the Error schema.
//
// Prints "checked N answers (M operations of T)" and every mismatch;
// exits 1 when there is one, 2 when it cannot run.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const BASE = 'https://ceinstances.invalid/openapi.json';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
// Headers whose presence the document must declare where they are sent.
const TRACKED = ['etag', 'elements-returned-count', 'elements-total-count', 'elements-next-page-token'];

if (process.argv.length < 4) {
  console.error('usage: node contract.mjs DOC DIR...');
  process.exit(2);
}
const doc = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const ajv = new Ajv2020({ strict: false, allErrors: false });
addFormats(ajv);
ajv.addSchema(doc, BASE);
const compiled = new Map();

const ptr = (tokens) =>
  '#/' + tokens.map((t) => encodeURIComponent(String(t).replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');
function validator(tokens) {
  const p = ptr(tokens);
  if (!compiled.has(p)) compiled.set(p, ajv.compile({ $ref: BASE + p }));
  return compiled.get(p);
}
// A $ref of the document (its own pointer), or obj itself; with where it is.
function resolve(obj, tokens) {
  while (obj && obj.$ref) {
    tokens = obj.$ref.slice(2).split('/').map((t) => decodeURIComponent(t).replace(/~1/g, '/').replace(/~0/g, '~'));
    obj = tokens.reduce((o, t) => o[t], doc);
  }
  return [obj, tokens];
}

// The path templates, split in segments, with each parameter's schema.
const templates = Object.keys(doc.paths).map((path) => {
  const item = doc.paths[path];
  const params = {};
  const add = (list) => (list || []).forEach((p) => {
    const [param] = resolve(p, []);
    if (param.in === 'path') params[param.name] = param.schema;
  });
  add(item.parameters);
  METHODS.forEach((m) => item[m] && add(item[m].parameters));
  return { path, item, params, segs: path.split('/').filter((s) => s.length) };
});

function segmentFits(seg, schema) {
  if (schema.type === 'integer') {
    return /^[1-9][0-9]{0,18}$/.test(seg) && BigInt(seg) <= 9223372036854775807n;
  }
  return seg.length > 0;
}

// The template the router would take for path, or null.
function match(path) {
  let segs;
  try {
    segs = path.split('/').filter((s) => s.length).map(decodeURIComponent);
  } catch {
    return null;
  }
  if (segs.some((s) => s.includes('/') || s.includes('\0'))) return null;
  let best = null, bestLiterals = -1;
  for (const t of templates) {
    if (t.segs.length !== segs.length) continue;
    let literals = 0, ok = true;
    for (let i = 0; ok && i < segs.length; i++) {
      const m = /^\{(.+)\}$/.exec(t.segs[i]);
      if (m) ok = segmentFits(segs[i], t.params[m[1]] || {});
      else if ((ok = t.segs[i] === segs[i])) literals++;
    }
    if (ok && literals > bestLiterals) [best, bestLiterals] = [t, literals];
  }
  return best;
}

const failures = [];
const used = new Set();
let checked = 0;

function errorsOf(v) {
  return ajv.errorsText(v.errors, { dataVar: 'body' }).slice(0, 400);
}

// An error answer of the document's own rules (no operation): the Error body.
function checkErrorBody(a, fail) {
  if (!/^application\/json\b/i.test(a.headers['content-type'] || '')) {
    return fail(`content type ${a.headers['content-type']} (an error is application/json)`);
  }
  let body;
  try { body = JSON.parse(a.body); } catch (e) { return fail(`body is not JSON: ${e.message}`); }
  const v = validator(['components', 'schemas', 'Error']);
  if (!v(body)) fail(`error body: ${errorsOf(v)}`);
}

function checkHeaders(a, response, tokens, fail) {
  const declared = response.headers || {};
  const names = Object.keys(declared).map((n) => n.toLowerCase());
  for (const [name, h0] of Object.entries(declared)) {
    const [h, htokens] = resolve(h0, [...tokens, 'headers', name]);
    const value = a.headers[name.toLowerCase()];
    if (value === undefined) {
      if (h.required && !(a.method === 'HEAD' && name === 'Content-Length')) fail(`header ${name} missing`);
      continue;
    }
    if (h.schema) {
      const v = validator([...htokens, 'schema']);
      if (!v(value)) fail(`header ${name}: ${JSON.stringify(value)}: ${errorsOf(v)}`);
    }
  }
  for (const name of TRACKED) {
    if (a.headers[name] !== undefined && !names.includes(name)) fail(`header ${name} sent but not documented`);
  }
}

function checkOperation(a, t, method, fail) {
  const op = t.item[method];
  const status = String(a.status);
  used.add(`${method.toUpperCase()} ${t.path}`);
  if (!op.responses[status]) return fail(`status ${status} not documented for ${method.toUpperCase()} ${t.path}`);
  const [response, rtokens] = resolve(op.responses[status], ['paths', t.path, method, 'responses', status]);
  checkHeaders(a, response, rtokens, fail);
  const ct = a.headers['content-type'];
  if (a.method === 'HEAD' || a.body === '') {
    if (a.body !== '') fail('HEAD answered with a body');
    if (a.method !== 'HEAD' && response.content) fail(`empty body, but ${status} documents content`);
    return;
  }
  if (!response.content) return fail(`a body, but ${status} of ${method.toUpperCase()} ${t.path} documents none`);
  const base = (s) => (s || '').split(';')[0].trim().toLowerCase();
  const key = Object.keys(response.content).find((k) => base(k) === base(ct));
  if (!key) return fail(`content type ${ct} not documented (${Object.keys(response.content).join(', ')})`);
  let body;
  try { body = JSON.parse(a.body); } catch (e) { return fail(`body is not JSON: ${e.message}`); }
  const v = validator([...rtokens, 'content', key, 'schema']);
  if (!v(body)) fail(`body: ${errorsOf(v)}`);
}

function check(a) {
  checked++;
  const what = `${a.method} ${a.path} -> ${a.status} (${a.test || '?'})`;
  const fail = (msg) => failures.push(`${what}: ${msg}`);
  a.headers = Object.fromEntries(Object.entries(a.headers || {}).map(([k, v]) => [k.toLowerCase(), v]));
  if (a.headers['elements-request-id'] === undefined && a.status !== 304) fail('header Elements-Request-Id missing');
  const t = match(a.path);
  if (!t) {
    if (a.status !== 404) return fail('path not in the document, and the answer is not 404');
    return checkErrorBody(a, fail);
  }
  const method = a.method === 'HEAD' ? 'get' : a.method.toLowerCase();
  if (METHODS.includes(method) && t.item[method] && a.method === a.method.toUpperCase()) {
    return checkOperation(a, t, method, fail);
  }
  if (a.method === 'OPTIONS' && a.status === 204) return;
  if (a.method === 'OPTIONS' && a.status === 403) return checkErrorBody(a, fail);
  if (a.status !== 405) return fail(`method not documented for ${t.path}, and the answer is not 405`);
  const allow = (a.headers.allow || '').split(',').map((s) => s.trim()).filter(Boolean).sort().join(', ');
  const want = METHODS.filter((m) => t.item[m]).map((m) => m.toUpperCase()).sort().join(', ');
  if (allow !== want) fail(`Allow: ${a.headers.allow}; the document has ${want} for ${t.path}`);
  checkErrorBody(a, fail);
}

let files = 0;
for (const dir of process.argv.slice(3)) {
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.jsonl')).sort()) {
    files++;
    const lines = readFileSync(join(dir, f), 'utf8').split('\n').filter((l) => l.length);
    lines.forEach((line, i) => {
      let a;
      try { a = JSON.parse(line); } catch (e) { failures.push(`${f}:${i + 1}: not a record: ${e.message}`); return; }
      check(a);
    });
  }
}
const ops = templates.reduce((n, t) => n + METHODS.filter((m) => t.item[m]).length, 0);
console.log(`checked ${checked} answers from ${files} files (${used.size} operations of ${ops})`);
const unused = templates.flatMap((t) => METHODS.filter((m) => t.item[m] && !used.has(`${m.toUpperCase()} ${t.path}`))
  .map((m) => `${m.toUpperCase()} ${t.path}`));
if (unused.length) console.log(`not exercised: ${unused.join('; ')}`);
// The same mismatch once, with how many answers had it.
const counts = new Map();
for (const f of failures) {
  const k = f.replace(/^(\S+) \S+/, '$1 ...').replace(/\(.*?\)/, '(...)');
  if (!counts.has(k)) counts.set(k, { first: f, n: 0 });
  counts.get(k).n++;
}
for (const { first, n } of counts.values()) console.log(`MISMATCH ${first}${n > 1 ? ` (and ${n - 1} more like it)` : ''}`);
console.log(`${failures.length} mismatches`);
process.exit(failures.length ? 1 : 0);
