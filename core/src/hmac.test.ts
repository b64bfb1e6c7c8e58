import t from 'tap';
import { createHmac } from 'node:crypto';
import { authenticateBody, sign, signaturesEqual, unixSeconds } from './hmac.js';

const SECRET = `rps_${'5a'.repeat(32)}`;
const API_KEY = `rpa_${'0f'.repeat(32)}`;
const CLIENT_ID = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
const NONCE = '00112233445566778899aabbccddeeff';

// Computed here with node:crypto directly, so the test does not trust the helper's own formatting.
function reference(secret: string, message: string): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(Buffer.from(message, 'utf8')).digest('hex');
}

t.test('sign is hex HMAC-SHA256 over timestamp.email.api_key.body', async (t) => {
  const input = { secret: SECRET, timestamp: 1717000000, email: 'alice@example.com', apiKey: API_KEY, body: 'payload' };
  const sig = sign(input);
  t.match(sig, /^[0-9a-f]{64}$/);
  t.equal(sig, reference(SECRET, `1717000000.alice@example.com.${API_KEY}.payload`));
  // Every input is part of the message.
  t.not(sign({ ...input, timestamp: 1717000001 }), sig);
  t.not(sign({ ...input, email: 'Alice@example.com' }), sig, 'the email is signed exactly as sent, not folded');
  t.not(sign({ ...input, apiKey: `rpa_${'0e'.repeat(32)}` }), sig);
  t.not(sign({ ...input, body: 'payload2' }), sig);
  t.not(sign({ ...input, secret: `rps_${'5b'.repeat(32)}` }), sig);
});

t.test('non-ASCII input is signed as UTF-8', async (t) => {
  const input = { secret: SECRET, timestamp: 1, email: 'zoë@exämple.com', apiKey: API_KEY, body: '😀' };
  t.equal(sign(input), reference(SECRET, `1.zoë@exämple.com.${API_KEY}.😀`));
});

t.test('authenticateBody with a nonce is client_id.nonce', async (t) => {
  const body = authenticateBody(CLIENT_ID, NONCE);
  t.equal(body, `${CLIENT_ID}.${NONCE}`);
  const sig = sign({ secret: SECRET, timestamp: 1717000000, email: 'a@b.co', apiKey: API_KEY, body });
  t.equal(sig, reference(SECRET, `1717000000.a@b.co.${API_KEY}.${CLIENT_ID}.${NONCE}`));
});

t.test('authenticateBody without a nonce is empty, so the signed message ends with a dot', async (t) => {
  const body = authenticateBody(CLIENT_ID);
  t.equal(body, '');
  const sig = sign({ secret: SECRET, timestamp: 1717000000, email: 'a@b.co', apiKey: API_KEY, body });
  t.equal(sig, reference(SECRET, `1717000000.a@b.co.${API_KEY}.`));
  t.not(sig, reference(SECRET, `1717000000.a@b.co.${API_KEY}`), 'the trailing dot is part of the message');
  t.not(sig, sign({ secret: SECRET, timestamp: 1717000000, email: 'a@b.co', apiKey: API_KEY, body: authenticateBody(CLIENT_ID, NONCE) }));
});

t.test('signaturesEqual', async (t) => {
  const sig = reference(SECRET, 'm');
  t.equal(signaturesEqual(sig, sig), true);
  const flipped = `${sig.slice(0, 63)}${sig[63] === '0' ? '1' : '0'}`;
  t.equal(signaturesEqual(sig, flipped), false, 'last digit differs');
  t.equal(signaturesEqual(sig, `${sig[0] === '0' ? '1' : '0'}${sig.slice(1)}`), false, 'first digit differs');
  t.not(sig, sig.toUpperCase(), 'this digest holds a letter');
  t.equal(signaturesEqual(sig, sig.toUpperCase()), false, 'case is not folded');
  t.equal(signaturesEqual(sig, sig.slice(0, 63)), false, 'shorter');
  t.equal(signaturesEqual(sig, `${sig}0`), false, 'longer');
  t.equal(signaturesEqual(sig, ''), false, 'empty');
  t.equal(signaturesEqual('', ''), true);
});

t.test('unixSeconds is whole seconds', async (t) => {
  t.equal(unixSeconds(1717000000999), 1717000000);
  t.equal(unixSeconds(0), 0);
  const now = unixSeconds();
  t.ok(Number.isInteger(now) && Math.abs(now - Date.now() / 1000) < 2);
});
