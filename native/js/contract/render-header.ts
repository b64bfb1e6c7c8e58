/**
 * Renders the C++ side of the contract: the headers in native/src/contract/, one per table. The
 * same text is written by write-headers.ts and compared with the files by contract.test.ts, so a
 * header that differs from what its table says fails the tests.
 */
import { DOCUMENT_MEMBERS, READ_LIVE_SQL, READ_ONE_SQL, READ_SCHEMA_VERSION, type ColumnKind } from './document-view.js';
import { CONSTANTS, ENGINE_OPS, RECORDS } from './ops.js';
import { TEST_OPS } from './test-ops.js';
import type { OpTable, RecordSpec, ScalarType } from './types.js';

export interface GeneratedFile {
  /** From the repository's root. */
  path: string;
  text: string;
}

const camel = (name: string) => name.replace(/(^|_)([a-z])/g, (_, _sep: string, c: string) => c.toUpperCase());

function banner(source: string): string {
  return (
    `// Generated from ${source} by native/js/contract/render-header.ts\n` +
    '// (npm run generate:contract -w native): do not edit. contract.test.ts fails when it is stale.\n' +
    '#pragma once\n'
  );
}

const isScalar = (type: string): type is ScalarType => ['string', 'string?', 'u32', 'bool', 'secret?', 'bytes'].includes(type);

/** The C++ type of a parameter (or, with `member`, of a record's field). */
function cppType(type: string, member = false): string {
  switch (type) {
    case 'string':
      return member ? 'std::string' : 'const std::string &';
    case 'string?':
      return 'const char *';
    case 'secret?':
      return 'KeyBytes';
    case 'bytes':
      return 'ByteSpan';
    case 'u32':
      return 'uint32_t';
    case 'bool':
      return 'bool';
    default:
      return member ? type : `const ${type} &`;
  }
}

/** `type name`, the way the project's C++ is formatted (`const char *name`, `const std::string &name`). */
function declare(type: string, name: string, member = false): string {
  const t = cppType(type, member);
  return /[*&]$/.test(t) ? `${t}${name}` : `${t} ${name}`;
}

/** The op_call.h builder that carries a value of `type` across. */
function encode(type: string, expression: string): string {
  switch (type) {
    case 'string':
      return `String(${expression})`;
    case 'string?':
      return `OptionalString(${expression})`;
    case 'secret?':
      return `Secret(${expression})`;
    case 'bytes':
      return `Bytes(${expression})`;
    case 'u32':
      return `Number(${expression})`;
    case 'bool':
      return `Boolean(${expression})`;
    default:
      return `Encode(${expression})`;
  }
}

function renderRecord(name: string, spec: RecordSpec): string {
  const fields = Object.entries(spec);
  return [
    `/** The record ${name} of ops.ts: a JavaScript object of these members. */`,
    `struct ${name} {`,
    ...fields.map(([field, type]) => `  ${declare(type, field, true)};${type === 'string?' || type === 'secret?' ? '  // nullptr: null' : ''}`),
    '};',
    '',
    `inline Record Encode(const ${name} &r) {`,
    `  return {${fields.map(([field, type]) => `{"${field}", ${encode(type, `r.${field}`)}}`).join(',\n          ')}};`,
    '}',
    '',
  ].join('\n');
}

function renderOps(table: OpTable): string {
  return Object.entries(table)
    .map(([name, spec]) => {
      const args = Object.entries(spec.args);
      const params = args.map(([arg, type]) => declare(type, arg)).join(', ');
      const values = args.map(([arg, type]) => `{"${arg}", ${encode(type, arg)}}`).join(', ');
      const result = { text: 'TextResult', bytes: 'BytesResult', nothing: 'NoResult' }[spec.result];
      return [`/** ${name}: ${spec.doc} */`, `inline Op<${result}> ${camel(name)}(${params}) { return {{"${name}", {${values}}}}; }`, ''].join('\n');
    })
    .join('\n');
}

function renderConstants(constants: Readonly<Record<string, number>>): string {
  return Object.entries(constants)
    .map(([name, value]) => `inline constexpr int k${camel(name)} = ${value};\n`)
    .join('');
}

function opsHeader(source: string, table: OpTable, records: Readonly<Record<string, RecordSpec>>, constants: Readonly<Record<string, number>> = {}): string {
  for (const spec of Object.values(table)) {
    for (const type of Object.values(spec.args)) if (!isScalar(type) && !(type in records)) throw new Error(`unknown type ${type}`);
  }
  return [
    banner(source),
    '#include <cstdint>',
    '#include <string>',
    '',
    '#include "op_call.h"',
    '',
    'namespace sync_client::ops {',
    '',
    ...(Object.keys(constants).length > 0 ? [renderConstants(constants)] : []),
    ...Object.entries(records).map(([name, spec]) => renderRecord(name, spec)),
    renderOps(table),
    '}  // namespace sync_client::ops',
    '',
  ].join('\n');
}

const KIND: Record<ColumnKind, string> = { text: 'kText', integer: 'kInteger', json: 'kJson' };

function documentViewHeader(): string {
  return [
    banner('native/js/contract/document-view.ts and client-ts/src/storage/schema.ts'),
    'namespace sync_client::document_view {',
    '',
    '/** The PRAGMA user_version these reads are written for (SCHEMA_VERSION of client-ts/src/storage/schema.ts). */',
    `inline constexpr int kSchemaVersion = ${READ_SCHEMA_VERSION};`,
    '',
    '/** How a column goes into the JSON object: a string, a number, or JSON text as it is (NULL: null). */',
    'enum class ColumnKind { kText, kInteger, kJson };',
    '',
    'struct Member {',
    '  const char *name;',
    '  ColumnKind kind;',
    '};',
    '',
    "/** sync_engine_get_document's JSON object: its members in order, the columns of both statements. */",
    'inline constexpr Member kMembers[] = {',
    ...DOCUMENT_MEMBERS.map(([name, kind]) => `    {"${name}", ColumnKind::${KIND[kind]}},`),
    '};',
    '',
    '/** One document by id (?1), deleted ones too. */',
    `inline constexpr char kReadOneSql[] = "${READ_ONE_SQL}";`,
    '/** Every live document, in the engine\'s order. */',
    `inline constexpr char kReadLiveSql[] = "${READ_LIVE_SQL}";`,
    '',
    '}  // namespace sync_client::document_view',
    '',
  ].join('\n');
}

export function generatedFiles(): GeneratedFile[] {
  return [
    { path: 'native/src/contract/engine_ops.h', text: opsHeader('native/js/contract/ops.ts', ENGINE_OPS, RECORDS, CONSTANTS) },
    { path: 'native/src/contract/test_ops.h', text: opsHeader('native/js/contract/test-ops.ts', TEST_OPS, {}) },
    { path: 'native/src/contract/document_view.h', text: documentViewHeader() },
  ];
}
