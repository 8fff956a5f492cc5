// An admin's first sign-in in Chromium: two-step setup with an authenticator code, then the
// admin page (staff, clinic settings, audit log). Settings saved here change what patients see.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { startServer, type TestServer } from '../helpers/server.js';
import { launchChromium } from '../helpers/browser.js';
import { builtWebDir, screenshotPath } from '../helpers/web.js';
import { seriousA11yProblems } from '../helpers/axe.js';
import { currentTotp } from '../../src/clinic/staff/totp.js';

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

test('admin sets up two-step sign-in, adds a staff member and an intake question; the audit log shows it', async () => {
  const demo = server.tv.clinic.demo!;
  const page = await (await browser.newContext({ viewport: { width: 1366, height: 900 } })).newPage();
  await page.goto(`${server.url}/staff`);
  await page.getByLabel('Email').fill(demo.admin.email);
  await page.getByLabel('Password').fill(demo.admin.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Set up two-step sign-in' }).waitFor();
  const secret = (await page.getByTestId('totp-secret').innerText()).replace(/\s+/g, '');
  await page.getByLabel(/6-digit code/).fill('000000');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('alert').filter({ hasText: 'not right' }).waitFor();
  await page.getByLabel(/6-digit code/).fill(currentTotp(secret, server.clock.now()));
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('link', { name: 'Admin' }).click();

  await page.getByLabel('Name', { exact: true }).fill('Dr. Sam Okafor');
  await page.getByLabel('Email').fill('sam.okafor@demo.clinic');
  await page.getByLabel(/First password/).fill('a-long-first-password');
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  await page.getByText('sam.okafor@demo.clinic').waitFor();

  await page.getByRole('button', { name: '+ Add a question' }).click();
  const n = await page.getByLabel('Question (English)').count();
  await page.getByLabel('Question (English)').nth(n - 1).fill('Do you have a fever today?');
  await page.getByLabel('Question (Spanish)').nth(n - 1).fill('¿Tiene fiebre hoy?');
  await page.getByLabel('Answer').nth(n - 1).selectOption('yesno');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();

  const settings = await server.tv.clinic.clinics.get(demo.clinicId);
  assert.ok(settings.settings.intakeQuestions.some((q) => q.label.es === '¿Tiene fiebre hoy?' && q.kind === 'yesno'));

  await page.reload();
  const audit = page.getByTestId('audit-log');
  await audit.getByText('clinic.settings').waitFor();
  await audit.getByText('staff.create').waitFor();
  await audit.getByText('auth.totp_enrolled').waitFor();
  await page.screenshot({ path: screenshotPath('staff-4-admin'), fullPage: true });
  assert.deepEqual(await seriousA11yProblems(page), []);
});
