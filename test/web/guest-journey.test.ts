// A third person joins a live visit by guest link, in real Chromium with fake cameras: the
// provider and the patient are in a two-party visit (set up through the API where the UI is not
// under test); the patient invites a family member from the waiting room; the provider invites
// an interpreter from the visit screen (link shown with Copy, SMS in the outbox); a third browser
// opens the link, runs the same pre-call checks as patients (English and Spanish), waits; the
// provider sees "Interpreter Ana López is waiting" and admits; all three decode each other's
// video and see the guest's role and name on the tile; revoking disconnects the guest and kills
// the link. Guest pages pass axe's serious and critical WCAG 2.1 AA rules.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startServer, waitFor, type TestServer } from '../helpers/server.js';
import { launchChromium } from '../helpers/browser.js';
import { builtWebDir, screenshotPath } from '../helpers/web.js';
import { seriousA11yProblems } from '../helpers/axe.js';
import { checkedInPatient, outbox, staffClient } from '../clinic/clinic-client.js';

const PHONE = {
  viewport: { width: 360, height: 740 },
  isMobile: true,
  hasTouch: true,
  userAgent: 'Mozilla/5.0 (Linux; Android 13; Pixel 6) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36',
};

async function assertAccessible(page: Page, screen: string): Promise<void> {
  const problems = await seriousA11yProblems(page);
  assert.deepEqual(problems, [], `${screen}: accessibility problems ${JSON.stringify(problems, null, 1)}`);
}

/** Waits until the page shows `n` remote videos (speaker + thumbnails, not the self-view), all decoding. */
async function remoteVideos(page: Page, n: number, who: string): Promise<number[][]> {
  return waitFor(
    `${n} remote videos decoding at the ${who}`,
    () =>
      page.evaluate((count) => {
        const videos = [...document.querySelectorAll('[data-testid="main-video"] video, [data-testid="thumb"] video')] as HTMLVideoElement[];
        return videos.length === count && videos.every((v) => v.videoWidth > 0 && v.currentTime > 0) ? videos.map((v) => [v.videoWidth, v.videoHeight]) : undefined;
      }, n),
    45_000,
  ).catch(async (err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(await videoState(page).catch((e: Error) => e.message))}`);
  });
}

/** What a page shows and receives, for a failure message: its video elements and inbound video stats. */
function videoState(page: Page): Promise<unknown> {
  return page.evaluate(async () => {
    const videos = [...document.querySelectorAll('video')].map((v) => ({ where: v.closest('[data-testid]')?.getAttribute('data-testid'), w: v.videoWidth, t: v.currentTime, paused: v.paused }));
    const room = (window as any).visitRoom;
    const stats: unknown[] = [];
    if (room) {
      for (const pc of room._signaling._peerConnectionManager._peerConnections.values()) {
        (await (pc._peerConnection as RTCPeerConnection).getStats()).forEach((s: any) => {
          if (s.type === 'inbound-rtp') stats.push({ kind: s.kind, packets: s.packetsReceived, frames: s.framesDecoded, keyframes: s.keyFramesDecoded, plis: s.pliCount, nacks: s.nackCount });
          if (s.type === 'candidate-pair' && s.nominated) stats.push({ pair: s.state, rtt: s.currentRoundTripTime });
        });
      }
    }
    return { state: room?.state, participants: room ? [...room.participants.values()].map((p: any) => ({ id: p.identity, video: [...p.videoTracks.values()].map((t: any) => ({ sub: t.isSubscribed, on: t.track?.isEnabled, switchedOff: t.track?.isSwitchedOff })) })) : null, videos, stats };
  });
}

/** The tile (speaker or thumbnail) that shows this name. */
const tile = (page: Page, name: string) => page.locator('[data-testid="main-video"], [data-testid="thumb"]').filter({ hasText: name });

describe('guest joins a visit by link, in Chromium [sqlite]', () => {
  let server: TestServer;
  let browser: Browser;
  let staffCtx: BrowserContext;
  let patientCtx: BrowserContext;
  let guestCtx: BrowserContext;

  before(async () => {
    server = await startServer('sqlite', { env: { WEB_DIR: await builtWebDir() } });
    browser = await launchChromium();
    staffCtx = await browser.newContext({ viewport: { width: 1366, height: 860 } });
    await staffCtx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    patientCtx = await browser.newContext(PHONE);
    guestCtx = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    for (const [who, ctx] of [['staff', staffCtx], ['patient', patientCtx], ['guest', guestCtx]] as const) {
      ctx.on('weberror', (e) => console.error(`[${who} page error]`, e.error().message));
      ctx.on('console', (m) => m.type() === 'error' && console.error(`[${who} console]`, m.text()));
    }
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('provider invites an interpreter from the visit; the guest checks, waits, is admitted; three-way video; revoke', async () => {
    const demo = server.tv.clinic.demo!;

    // Setup through the API: a visit in 5 minutes, the patient verified, intake and consent done, checked in.
    const api = await staffClient(server, demo.provider.email, demo.provider.password);
    const { visit, token, patient: pc } = await checkedInPatient(server, api, demo.provider.id, { patientName: 'Rosa Delgado', reason: 'Knee pain follow-up' });

    // The patient's phone resumes their session in the waiting room.
    await patientCtx.addCookies([{ name: 'tv_patient', value: pc.session!, url: server.url }]);
    const patient = await patientCtx.newPage();
    await patient.goto(`${server.url}/v/${token}`);
    await patient.getByTestId('waiting-room').waitFor();

    // The patient invites a family member from the waiting room (copies the link, no text message).
    await patient.getByTestId('patient-guests').waitFor();
    await patient.screenshot({ path: screenshotPath('guest-0a-patient-waiting-phone'), fullPage: true });
    await assertAccessible(patient, 'patient waiting room with the invite card');
    await patient.getByRole('button', { name: 'Invite a family member' }).click();
    const pDialog = patient.getByTestId('invite-dialog');
    await pDialog.getByLabel('Who is it?').selectOption('family');
    await pDialog.getByLabel('Their name').fill('Marco Delgado');
    await pDialog.getByRole('button', { name: 'Create the invitation' }).click();
    await pDialog.getByTestId('invite-link').waitFor();
    assert.match(await pDialog.getByTestId('invite-link').inputValue(), /\/g\/[A-Za-z0-9_-]{43}$/);
    await patient.screenshot({ path: screenshotPath('guest-0-patient-invite-phone') });
    await assertAccessible(patient, 'patient invite dialog');
    await pDialog.getByRole('button', { name: 'Done' }).click();
    await patient.getByTestId('patient-guests').getByText('Marco Delgado').waitFor();

    // The provider signs in and admits the patient from the dashboard.
    const staff = await staffCtx.newPage();
    staff.on('dialog', (d) => void d.accept());
    await staff.goto(`${server.url}/staff`);
    await staff.getByLabel('Email').fill(demo.provider.email);
    await staff.getByLabel('Password').fill(demo.provider.password);
    await staff.getByRole('button', { name: 'Sign in' }).click();
    const item = staff.getByTestId('queue-item').filter({ hasText: 'Rosa Delgado' });
    await item.waitFor({ timeout: 10_000 });
    await item.getByRole('button', { name: 'Admit', exact: true }).click();
    await staff.getByTestId('visit-room').waitFor();
    await patient.getByTestId('visit-room').waitFor({ timeout: 10_000 });
    await Promise.all([remoteVideos(staff, 1, 'provider'), remoteVideos(patient, 1, 'patient')]);

    // The provider invites an interpreter from the visit screen.
    await staff.getByRole('button', { name: 'Invite someone' }).click();
    const dialog = staff.getByTestId('invite-dialog');
    await dialog.getByLabel('Role').selectOption('interpreter');
    await dialog.getByLabel('Name').fill('Ana López');
    await dialog.getByLabel(/Mobile number/).fill('(555) 301-7788');
    await staff.screenshot({ path: screenshotPath('guest-1-invite-dialog') });
    await dialog.getByRole('button', { name: 'Create invitation' }).click();
    const linkBox = dialog.getByTestId('invite-link');
    await linkBox.waitFor();
    const link = await linkBox.inputValue();
    assert.match(link, /^http:\/\/127\.0\.0\.1:\d+\/g\/[A-Za-z0-9_-]{43}$/);
    await dialog.getByText('Text message queued to the number ending in 7788').waitFor();
    await dialog.getByRole('button', { name: 'Copy' }).click();
    await dialog.getByRole('button', { name: 'Copied' }).waitFor();
    assert.equal(await staff.evaluate(() => navigator.clipboard.readText()), link, 'the link is on the clipboard');
    await staff.screenshot({ path: screenshotPath('guest-2-invite-link') });
    await assertAccessible(staff, 'staff invite dialog');
    await dialog.getByRole('button', { name: 'Done' }).click();
    await staff.getByTestId('guest-item').filter({ hasText: 'Ana López' }).filter({ hasText: 'Invited' }).waitFor();

    // The same link went out by SMS, with no PHI.
    const sms = await waitFor('guest SMS', async () => (await outbox(server)).find((m) => m.kind === 'guest-invite' && m.to === '+15553017788'));
    assert.ok(sms.body.includes(link), 'the SMS carries the link');
    assert.match(sms.body, /^Demo Family Clinic: you are invited to join a video visit\./);
    for (const s of ['Rosa', 'Delgado', 'Knee', 'Rivera', 'Ana', 'López', visit.patientDob]) assert.ok(!sms.body.includes(s), `SMS must not contain ${s}`);

    // The guest opens the link: welcome, the same checks as patients, in English or Spanish.
    const guest = await guestCtx.newPage();
    await guest.goto(link);
    await guest.getByTestId('guest-welcome').filter({ hasText: 'Welcome, Ana López' }).waitFor();
    await guest.getByRole('heading', { name: 'Check your camera, microphone and internet' }).waitFor();
    await assertAccessible(guest, 'guest welcome and checks');
    await guest.getByRole('button', { name: 'Cambiar a español' }).click();
    await guest.getByRole('heading', { name: 'Revise su cámara, micrófono e internet' }).waitFor();
    assert.match(await guest.getByTestId('guest-welcome').innerText(), /le invitó a una visita por video como intérprete/);
    assert.equal(await guest.evaluate(() => document.documentElement.lang), 'es');
    await assertAccessible(guest, 'guest checks (Spanish)');
    await guest.getByRole('button', { name: 'Switch to English' }).click();
    await guest.getByRole('button', { name: 'Start the check' }).click();
    const go = guest.getByRole('button', { name: 'Go to the waiting room' });
    await waitFor('guest checks finished', () => go.isEnabled(), 30_000);
    await guest.screenshot({ path: screenshotPath('guest-3-checks'), fullPage: true });
    await assertAccessible(guest, 'guest checks done');
    await go.click();
    await guest.getByTestId('guest-waiting-room').waitFor();
    await guest.getByText('Dr. Ana Rivera will let you in shortly').waitFor();
    await guest.screenshot({ path: screenshotPath('guest-4-waiting') });
    await assertAccessible(guest, 'guest waiting');

    // The provider sees who is waiting, over the video, and admits them.
    const waiting = staff.getByTestId('guest-waiting').filter({ hasText: 'Interpreter Ana López is waiting' });
    await waiting.waitFor({ timeout: 10_000 });
    await staff.screenshot({ path: screenshotPath('guest-5-provider-sees-waiting') });
    await assertAccessible(staff, 'staff visit with a guest waiting');
    // …and in the dashboard's queue item, for a second screen.
    const dash = await staffCtx.newPage();
    await dash.goto(`${server.url}/staff`);
    await dash.getByTestId('queue-item').filter({ hasText: 'Rosa Delgado' }).getByTestId('guest-waiting').filter({ hasText: 'Interpreter Ana López is waiting' }).waitFor({ timeout: 10_000 });
    await dash.screenshot({ path: screenshotPath('guest-5b-dashboard-queue') });
    await dash.close();
    await waiting.getByRole('button', { name: 'Admit' }).click();
    await guest.getByTestId('visit-room').waitFor({ timeout: 15_000 });

    // All three decode each other's video.
    const [byStaff, byPatient, byGuest] = await Promise.all([remoteVideos(staff, 2, 'provider'), remoteVideos(patient, 2, 'patient'), remoteVideos(guest, 2, 'guest')]);
    for (const [who, sizes] of [['provider', byStaff], ['patient', byPatient], ['guest', byGuest]] as const) {
      for (const [w, h] of sizes) assert.ok(w! >= 160 && h! >= 120, `${who} decodes ${w}x${h}`);
    }
    // The guest's tile says who they are, on the provider's and the patient's screens.
    for (const [who, page] of [['provider', staff], ['patient', patient]] as const) {
      const t = tile(page, 'Ana López');
      await t.waitFor({ timeout: 10_000 });
      await t.locator('.role-tag', { hasText: 'Interpreter' }).waitFor();
      assert.match(await t.innerText(), /Ana López\s*Interpreter/, `${who} sees the interpreter's role and name`);
    }
    await tile(guest, 'Dr. Ana Rivera').waitFor();
    await tile(guest, 'Rosa Delgado').waitFor();
    await staff.getByTestId('guest-item').filter({ hasText: 'Ana López' }).filter({ hasText: 'Let in' }).waitFor();
    // Identities in the room stay opaque.
    const identities = await staff.evaluate(() => [...(window as any).visitRoom.participants.values()].map((p: any) => p.identity as string).sort());
    assert.equal(identities.length, 2);
    assert.ok(identities.some((i) => /^gu-[0-9a-f]{24}$/.test(i)), `a guest identity among ${identities}`);
    assert.ok(identities.some((i) => /^pt-[0-9a-f]{24}$/.test(i)));
    await staff.screenshot({ path: screenshotPath('guest-6-three-way-provider') });
    await patient.screenshot({ path: screenshotPath('guest-7-three-way-patient-phone') });
    await guest.screenshot({ path: screenshotPath('guest-8-three-way-guest') });
    await assertAccessible(guest, 'guest in the visit');

    // Revoke: the guest is disconnected at once, the page says so, and the link is dead.
    await staff.getByRole('button', { name: 'Revoke Ana López' }).click();
    await guest.getByRole('heading', { name: 'You are no longer in this visit' }).waitFor({ timeout: 10_000 });
    await remoteVideos(staff, 1, 'provider');
    await remoteVideos(patient, 1, 'patient');
    await guest.screenshot({ path: screenshotPath('guest-9-removed') });
    await assertAccessible(guest, 'guest removed');
    const reopened = await fetch(`${server.url}/api/guest/open`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: link.split('/g/')[1] }) });
    assert.equal(reopened.status, 410);
    const audit = (await server.tv.database.db.selectFrom('audit_log').select(['action', 'actor_kind']).where('action', 'like', 'guest.%').execute()).map((r) => `${r.actor_kind}:${r.action}`);
    for (const a of ['patient:guest.invite', 'staff:guest.invite', 'guest:guest.open', 'staff:guest.admit', 'guest:guest.join', 'staff:guest.revoke']) assert.ok(audit.includes(a), `audit has ${a}`);
  });
});
