// The clinic workflow at debug log level: the logs never carry the patient's name, phone, date
// of birth, the link secret or a session cookie. SQLite and PostgreSQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { eachDatabase, startServer, waitFor } from '../helpers/server.js';
import { createLogger } from '../../src/log.js';
import { book, eventSocket, linkToken, messagesFor, PatientClient, staffClient, totpSecretOf } from './clinic-client.js';

eachDatabase('clinic logs', (db) => {
  test('debug logs of a whole visit hold no patient data, links or cookies', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const server = await startServer(db, { logger: createLogger('debug', sink), env: { LOG_LEVEL: 'debug' } });
    try {
      const demo = server.tv.clinic.demo!;
      const admin = await staffClient(server, demo.admin.email, demo.admin.password);
      const provider = await staffClient(server, demo.provider.email, demo.provider.password);
      const desk = await staffClient(server, demo.frontDesk.email, demo.frontDesk.password);
      const visit = await book(desk, demo.provider.id, { startsAt: new Date(server.clock.now() + 5 * 60_000).toISOString(), patientPhone: '(555) 867-5309' });
      const phone = '+15558675309';
      const token = await linkToken(server, visit.id);
      await waitFor('invite delivered', async () => (await messagesFor(server, visit.id))[0]?.status === 'delivered');

      // The patient's page and API, including mistakes.
      await fetch(`${server.url}/v/${token}`);
      await fetch(`${server.url}/v/${token}?lang=es`);
      await fetch(`${server.url}/api/patient/open?token=${token}`, { method: 'POST' });
      const patient = new PatientClient(server);
      assert.equal((await patient.open(token)).status, 200);
      assert.equal((await patient.verify(token, '1900-02-02')).status, 401);
      assert.equal((await patient.verify(token, visit.patientDob)).status, 200);
      const patientCookie = patient.session!;
      const patientSocket = await eventSocket(patient, 'patient');
      const staffSocket = await eventSocket(provider);
      await patient.get('/api/patient/me');
      await patient.post('/api/patient/intake', { answers: { reason: 'Chest pain when climbing stairs' } });
      await patient.post('/api/patient/intake', { answers: { reason: '' } });
      const me = (await patient.get('/api/patient/me')).body;
      await patient.post('/api/patient/copay', { version: me.copay.version });
      await patient.post('/api/patient/consent', { version: 'wrong-version' });
      await patient.post('/api/patient/consent', { version: me.consent.version });
      await patient.post('/api/patient/precall', { browser: 'pass', camera: 'pass', microphone: 'pass', network: 'fair' });
      await patient.post('/api/patient/check-in');
      await patient.post('/api/patient/chat', { text: 'Hello, this is the patient' });
      await provider.post(`/api/appointments/${visit.id}/status`, { message: 'Running late', lateMinutes: 10, sendSms: true });
      await waitFor('running-late text', async () => (await messagesFor(server, visit.id, 'running-late'))[0]?.status === 'delivered');
      await provider.post(`/api/appointments/${visit.id}/chat`, { text: 'Hello from the provider' });
      await provider.post(`/api/appointments/${visit.id}/admit`);
      const st = (await provider.post(`/api/appointments/${visit.id}/visit-token`)).body;
      const pt = (await patient.post('/api/patient/visit-token')).body;
      await patient.get('/api/patient/directory');
      await provider.get(`/api/appointments/${visit.id}/directory`);
      await provider.post(`/api/appointments/${visit.id}/end`);
      await provider.get(`/api/appointments/${visit.id}/record`);
      await desk.get(`/api/appointments/${visit.id}`);
      await desk.get(`/api/appointments/${visit.id}/sms`);
      await admin.get('/api/audit');
      await patient.open(token);
      await patient.post('/api/patient/logout');
      patientSocket.close();
      staffSocket.close();

      // A second appointment: reschedule, new link, cancel.
      const other = await book(desk, demo.provider.id);
      await desk.patch(`/api/appointments/${other.id}`, { startsAt: new Date(server.clock.now() + 5 * 3600_000).toISOString() });
      await desk.post(`/api/appointments/${other.id}/link`, { sendNew: true });
      const otherToken = await linkToken(server, other.id, 'new-link');
      await desk.post(`/api/appointments/${other.id}/cancel`, { notifyPatient: true });
      await waitFor('all delivered', async () => (await messagesFor(server, other.id)).every((m) => m.status === 'delivered'));
      await new PatientClient(server).open(otherToken);
      await new Promise((r) => setTimeout(r, 200));

      const all = lines.join('');
      assert.ok(lines.length > 20, 'something was logged');
      assert.ok(all.includes('/api/patient/verify'), 'request paths are logged');
      assert.ok(all.includes('sms stored in the outbox'), 'texts are logged');
      const secrets: Array<[string, string]> = [
        ['patient name', visit.patientName],
        ...visit.patientName.split(/[\s-]+/).filter((s) => s.length > 3).map((s): [string, string] => ['part of the name', s]),
        ['other patient name', other.patientName],
        ['phone', phone],
        ['phone digits', '5558675309'],
        ['phone as typed', '867-5309'],
        ['other phone', other.patientPhone],
        ['DOB', visit.patientDob],
        ['wrong DOB tried', '1900-02-02'],
        ['reason', visit.reason],
        ['intake answer', 'Chest pain'],
        ['chat', 'Hello, this is the patient'],
        ['link secret', token],
        ['other link secret', otherToken],
        ['patient cookie', patientCookie],
        ['provider cookie', provider.session!],
        ['desk cookie', desk.session!],
        ['admin cookie', admin.session!],
        ['admin password', demo.admin.password],
        ['TOTP secret', totpSecretOf(server, demo.admin.email)!],
        ['staff token signature', st.token.split('.')[2]],
        ['patient token signature', pt.token.split('.')[2]],
      ];
      for (const [what, secret] of secrets) {
        assert.ok(secret && secret.length >= 4, `${what} is a real value`);
        const at = all.indexOf(secret);
        assert.ok(at < 0, `the log contains the ${what}: …${all.slice(Math.max(0, at - 200), at + 50)}`);
      }
    } finally {
      await server.stop();
    }
  });
});
