// The whole visit in real Chromium with fake camera and microphone, driven through the pages
// the way a clinic and a patient use them: the provider signs in and books; the SMS lands in
// the outbox; the patient (on a phone-sized screen) opens the link, verifies, fills the intake,
// acknowledges the copay, consents, runs the checks and waits; the provider sees the patient
// arrive without reloading, sends a status and a chat message, admits; both decode each other's
// video through our SFU; the provider ends the visit and the record shows both people.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { DATABASES, startServer, waitFor, type TestServer } from '../helpers/server.js';
import { launchChromium } from '../helpers/browser.js';
import { builtWebDir, screenshotPath } from '../helpers/web.js';
import { seriousA11yProblems } from '../helpers/axe.js';
import { STRINGS } from '../../web/patient/i18n.js';
import { startTurnServer, type TurnServer } from '../helpers/turn.js';
import { DEFAULT_SETTINGS } from '../../src/clinic/clinic-settings.js';

const DESKTOP = { viewport: { width: 1280, height: 800 } };
const PHONE = {
  viewport: { width: 360, height: 740 },
  isMobile: true,
  hasTouch: true,
  userAgent: 'Mozilla/5.0 (Linux; Android 13; Pixel 6) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36',
};

/** SQLite: a Spanish-speaking patient on a phone; PostgreSQL: English on a computer. (A $0 copay, which skips that step, is in patient-edge-cases.) */
const VARIANTS = {
  sqlite: { device: PHONE, lang: 'es', copay: '15.00', size: 'phone' },
  postgres: { device: DESKTOP, lang: 'en', copay: '25.00', size: 'desktop' },
} as const;

/** Every patient screen (and the staff ones on the way) must pass WCAG 2.1 AA's serious rules. */
async function assertAccessible(page: Page, screen: string): Promise<void> {
  const problems = await seriousA11yProblems(page);
  assert.deepEqual(problems, [], `${screen}: accessibility problems ${JSON.stringify(problems, null, 1)}`);
}

async function decodedVideo(page: Page): Promise<{ width: number; height: number }> {
  return waitFor(
    'remote video decoding',
    () =>
      page.evaluate(() => {
        const v = document.querySelector('[data-testid="main-video"] video') as HTMLVideoElement | null;
        return v && v.videoWidth > 0 && v.currentTime > 0 ? { width: v.videoWidth, height: v.videoHeight } : undefined;
      }),
    30_000,
  );
}

for (const db of DATABASES) {
  describe(`visit journey in Chromium [${db}]`, () => {
    let server: TestServer;
    let browser: Browser;
    let staffCtx: BrowserContext;
    let patientCtx: BrowserContext;
    let turn: TurnServer;

    before(async () => {
      // The clinic hands out a TURN relay (coturn), so the patient's check tests relaying too.
      turn = await startTurnServer();
      server = await startServer(db, { env: { WEB_DIR: await builtWebDir(), TURN_URLS: turn.url, TURN_SECRET: turn.secret } });
      browser = await launchChromium();
      staffCtx = await browser.newContext({ viewport: { width: 1366, height: 860 } });
      patientCtx = await browser.newContext(VARIANTS[db].device);
    });
    after(async () => {
      await browser?.close();
      await server?.stop();
      await turn?.stop();
    });

    const v = VARIANTS[db];
    const t = STRINGS[v.lang];
    const question = (id: string) => DEFAULT_SETTINGS.intakeQuestions.find((q) => q.id === id)!.label[v.lang];
    const shot = (name: string) => screenshotPath(`${name}-${v.size}`);

    test(`book → SMS → portal → checks → waiting room → admit → visit → end → record (${v.lang}, ${v.size})`, async () => {
      const demo = server.tv.clinic.demo!;
      const staff = await staffCtx.newPage();
      for (const [who, ctx] of [['staff', staffCtx], ['patient', patientCtx]] as const) {
        ctx.on('weberror', (e) => console.error(`[${who} page error]`, e.error().message));
        ctx.on('console', (m) => m.type() === 'error' && console.error(`[${who} console]`, m.text()));
      }
      staff.on('dialog', (d) => void d.accept());

      // Provider signs in.
      await staff.goto(`${server.url}/staff`);
      await staff.getByLabel('Email').fill(demo.provider.email);
      await staff.getByLabel('Password').fill(demo.provider.password);
      await staff.getByRole('button', { name: 'Sign in' }).click();
      await staff.getByRole('heading', { name: 'Waiting room' }).waitFor();

      // Books a visit starting in 10 minutes.
      await staff.getByRole('button', { name: '+ New appointment' }).click();
      await staff.getByLabel('Patient name').fill('Rosa Delgado');
      await staff.getByLabel(/Mobile number/).fill('(555) 410-2288');
      await staff.getByLabel(/Date of birth/).fill('1948-02-29');
      await staff.getByLabel('Language').selectOption(v.lang);
      await staff.getByLabel('Copay ($)').fill(v.copay);
      await staff.getByLabel(/Visit reason/).fill('Knee pain follow-up');
      await staff.getByRole('button', { name: 'Book and text the patient' }).click();
      await staff.getByRole('cell', { name: /Rosa Delgado/ }).waitFor();

      // The invitation is in the outbox, in Spanish, with the link and nothing clinical.
      const sms = await waitFor('invitation SMS', async () => {
        const r = (await (await fetch(`${server.url}/dev/outbox.json`)).json()) as { messages: { kind: string; body: string }[] };
        return r.messages.find((m) => m.kind === 'invite');
      });
      assert.match(sms.body, v.lang === 'es' ? /Demo Family Clinic: su visita por video/ : /Demo Family Clinic: your video visit/);
      for (const secret of ['Rosa', 'Delgado', 'Knee', '1948', 'Rivera']) assert.ok(!sms.body.includes(secret), `SMS must not contain ${secret}`);
      const link = sms.body.match(/https?:\/\/\S+\/v\/[A-Za-z0-9_-]{43}/)?.[0];
      assert.ok(link, 'the SMS carries the patient link');

      // Patient on a phone: verify (Spanish), intake, copay ($0 copay is skipped), consent.
      const patient = await patientCtx.newPage();
      await patient.goto(link);
      await patient.getByRole('heading', { name: t.verifyTitle }).waitFor();
      await patient.screenshot({ path: shot('patient-1-verify'), fullPage: true });
      await assertAccessible(patient, 'patient verify');
      await patient.getByLabel(t.month).selectOption('1');
      await patient.getByLabel(t.day).fill('1');
      await patient.getByLabel(t.year).fill('1950');
      await patient.getByRole('button', { name: t.continue }).click();
      await patient.getByText(t.errors.bad_dob!).waitFor();
      await patient.getByLabel(t.month).selectOption('2');
      await patient.getByLabel(t.day).fill('29');
      await patient.getByLabel(t.year).fill('1948');
      await patient.getByRole('button', { name: t.continue }).click();
      await patient.getByRole('heading', { name: t.intakeTitle }).waitFor();
      await patient.getByLabel(question('reason')).fill('Me duele la rodilla al subir escaleras');
      await patient.getByLabel(question('allergies')).fill('Penicilina');
      await patient.screenshot({ path: shot('patient-2-intake'), fullPage: true });
      await assertAccessible(patient, 'patient intake');
      await patient.getByRole('button', { name: t.continue }).click();
      {
        // Both variants have a copay (the $0 case, which skips this step, is in patient-edge-cases).
        await patient.getByRole('heading', { name: t.copayTitle }).waitFor();
        await patient.locator('.big-number', { hasText: `$${v.copay}` }).waitFor();
        // The language switch works mid-journey and is remembered (the other language and back).
        const other = STRINGS[v.lang === 'es' ? 'en' : 'es'];
        await patient.getByRole('button', { name: t.switchToLabel }).click();
        await patient.getByRole('heading', { name: other.copayTitle }).waitFor();
        await patient.getByText(v.lang === 'es' ? 'I understand that a copay' : 'Entiendo que se debe un copago').waitFor();
        await patient.getByRole('button', { name: other.switchToLabel }).click();
        await patient.getByRole('heading', { name: t.copayTitle }).waitFor();
        await patient.screenshot({ path: shot('patient-2b-copay'), fullPage: true });
        await assertAccessible(patient, 'patient copay');
        await patient.getByRole('button', { name: t.copayAgree }).click();
      }
      await patient.getByRole('heading', { name: t.consentTitle }).waitFor();
      await assertAccessible(patient, 'patient consent');
      await patient.getByRole('button', { name: t.consentAgree }).click();

      // Checks with the fake camera and microphone.
      await patient.getByRole('button', { name: t.startChecks }).click();
      const go = patient.getByRole('button', { name: t.enterWaitingRoom });
      await waitFor('checks finished', () => go.isEnabled(), 20_000);
      await patient.screenshot({ path: shot('patient-3-checks'), fullPage: true });
      await assertAccessible(patient, 'patient checks');
      await go.click();
      await patient.getByTestId('waiting-room').waitFor();

      // The provider sees the patient arrive without reloading, with the check results.
      const item = staff.getByTestId('queue-item').filter({ hasText: 'Rosa Delgado' });
      await item.waitFor({ timeout: 10_000 });
      assert.match(await item.innerText(), /Waiting \d+ min/);
      assert.equal(await item.locator('.chip.ok', { hasText: 'Camera' }).count(), 1, 'camera check passed');
      // The network check ran for real over loopback: good, or fair when a busy machine slowed the
      // encoder or the timing; the chip shows what was measured.
      const network = (await item.locator('.chip', { hasText: 'Network' }).getAttribute('class'))!;
      // The network check was a real media test through our own server, with its numbers kept for the clinic.
      const apptId = await item.getAttribute('data-appointment');
      const view = (await staff.evaluate((id) => fetch(`/api/appointments/${id}`).then((r) => r.json()), apptId)) as { precall: { network: string; details: { connected: boolean; sendKbps: number; rttMs: number | null; httpRttMs: number; turn: string; transport: string } } };
      assert.ok(['good', 'fair'].includes(view.precall.network), `network check ${view.precall.network}: ${JSON.stringify(view.precall.details)}`);
      assert.match(network, view.precall.network === 'good' ? /\bok\b/ : /\bwarn\b/, `the chip shows the result (${network})`);
      assert.equal(view.precall.details.connected, true);
      assert.equal(view.precall.details.turn, 'pass', 'media relayed through the TURN server');
      assert.ok(view.precall.details.sendKbps > 100, `media flowed during the check (${view.precall.details.sendKbps} kbps)`);
      await patient.getByTestId('waiting-self-view').waitFor();

      // The provider reads the intake before the visit, with the clinic's question wording.
      await item.getByRole('button', { name: 'Intake' }).click();
      const intake = staff.getByRole('dialog');
      await intake.getByText('Me duele la rodilla al subir escaleras').waitFor();
      await intake.getByText(DEFAULT_SETTINGS.intakeQuestions.find((q) => q.id === 'allergies')!.label.en).waitFor();
      await intake.getByRole('button', { name: 'Close' }).click();

      // Status and chat reach the patient live; the patient's reply reaches the provider.
      await item.getByRole('button', { name: 'Set status' }).click();
      await staff.getByRole('button', { name: 'Running about 10 minutes late' }).click();
      await staff.getByRole('button', { name: 'Show to patient' }).click();
      // The patient reads Spanish, so the preset reaches them in Spanish.
      await patient.getByTestId('provider-status').filter({ hasText: v.lang === 'es' ? 'Voy con unos 10 minutos de retraso' : 'Running about 10 minutes late' }).waitFor();
      await item.getByRole('button', { name: 'Starting soon' }).click();
      await patient.getByText(t.admitSoon).waitFor();
      await item.getByRole('button', { name: /^Chat/ }).click();
      await staff.getByPlaceholder('Write to the patient…').fill('Hola Rosa, ya casi empezamos.');
      await staff.getByRole('button', { name: 'Send' }).click();
      await patient.getByTestId('chat-message').filter({ hasText: 'ya casi empezamos' }).waitFor();
      await patient.getByPlaceholder(t.chatPlaceholder).fill('Gracias, aquí estoy');
      await patient.getByRole('button', { name: t.send }).click();
      await staff.getByTestId('chat-message').filter({ hasText: 'aquí estoy' }).waitFor();
      await patient.screenshot({ path: shot('patient-4-waiting-room'), fullPage: true });
      await assertAccessible(patient, 'patient waiting room');
      await staff.getByRole('button', { name: 'Close chat' }).click();
      await staff.screenshot({ path: shot('staff-1-dashboard'), fullPage: true });
      await assertAccessible(staff, 'staff dashboard');

      // Admit: the provider goes into the visit, the patient is moved in.
      await item.getByRole('button', { name: 'Admit' }).click();
      await staff.getByTestId('visit-room').waitFor();
      await patient.getByTestId('visit-room').waitFor({ timeout: 10_000 });
      const [seenByStaff, seenByPatient] = await Promise.all([decodedVideo(staff), decodedVideo(patient)]);
      assert.ok(seenByStaff.width >= 320, `provider decodes the patient's video (${seenByStaff.width}x${seenByStaff.height})`);
      assert.ok(seenByPatient.width >= 320, `patient decodes the provider's video (${seenByPatient.width}x${seenByPatient.height})`);
      // Names travel outside the video service: the provider sees the patient's name on the tile.
      await staff.getByTestId('main-video').getByText('Rosa Delgado').waitFor();
      await patient.getByTestId('main-video').getByText('Dr. Ana Rivera').waitFor();
      // Identities in the room are opaque.
      const identities = await staff.evaluate(() => [...(window as any).visitRoom.participants.values()].map((p: any) => p.identity));
      assert.equal(identities.length, 1);
      assert.match(identities[0], /^pt-[0-9a-f]{24}$/);
      await staff.screenshot({ path: shot('staff-2-visit') });
      await patient.screenshot({ path: shot('patient-5-visit') });
      await assertAccessible(patient, 'patient visit');

      // The patient leaves and rejoins from the same page while the visit is open.
      await patient.getByRole('button', { name: t.visit.leave }).click();
      await patient.getByRole('heading', { name: t.leftTitle }).waitFor();
      await patient.getByRole('button', { name: t.rejoin }).click();
      await patient.getByTestId('visit-room').waitFor();
      await decodedVideo(patient);

      // End: the patient gets the end screen; the record shows both people and the duration.
      await staff.getByRole('button', { name: 'End visit' }).click();
      await patient.getByRole('heading', { name: t.endedTitle }).waitFor({ timeout: 10_000 });
      await staff.getByTestId('visit-record').waitFor();
      await waitFor('participants in the record', async () => (await staff.getByTestId('record-participant').count()) >= 2);
      const record = await staff.getByTestId('visit-record').innerText();
      assert.match(record, /Rosa Delgado/);
      assert.match(record, /Dr\. Ana Rivera/);
      assert.match(record, /Me duele la rodilla/);
      assert.match(record, /aquí estoy/);
      await patient.screenshot({ path: shot('patient-6-ended') });
      await assertAccessible(patient, 'patient end screen');
      await staff.screenshot({ path: shot('staff-3-record'), fullPage: true });

      // The link is dead after the visit.
      const open = await fetch(`${server.url}/api/patient/open`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: link.split('/v/')[1] }) });
      assert.equal(open.status, 410);
    });
  });
}
