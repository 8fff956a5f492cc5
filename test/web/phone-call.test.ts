// The provider calls an interpreter by phone from the visit screen, in real Chromium: a live
// two-party visit (set up through the API where the UI is not under test); "Call by phone" →
// number, role, name and IVR digits; the call's line goes Calling…/Ringing → Connected with a
// running timer, fed by the staff socket; the IVR digits and keypad presses reach the far end
// (SIPp as the trunk, answering with its media on a socket the test reads) as RFC 4733 events;
// Hang up → Ended. The clinic's interpreter service (a local fake) is offered too: the provider
// requests a Spanish interpreter, who shows up waiting. Screenshots; axe finds no serious or
// critical problems with the dialog, the live call and the keypad.
import '../helpers/unhandled.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startServer, waitFor, type TestServer } from '../helpers/server.js';
import { launchChromium } from '../helpers/browser.js';
import { builtWebDir, screenshotPath } from '../helpers/web.js';
import { seriousA11yProblems } from '../helpers/axe.js';
import { checkedInPatient, staffClient } from '../clinic/clinic-client.js';
import { SippTrunk } from '../clinic/sipp-trunk.js';
import { assertSippSucceeded } from '../telephony/sipp.js';
import { startFakeInterpreterService, type FakeInterpreterService } from '../clinic/fake-interpreter-service.js';
import { parseRtp, parseTelephoneEvent } from '../../src/telephony/rtp.js';

const SECRET = 'web-test-interpreter-secret-0001';

async function assertAccessible(page: Page, screen: string): Promise<void> {
  const problems = await seriousA11yProblems(page);
  assert.deepEqual(problems, [], `${screen}: accessibility problems ${JSON.stringify(problems, null, 1)}`);
}

describe('provider calls an interpreter by phone from the visit, in Chromium [sqlite]', () => {
  let server: TestServer;
  let trunk: SippTrunk;
  let fake: FakeInterpreterService;
  let browser: Browser;
  let staffCtx: BrowserContext;
  let patientCtx: BrowserContext;
  let media: dgram.Socket;
  const digitsSeen: Array<{ ts: number; event: number }> = [];

  before(async () => {
    trunk = await SippTrunk.create();
    fake = await startFakeInterpreterService({ secret: SECRET });
    server = await startServer('sqlite', {
      env: { WEB_DIR: await builtWebDir(), ...trunk.env([45000, 45499]), INTERPRETER_SERVICE_URL: fake.url, INTERPRETER_SERVICE_SECRET: SECRET },
    });
    media = dgram.createSocket('udp4');
    await new Promise<void>((r) => media.bind(0, '127.0.0.1', () => r()));
    media.on('message', (msg) => {
      const p = parseRtp(msg);
      const e = p && p.payloadType === 96 ? parseTelephoneEvent(p.payload) : null;
      if (p && e && !digitsSeen.some((x) => x.ts === p.timestamp)) digitsSeen.push({ ts: p.timestamp, event: e.event });
    });
    browser = await launchChromium();
    staffCtx = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    patientCtx = await browser.newContext({ viewport: { width: 900, height: 700 } });
    for (const [who, ctx] of [['staff', staffCtx], ['patient', patientCtx]] as const) {
      ctx.on('weberror', (e) => console.error(`[${who} page error]`, e.error().message));
      ctx.on('console', (m) => m.type() === 'error' && console.error(`[${who} console]`, m.text()));
    }
  });
  after(async () => {
    await browser?.close();
    await fake?.close();
    await trunk?.stop();
    await server?.stop();
    media?.close();
  });

  test('Call by phone → Ringing → Connected; IVR and keypad digits reach the phone; Hang up → Ended', async () => {
    const demo = server.tv.clinic.demo!;
    // A live two-party visit: the patient checked in through the API, admitted, both in the room.
    const api = await staffClient(server, demo.provider.email, demo.provider.password);
    const { visit, token, patient: pc } = await checkedInPatient(server, api, demo.provider.id, { patientName: 'Rosa Delgado', language: 'es', interpreterNeeded: true, reason: 'Dolor de rodilla' });
    await patientCtx.addCookies([{ name: 'tv_patient', value: pc.session!, url: server.url }]);
    const patient = await patientCtx.newPage();
    await patient.goto(`${server.url}/v/${token}`);
    await patient.getByTestId('waiting-room').waitFor();
    assert.equal((await api.post(`/api/appointments/${visit.id}/admit`)).status, 200);
    await staffCtx.addCookies([{ name: 'tv_staff', value: api.session!, url: server.url }]);
    const staff = await staffCtx.newPage();
    await staff.goto(`${server.url}/staff/visit/${visit.id}`);
    await staff.getByTestId('visit-room').waitFor();
    await patient.getByTestId('visit-room').waitFor({ timeout: 15_000 });
    await waitFor('the patient on the provider’s screen', () => staff.getByTestId('main-video').filter({ hasText: 'Rosa Delgado' }).isVisible(), 30_000);

    // The far end rings for 4 s, then answers (media to our socket).
    const sipp = await trunk.play('ring-answer-dtmf.xml', { keys: { dtmf_port: media.address().port }, timeoutSeconds: 90 });

    // "Call by phone": number, role, name, IVR digits with the hint about pauses.
    await staff.getByRole('button', { name: 'Call by phone' }).click();
    const dialog = staff.getByTestId('call-dialog');
    await dialog.waitFor();
    // Escape closes it, as every dialog here.
    await staff.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    await staff.getByRole('button', { name: 'Call by phone' }).click();
    await dialog.waitFor();
    assert.equal(await staff.evaluate(() => document.activeElement?.id), 'call-to', 'focus starts on the number');
    await dialog.getByLabel('Phone number').fill('(555) 301-7788');
    await dialog.getByLabel('Role').selectOption('interpreter');
    await dialog.getByLabel('Name (optional)').fill('Ana López');
    await dialog.getByLabel(/Digits to press/).fill('w1');
    assert.match(await dialog.locator('#call-digits-hint').innerText(), /w waits half a second/);
    await staff.screenshot({ path: screenshotPath('phone-1-call-dialog') });
    await assertAccessible(staff, 'call dialog');
    await dialog.getByRole('button', { name: 'Call' }).click();
    await dialog.waitFor({ state: 'detached' });

    // The call's line, live from the staff socket.
    const line = staff.getByTestId('phone-call').filter({ hasText: 'Ana López' });
    await line.waitFor();
    assert.match(await line.innerText(), /…7788/);
    assert.doesNotMatch(await staff.content(), /555.?301.?7788/, 'the page never shows the full number');
    // Read while it rings, in one go (on a busy machine the answer may come soon after).
    const ringing = await staff.waitForFunction(() => {
      const el = document.querySelector('[data-testid="phone-call"][data-status="ringing"]');
      return el ? { status: el.querySelector('[role="status"]')?.textContent, focus: document.activeElement?.getAttribute('aria-label') } : null;
    }, null, { timeout: 10_000 });
    const seen = (await ringing.jsonValue())!;
    assert.equal(seen.status, 'Ringing');
    assert.equal(seen.focus, 'Hang up Ana López', 'focus moves to the new call’s Hang up');
    await staff.screenshot({ path: screenshotPath('phone-2-ringing') });
    await staff.locator('[data-testid="phone-call"][data-status="in-progress"]').waitFor({ timeout: 10_000 });
    assert.equal(await line.getByRole('status').innerText(), 'Connected');
    await waitFor('the timer runs', async () => /^00:0[1-9]$/.test(await line.getByTestId('phone-timer').innerText()), 5000);
    // The phone leg is a participant of the room (through the audio bridge), shown by name and role.
    const phoneTile = staff.getByTestId('thumb').filter({ hasText: 'Ana López' });
    await phoneTile.waitFor({ timeout: 15_000 });
    assert.match(await phoneTile.innerText(), /Interpreter \(phone\)/);
    assert.match((await phoneTile.getAttribute('data-identity'))!, /^ph-[0-9a-f]{24}$/);

    // The IVR digit went out after the answer; the keypad sends digits live.
    await waitFor('IVR digit 1', () => digitsSeen.length >= 1, 5000);
    await line.getByRole('button', { name: 'Keypad for Ana López' }).click();
    const keypad = line.getByTestId('keypad');
    await keypad.waitFor();
    for (const key of ['4', '2', 'pound']) await keypad.getByRole('button', { name: key, exact: true }).click();
    await waitFor('keypad digits at the phone', () => digitsSeen.length >= 4, 5000);
    assert.deepEqual(digitsSeen.map((d) => d.event), [1, 4, 2, 11]);
    assert.match(await line.getByTestId('keypad-sent').innerText(), /Sent: 42#/);
    await staff.screenshot({ path: screenshotPath('phone-3-connected-keypad') });
    await assertAccessible(staff, 'visit with a connected call and the keypad');

    // The interpreter service is offered too: a Spanish interpreter by video link shows up waiting.
    const service = staff.getByTestId('interpreter-requests');
    await service.getByRole('button', { name: 'Request interpreter' }).click();
    const ask = staff.getByTestId('interpreter-dialog');
    await ask.getByLabel('Language').selectOption('es');
    await ask.getByLabel('By video, with a link for this visit').check();
    await staff.screenshot({ path: screenshotPath('phone-4-interpreter-dialog') });
    await assertAccessible(staff, 'interpreter request dialog');
    await ask.getByRole('button', { name: 'Request' }).click();
    await service.getByTestId('interpreter-request').filter({ hasText: 'Spanish' }).filter({ hasText: 'On the way' }).waitFor({ timeout: 10_000 });
    await staff.getByTestId('guest-waiting').filter({ hasText: 'Interpreter Lucía Fernández is waiting' }).waitFor({ timeout: 10_000 });
    await staff.screenshot({ path: screenshotPath('phone-5-interpreter-waiting') });

    // Hang up → Ended; the far end got our BYE.
    await line.getByRole('button', { name: 'Hang up Ana López' }).click();
    await staff.locator('[data-testid="phone-call"][data-status="completed"]').waitFor({ timeout: 10_000 });
    assert.equal(await line.getByRole('status').innerText(), 'Ended');
    await assertSippSucceeded(sipp);
    await staff.screenshot({ path: screenshotPath('phone-6-ended') });
    await assertAccessible(staff, 'visit after the call ended');
  });
});
