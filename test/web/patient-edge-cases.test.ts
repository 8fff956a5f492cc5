// Patient screens off the happy path, in Chromium: a browser that cannot do video gets a page
// naming the browser to use on that device (with the link to copy); a blocked camera gets
// device-specific help; both pages pass axe.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { startServer, type TestServer } from '../helpers/server.js';
import { launchChromium } from '../helpers/browser.js';
import { builtWebDir, screenshotPath } from '../helpers/web.js';
import { seriousA11yProblems } from '../helpers/axe.js';
import { STRINGS } from '../../web/patient/i18n.js';
import { book, linkToken, staffClient } from '../clinic/clinic-client.js';

let server: TestServer;
let browser: Browser;

before(async () => {
  server = await startServer('sqlite', { env: { WEB_DIR: await builtWebDir() } });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

async function newLink(overrides: Record<string, unknown> = {}): Promise<{ url: string; dob: string }> {
  const demo = server.tv.clinic.demo!;
  const staff = await staffClient(server, demo.provider.email, demo.provider.password);
  const booked = await book(staff, demo.provider.id, { copayCents: 0, ...overrides });
  return { url: `${server.url}/v/${await linkToken(server, booked.id, 'invite')}`, dob: booked.patientDob };
}

test('a browser without WebRTC on an iPhone is told to open the link in Safari, in the patient\'s language, under the clinic\'s name', async () => {
  const { url } = await newLink({ language: 'es' });
  const ctx = await browser.newContext({
    viewport: { width: 375, height: 740 },
    isMobile: true,
    userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 16_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FBAN/FBIOS Mobile/15E148',
  });
  // An in-app browser without WebRTC.
  await ctx.addInitScript(() => {
    delete (window as any).RTCPeerConnection;
  });
  const page = await ctx.newPage();
  await page.goto(url);
  const t = STRINGS.es;
  await page.getByRole('heading', { name: t.unsupportedTitle }).waitFor();
  await page.getByText(t.unsupported('Safari')).waitFor();
  assert.equal(await page.locator('header.clinic .name').innerText(), 'Demo Family Clinic');
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'es');
  assert.equal(await page.getByRole('textbox', { name: t.linkLabel }).inputValue(), url);
  await page.screenshot({ path: screenshotPath('patient-0-unsupported-phone') });
  assert.deepEqual(await seriousA11yProblems(page), []);
  await ctx.close();
});

test('a blocked camera on Android gets Android help and can try again', async () => {
  const { url, dob } = await newLink({ language: 'es' });
  const ctx = await browser.newContext({
    viewport: { width: 360, height: 740 },
    isMobile: true,
    userAgent: 'Mozilla/5.0 (Linux; Android 13; Pixel 6) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36',
  });
  // The person tapped "Block" when asked for the camera.
  await ctx.addInitScript(() => {
    (window as any).__denyCamera = true;
    const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = (c) => ((window as any).__denyCamera ? Promise.reject(new DOMException('denied', 'NotAllowedError')) : real(c));
  });
  const page = await ctx.newPage();
  await page.goto(url);
  const t = STRINGS.es;
  const [y, m, d] = dob.split('-');
  await page.getByLabel(t.month).selectOption(String(Number(m)));
  await page.getByLabel(t.day).fill(String(Number(d)));
  await page.getByLabel(t.year).fill(y!);
  await page.getByRole('button', { name: t.continue }).click();
  await page.getByRole('heading', { name: t.intakeTitle }).waitFor();
  await page.locator('textarea').first().fill('Dolor de cabeza');
  await page.getByRole('button', { name: t.continue }).click();
  await page.getByRole('button', { name: t.consentAgree }).click();
  await page.getByRole('button', { name: t.startChecks }).click();
  await page.getByText(t.permissionDenied).waitFor();
  await page.getByText(t.permissionHelpAndroid).waitFor();
  await page.screenshot({ path: screenshotPath('patient-3b-camera-blocked-phone'), fullPage: true });
  assert.deepEqual(await seriousA11yProblems(page), []);
  // After allowing it in the browser settings, "Try again" works.
  await page.evaluate(() => ((window as any).__denyCamera = false));
  await page.getByRole('button', { name: t.tryAgain }).click();
  await page.getByText(t.permissionDenied).waitFor({ state: 'detached' });
  await ctx.close();
});
