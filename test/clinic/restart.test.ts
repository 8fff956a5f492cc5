// A waiting patient loses nothing when the server restarts: the check-in, the chat, the
// provider's status and the patient's session are in the database, so the page (reloaded or
// reconnected) finds everything as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { eachDatabase, startServer, type TestServer } from '../helpers/server.js';
import { book, linkToken, PatientClient, patientClient, staffClient } from './clinic-client.js';

eachDatabase('clinic state across a restart', (db) => {
  test('check-in, chat, status and the patient session survive a restart', async () => {
    const place = {
      dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'tv-clinic-restart-')),
      schema: `t_rst_${randomBytes(5).toString('hex')}`,
      env: {
        TWILIO_ACCOUNT_SID: 'AC' + randomBytes(16).toString('hex'),
        TWILIO_AUTH_TOKEN: randomBytes(16).toString('hex'),
        TWILIO_API_KEY: 'SK' + randomBytes(16).toString('hex'),
        TWILIO_API_SECRET: randomBytes(16).toString('hex'),
      },
    };
    let server: TestServer = await startServer(db, { ...place, keep: true });
    try {
      const demo = server.tv.clinic.demo!;
      const staff = await staffClient(server, demo.provider.email, demo.provider.password);
      const booked = await book(staff, demo.provider.id);
      const token = await linkToken(server, booked.id, 'invite');
      const patient = await patientClient(server, token, booked.patientDob);
      assert.equal((await patient.post('/api/patient/intake', { answers: { reason: 'Headaches' } })).status, 200);
      assert.equal((await patient.post('/api/patient/copay', { version: 'copay-v1' })).status, 200);
      assert.equal((await patient.post('/api/patient/consent', { version: 'consent-v1' })).status, 200);
      assert.equal((await patient.post('/api/patient/check-in')).status, 200);
      assert.equal((await patient.post('/api/patient/chat', { text: 'I am here' })).status, 201);
      assert.equal((await staff.post(`/api/appointments/${booked.id}/chat`, { text: 'Thanks, two minutes' })).status, 201);
      assert.equal((await staff.post(`/api/appointments/${booked.id}/status`, { message: 'Finishing another visit' })).status, 200);
      const before = (await patient.get('/api/patient/me')).body;

      await server.stop(); // keeps the data: the next start runs on it
      server = await startServer(db, place); // this one cleans up on stop

      // The same patient cookie works against the new process.
      const again = new PatientClient(server);
      for (const [k, v] of patient.cookies) again.cookies.set(k, v);
      const me = await again.get('/api/patient/me');
      assert.equal(me.status, 200, me.text);
      assert.equal(me.body.visitState, 'waiting');
      assert.equal(me.body.checkedInAt, before.checkedInAt);
      assert.equal(me.body.providerStatus, 'Finishing another visit');
      const chat = await again.get('/api/patient/chat');
      assert.deepEqual(
        chat.body.map((m: { from: string; body: string }) => [m.from, m.body]),
        [
          ['patient', 'I am here'],
          ['staff', 'Thanks, two minutes'],
        ],
      );
      // The provider, signing in again, still sees the patient waiting with the same check-in time.
      const staff2 = await staffClient(server, demo.provider.email, demo.provider.password);
      const view = await staff2.get(`/api/appointments/${booked.id}`);
      assert.equal(view.body.visitState, 'waiting');
      assert.equal(view.body.checkedInAt, before.checkedInAt);
    } finally {
      await server.stop();
      fs.rmSync(place.dataDir, { recursive: true, force: true });
    }
  });
});
