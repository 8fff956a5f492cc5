// Logs never carry secrets, tokens or query strings, even at debug level.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import twilio from 'twilio';
import { startServer, waitFor } from '../helpers/server.js';
import { createLogger } from '../../src/log.js';
import { startCallbackReceiver } from '../helpers/callback-receiver.js';

test('debug logs of REST calls, token checks and callbacks contain no secrets', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const server = await startServer('sqlite', { logger: createLogger('debug', sink) });
  const receiver = await startCallbackReceiver(server.authToken);
  try {
    const token = new twilio.jwt.AccessToken(server.accountSid, server.apiKey, server.apiSecret, { identity: 'x' });
    token.addGrant(new twilio.jwt.AccessToken.VideoGrant());
    const jwt = token.toJwt();
    await server.tv.tokens.verify(jwt);
    await server.tv.tokens.verify(jwt + 'x').catch(() => undefined);
    const room = await server.client().video.v1.rooms.create({ uniqueName: 'logged', statusCallback: `${receiver.url}?cbsecret=hush` });
    await server.client(server.accountSid, server.authToken).video.v1.rooms(room.sid).fetch();
    await fetch(`${server.url}/v1/Rooms?PageToken=sneaky-query-value`, { headers: { authorization: 'Basic ' + Buffer.from(`${server.apiKey}:${server.apiSecret}`).toString('base64') } });
    await waitFor('callback', () => receiver.received.length > 0);
    await new Promise((r) => setTimeout(r, 100));
    const all = lines.join('');
    assert.ok(lines.length > 5, 'something was logged');
    assert.ok(all.includes('/v1/Rooms'), 'request paths are logged');
    for (const secret of [server.authToken, server.apiSecret, jwt.split('.')[2]!, 'sneaky-query-value', 'hush', Buffer.from(`${server.apiKey}:${server.apiSecret}`).toString('base64')]) {
      assert.ok(!all.includes(secret), `log contains a secret: ${secret.slice(0, 6)}…`);
    }
  } finally {
    await receiver.close();
    await server.stop();
  }
});
