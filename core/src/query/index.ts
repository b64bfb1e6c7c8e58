export * from './ast.js';
export { decodeCursor, encodeCursor } from './cursor.js';
export { compareOrdered, matches, project, runQuery, searchMatches, sortKeyOf, valuesAt, type Ordered, type QueryableDocument, type QueryResult } from './evaluate.js';
export { compareKeys, compareStrings, keyOf, rankOf, RANK } from './order.js';
export { parseContentPath, parseQuery, QUERY_LIMITS } from './parse.js';
export { QueryError } from './query-error.js';
export { parseRegex, regexTest, RegexError, type CharSet, type RegexFlag, type RegexNode, type SafeRegex } from './regex.js';
