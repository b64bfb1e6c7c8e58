import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** The certificate's subject and expiry, for the printed configuration. */
  subject: string;
  validTo: Date;
}

function read(what: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the TLS ${what} ${file}: ${(err as Error).message}`);
  }
}

/**
 * Reads and checks the certificate and key before uWebSockets.js gets them: its SSLApp refuses bad
 * files with only "App construction failed", and a key of another certificate would surface as
 * every handshake failing. Both files must be PEM, the key unencrypted and the certificate's own.
 * Throws a message naming the file and what is wrong with it (the command exits 1: never a
 * plain-text server instead).
 */
export function checkTlsFiles(certFile: string, keyFile: string): TlsFiles {
  const [certPath, keyPath] = [resolve(certFile), resolve(keyFile)];
  const certPem = read('certificate', certPath);
  const keyPem = read('key', keyPath);
  let cert: X509Certificate;
  try {
    if (!certPem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no "BEGIN CERTIFICATE" block');
    cert = new X509Certificate(certPem);
  } catch (err) {
    throw new Error(`the TLS certificate ${certPath} is not a PEM certificate (${(err as Error).message})`);
  }
  let key: ReturnType<typeof createPrivateKey>;
  try {
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(keyPem)) throw new Error('no "BEGIN PRIVATE KEY" block');
    if (/ENCRYPTED/.test(keyPem)) throw new Error('it is encrypted; the server takes no passphrase');
    key = createPrivateKey({ key: keyPem, format: 'pem' });
  } catch (err) {
    throw new Error(`the TLS key ${keyPath} is not an unencrypted PEM private key (${(err as Error).message})`);
  }
  if (!cert.checkPrivateKey(key)) throw new Error(`the TLS key ${keyPath} does not belong to the certificate ${certPath}`);
  return { certFile: certPath, keyFile: keyPath, subject: cert.subject.replace(/\n/g, ', '), validTo: new Date(cert.validTo) };
}
