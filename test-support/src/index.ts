export { createTestDatabase, dropTestDatabase, TEST_DATABASE_URL, type SqlPool, type TestCredentials, type TestDatabase, type TestDatabaseOptions } from './database.js';
export { credentialsFrom, runCli, type CliOptions, type CliRun } from './run-cli.js';
export { CLI, startServer, stopDetached, type ServerProcess, type StartOptions } from './server-process.js';
export { startTestServer, type TestServer, type TestServerOptions } from './test-server.js';
export { makeTestCertificates, type TestCertificates } from './tls.js';
export { TestClient, type Identity } from './ws-client.js';
export { QUERY_CASES, QUERY_DOCUMENTS, type QueryCase } from './query-cases.js';
export { mulberry32, randomQueryWorkload } from './query-random.js';
export { queryDocExamples, QUERIES_DOC, type DocExample } from './query-doc-examples.js';
