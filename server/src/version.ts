import { createRequire } from 'node:module';

/** The server package's version, as published (read from its package.json, one level above src/ and dist/). */
export const SERVER_VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
