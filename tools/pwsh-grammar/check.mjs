// check.mjs parses every PowerShell file (.ps1, .psm1, .psd1) under the given
// folders with the tree-sitter PowerShell grammar and fails on any syntax
// error (an ERROR or MISSING node). With --dump FILE it also writes, as JSON,
// what the contract test in internal/cli/bitsjob checks:
//
//   functions:   every function, its [CmdletBinding()] arguments, its
//                parameters (type, aliases, [Parameter()] arguments), the
//                names its body uses (variables and string literals) and the
//                commands it calls;
//   invocations: every call of Invoke-Bitsjob, with the bitsjob command words
//                and --flags it passes;
//   commonFlags: the --flags Invoke-Bitsjob itself adds to every call.
//
// The invocation reader follows the module's conventions (see the head of
// BitsTransfer.psm1): the arguments are an array, or a variable whose latest
// assignment before the call is an array that starts with the command words;
// `+=` and `.Add()` after that assignment add to it; a variable is followed to
// its latest assignment; a call of one of the module's own functions counts
// with every string in that function's body.
//
// Usage: node check.mjs [--dump FILE] PATH...

import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { createRequire } from 'node:module';
import { Parser, Language } from 'web-tree-sitter';

// Run the grammar with V8's baseline WebAssembly compiler only: the
// optimizing tier would spend seconds of CPU on a job that takes a fraction
// of one.
v8.setFlagsFromString('--liftoff-only');

const require = createRequire(import.meta.url);
const GATEWAY = 'invoke-bitsjob';

function usage() {
  console.error('usage: node check.mjs [--dump FILE] PATH...');
  process.exit(2);
}

const argv = process.argv.slice(2);
let dumpFile = null;
const roots = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--dump') {
    dumpFile = argv[++i];
    if (!dumpFile) usage();
  } else {
    roots.push(argv[i]);
  }
}
if (roots.length === 0) usage();

function listFiles(p) {
  const st = fs.statSync(p);
  if (st.isFile()) return [p];
  const out = [];
  for (const e of fs.readdirSync(p, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(p, e.name);
    if (e.isDirectory()) out.push(...listFiles(full));
    else if (/\.(ps1|psm1|psd1)$/i.test(e.name)) out.push(full);
  }
  return out;
}

await Parser.init();
const language = await Language.load(require.resolve('tree-sitter-powershell/tree-sitter-powershell.wasm'));
const parser = new Parser();
parser.setLanguage(language);

// ---------------------------------------------------------------------------
// Tree helpers. Each tree is copied once into plain objects (type, text,
// children, parent): walking the parser's own nodes crosses into WebAssembly
// at every step, which is far slower for the many walks below.

function convert(tree, source) {
  const cursor = tree.walk();
  function build(parent) {
    const n = {
      type: cursor.nodeType,
      isNamed: cursor.nodeIsNamed,
      isMissing: cursor.nodeIsMissing,
      isError: cursor.nodeType === 'ERROR',
      startIndex: cursor.startIndex,
      endIndex: cursor.endIndex,
      startPosition: cursor.startPosition,
      parent,
      children: [],
    };
    if (cursor.gotoFirstChild()) {
      do n.children.push(build(n));
      while (cursor.gotoNextSibling());
      cursor.gotoParent();
    }
    n.text = source.slice(n.startIndex, n.endIndex);
    n.named = n.children.filter((c) => c.isNamed);
    return n;
  }
  return build(null);
}

function* descendants(node) {
  for (const c of node.children) {
    yield c;
    yield* descendants(c);
  }
}

function namedChildren(node, type) {
  return type ? node.named.filter((c) => c.type === type) : node.named;
}

function firstDescendant(node, type) {
  for (const d of descendants(node)) if (d.type === type) return d;
  return null;
}

function ancestor(node, type) {
  for (let p = node.parent; p; p = p.parent) if (p.type === type) return p;
  return null;
}

const line = (node) => node.startPosition.row + 1;

// stringValue is the text of a string literal without its quotes; for an
// expandable string the text is kept as written ("--name=$x" -> --name=$x).
function stringValue(node) {
  const t = node.text;
  if (t.startsWith('@"') || t.startsWith("@'")) return t.slice(2, -2).replace(/^\r?\n|\r?\n$/g, '');
  if (t.startsWith('"') || t.startsWith("'")) return t.slice(1, -1);
  return t;
}

// variableName is a variable's name without $, scope or case: $script:X -> x.
function variableName(node) {
  let t = node.text.replace(/^[$@]/, '').replace(/^\{|\}$/g, '');
  const colon = t.indexOf(':');
  if (colon >= 0) t = t.slice(colon + 1);
  return t.toLowerCase();
}

// A literal value of an attribute argument: numbers, strings, $true/$false.
function literalValue(node) {
  if (!node) return true;
  const s = firstDescendant(node, 'string_literal') || (node.type === 'string_literal' ? node : null);
  if (s) return stringValue(s);
  const i = firstDescendant(node, 'decimal_integer_literal');
  if (i) return Number(i.text);
  const v = firstDescendant(node, 'variable') || (node.type === 'variable' ? node : null);
  if (v) {
    const n = variableName(v);
    if (n === 'true') return true;
    if (n === 'false') return false;
    return '$' + n;
  }
  return node.text;
}

function attributeName(attr) {
  const n = namedChildren(attr, 'attribute_name')[0];
  return n ? n.text : null;
}

function attributeArguments(attr) {
  const args = namedChildren(attr, 'attribute_arguments')[0];
  const named = {};
  const positional = [];
  if (!args) return { named, positional };
  for (const a of namedChildren(args, 'attribute_argument')) {
    const name = namedChildren(a, 'simple_name')[0];
    const value = namedChildren(a).find((c) => c.type !== 'simple_name') || null;
    if (name) named[name.text] = literalValue(value);
    else positional.push(literalValue(value));
  }
  return { named, positional };
}

// ---------------------------------------------------------------------------
// Syntax errors

const files = roots.flatMap(listFiles);
const trees = [];
let errors = 0;
for (const file of files) {
  const source = fs.readFileSync(file, 'utf8');
  const parsed = parser.parse(source);
  const root = convert(parsed, source);
  parsed.delete();
  const tree = { rootNode: root };
  trees.push({ file, tree });
  for (const n of [root, ...descendants(root)]) {
    if (n.isError || n.isMissing) {
      errors++;
      const what = n.isMissing ? `missing ${n.type}` : 'syntax error';
      const near = n.text.split('\n')[0].slice(0, 60);
      console.error(`${file}:${n.startPosition.row + 1}:${n.startPosition.column + 1}: ${what} near ${JSON.stringify(near)}`);
    }
  }
}

// ---------------------------------------------------------------------------
// Functions

const functions = new Map(); // lower-case name -> { node, info }
for (const { file, tree } of trees) {
  for (const fn of descendants(tree.rootNode)) {
    if (fn.type !== 'function_statement') continue;
    const nameNode = namedChildren(fn, 'function_name')[0];
    if (!nameNode) continue;
    const info = { name: nameNode.text, file, line: line(fn), cmdletBinding: null, parameters: [], uses: [], calls: [] };
    const body = namedChildren(fn, 'script_block')[0];
    const paramBlock = body ? namedChildren(body, 'param_block')[0] : null;
    if (paramBlock) {
      for (const list of namedChildren(paramBlock, 'attribute_list')) {
        for (const attr of namedChildren(list, 'attribute')) {
          if ((attributeName(attr) || '').toLowerCase() === 'cmdletbinding') info.cmdletBinding = attributeArguments(attr).named;
        }
      }
      const plist = namedChildren(paramBlock, 'parameter_list')[0];
      for (const p of plist ? namedChildren(plist, 'script_parameter') : []) {
        const v = namedChildren(p, 'variable')[0];
        const param = { name: v ? v.text.replace(/^\$/, '') : '', type: null, aliases: [], attributes: [], validateSet: null };
        for (const list of namedChildren(p, 'attribute_list')) {
          for (const attr of namedChildren(list, 'attribute')) {
            const typeLit = namedChildren(attr, 'type_literal')[0];
            if (typeLit) {
              param.type = typeLit.text.replace(/^\[|\]$/g, '');
              continue;
            }
            const an = (attributeName(attr) || '').toLowerCase();
            const args = attributeArguments(attr);
            if (an === 'parameter') param.attributes.push(args.named);
            else if (an === 'alias') param.aliases.push(...args.positional.map(String));
            else if (an === 'validateset') param.validateSet = args.positional.map(String);
          }
        }
        info.parameters.push(param);
      }
    }
    const uses = new Set();
    const calls = new Set();
    for (const d of body ? descendants(body) : []) {
      if (paramBlock && d.startIndex >= paramBlock.startIndex && d.endIndex <= paramBlock.endIndex) continue;
      if (d.type === 'variable') uses.add(variableName(d));
      else if (d.type === 'string_literal') uses.add(stringValue(d).toLowerCase());
      else if (d.type === 'command_name') calls.add(d.text.toLowerCase());
    }
    info.uses = [...uses].sort();
    info.calls = [...calls].sort();
    functions.set(info.name.toLowerCase(), { node: fn, body, info });
  }
}

// ---------------------------------------------------------------------------
// bitsjob invocations

// items lists, in source order, what an expression is made of: string
// literals, variables and command calls. The result of a bitsjob call is
// data bitsjob printed, not arguments, so a gateway call is not entered.
function items(node) {
  const out = [];
  (function walk(n) {
    if (n.type === 'string_literal') return void out.push({ lit: stringValue(n), node: n });
    if (n.type === 'variable') return void out.push({ variable: variableName(n), node: n });
    if (n.type === 'command') {
      const name = namedChildren(n, 'command_name')[0];
      if (name && name.text.toLowerCase() === GATEWAY) return;
      if (name) out.push({ call: name.text.toLowerCase(), node: n });
    }
    for (const c of n.children) walk(c);
  })(node);
  return out;
}

// assignments returns the assignments to a variable in scope, in source order:
// { op: '=' | '+=' | 'add', value: node, at: index }.
const assignmentCache = new Map();
function assignments(scope, name) {
  if (!assignmentCache.has(scope)) assignmentCache.set(scope, new Map());
  const byName = assignmentCache.get(scope);
  if (!byName.has(name)) byName.set(name, findAssignments(scope, name));
  return byName.get(name);
}

function findAssignments(scope, name) {
  const out = [];
  for (const d of descendants(scope)) {
    if (d.type === 'assignment_expression') {
      const left = namedChildren(d, 'left_assignment_expression')[0];
      const op = namedChildren(d, 'assignement_operator')[0] || namedChildren(d, 'assignment_operator')[0];
      if (!left || !op) continue;
      if (left.text.trim().toLowerCase() !== '$' + name) continue;
      const value = namedChildren(d).filter((c) => c !== left && c !== op).pop();
      if (value) out.push({ op: op.text.trim(), value, at: d.startIndex });
    } else if (d.type === 'invokation_expression' || d.type === 'invocation_expression') {
      const target = d.named[0];
      const member = namedChildren(d, 'member_name')[0];
      const args = namedChildren(d, 'argument_list')[0];
      if (target && target.type === 'variable' && variableName(target) === name && member && member.text.toLowerCase() === 'add' && args) {
        out.push({ op: 'add', value: args, at: d.startIndex });
      }
    }
  }
  return out;
}

// valueAt returns the nodes that make up a variable's value at index at:
// its latest `=` assignment before at, and the additions since.
function valueAt(scope, name, at) {
  const all = assignments(scope, name).filter((a) => a.at < at);
  let base = -1;
  all.forEach((a, i) => {
    if (a.op === '=') base = i;
  });
  if (base < 0) return null;
  return { base: all[base].value, more: all.slice(base + 1).map((a) => a.value) };
}

// strings collects every string literal reachable from node: through the
// variables it names (their values at that point) and the module functions
// it calls (their whole bodies).
function strings(node, scope, seen) {
  const out = [];
  for (const it of items(node)) {
    if (it.lit !== undefined) out.push(it.lit);
    else if (it.variable !== undefined) {
      const key = `v:${it.variable}:${it.node.startIndex}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const v = valueAt(scope, it.variable, it.node.startIndex);
      if (v) for (const n of [v.base, ...v.more]) out.push(...strings(n, scope, seen));
    } else if (it.call !== undefined && functions.has(it.call) && it.call !== GATEWAY) {
      const key = `f:${it.call}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const f = functions.get(it.call);
      out.push(...strings(f.body, f.body, seen));
    }
  }
  return out;
}

// leadingWords are the literal strings an expression starts with, up to the
// first flag or non-literal.
function leadingWords(node, scope) {
  let list = items(node);
  if (list.length === 1 && list[0].variable !== undefined) {
    const v = valueAt(scope, list[0].variable, list[0].node.startIndex);
    if (!v) return [];
    list = items(v.base);
  }
  const words = [];
  for (const it of list) {
    if (it.lit === undefined || it.lit.startsWith('-')) break;
    words.push(it.lit);
  }
  return words;
}

// flagName reads --name out of '--name' or "--name=$value"; '--' alone is none.
function flagName(s) {
  const m = /^--([A-Za-z0-9][A-Za-z0-9-]*)/.exec(s);
  return m ? m[1] : null;
}

// argumentsOf returns the expression bound to -Arguments (or the first
// positional argument) of an Invoke-Bitsjob command.
function argumentsOf(command) {
  const elements = namedChildren(command, 'command_elements')[0];
  if (!elements) return null;
  const parts = namedChildren(elements).filter((c) => c.type !== 'command_argument_sep');
  const positional = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (p.type === 'command_parameter') {
      const [name, inline] = p.text.replace(/^-/, '').split(':');
      const value = inline !== undefined ? null : parts[++i];
      if ('arguments'.startsWith(name.toLowerCase()) && name.length > 0) return value;
      continue;
    }
    positional.push(p);
  }
  return positional[0] || null;
}

const invocations = [];
for (const { file, tree } of trees) {
  for (const cmd of descendants(tree.rootNode)) {
    if (cmd.type !== 'command') continue;
    const name = namedChildren(cmd, 'command_name')[0];
    if (!name || name.text.toLowerCase() !== GATEWAY) continue;
    const fn = ancestor(cmd, 'function_statement');
    const scope = fn ? namedChildren(fn, 'script_block')[0] : tree.rootNode;
    const fnName = fn ? namedChildren(fn, 'function_name')[0].text : null;
    const inv = { function: fnName, file, line: line(cmd), words: [], flags: [], problem: null };
    const expr = argumentsOf(cmd);
    if (!expr) {
      inv.problem = 'no -Arguments';
    } else {
      inv.words = leadingWords(expr, scope);
      const flags = new Set();
      for (const s of strings(expr, scope, new Set())) {
        const f = flagName(s);
        if (f) flags.add(f);
      }
      inv.flags = [...flags].sort();
      if (inv.words.length === 0) inv.problem = 'no command words: build the arguments as @(\'command\', ...)';
    }
    invocations.push(inv);
  }
}

const gateway = functions.get(GATEWAY);
const commonFlags = gateway
  ? [...new Set([...descendants(gateway.body)].filter((d) => d.type === 'string_literal').map((d) => flagName(stringValue(d))).filter(Boolean))].sort()
  : [];

if (dumpFile) {
  const dump = {
    files,
    functions: [...functions.values()].map((f) => f.info),
    invocations,
    commonFlags,
  };
  fs.writeFileSync(dumpFile, JSON.stringify(dump, null, 2) + '\n');
}

// Exit at once: the WebAssembly runtime would keep node alive for seconds.
if (errors > 0) {
  console.error(`${errors} syntax error(s) in ${files.length} PowerShell file(s)`);
  process.exit(1);
}
console.log(`${files.length} PowerShell file(s) parsed without syntax errors`);
process.exit(0);
