// First run on an empty database: a demo clinic with an admin, a provider and a front-desk
// account, so the README's first command leads straight to a working clinic. The passwords
// are random and shown once (main.ts prints them); nothing is created when clinics exist.
import { randomBytes } from 'node:crypto';
import type { ClinicSettingsService } from './clinic-settings.js';
import type { StaffService } from './staff/staff-service.js';

export interface DemoClinicLogins {
  clinicId: string;
  admin: { email: string; password: string };
  provider: { email: string; password: string; id: string };
  frontDesk: { email: string; password: string };
}

function password(): string {
  // 18 base64url characters: 108 bits, easy to copy from a terminal.
  return randomBytes(14).toString('base64url').slice(0, 18);
}

export async function createDemoClinicIfEmpty(clinics: ClinicSettingsService, staff: StaffService, timeZone: string): Promise<DemoClinicLogins | null> {
  if ((await clinics.count()) > 0) return null;
  const clinic = await clinics.create('Demo Family Clinic', timeZone);
  const admin = { email: 'admin@demo.clinic', password: password() };
  const provider = { email: 'dr.rivera@demo.clinic', password: password() };
  const frontDesk = { email: 'frontdesk@demo.clinic', password: password() };
  await staff.create(clinic.id, { email: admin.email, displayName: 'Clinic Admin', role: 'admin', password: admin.password });
  const p = await staff.create(clinic.id, { email: provider.email, displayName: 'Dr. Ana Rivera', role: 'provider', password: provider.password });
  await staff.create(clinic.id, { email: frontDesk.email, displayName: 'Front Desk', role: 'front_desk', password: frontDesk.password });
  return { clinicId: clinic.id, admin, provider: { ...provider, id: p.id }, frontDesk };
}

export function formatDemoLogins(l: DemoClinicLogins, publicUrl: string): string {
  return [
    '',
    '  Televisit created a demo clinic. These passwords are shown only this once:',
    `    Sign in at        ${publicUrl}/staff`,
    `    Provider          ${l.provider.email}   ${l.provider.password}`,
    `    Front desk        ${l.frontDesk.email}   ${l.frontDesk.password}`,
    `    Admin             ${l.admin.email}   ${l.admin.password}   (sets up two-step sign-in on first login)`,
    `    Patient texts     ${publicUrl}/dev/outbox`,
    '',
  ].join('\n');
}
