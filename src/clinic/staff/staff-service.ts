// Staff accounts of a clinic: providers, front-desk staff and admins; login with password and,
// when enabled (always for admins), a TOTP code; sessions that end after 15 minutes idle.
import type { Db } from '../../store/database.js';
import type { StaffRole, StaffTable } from '../../store/schema.js';
import type { SecretBox } from '../../util/secret-box.js';
import { iso, type Clock } from '../../util/clock.js';
import { badRequest, ClinicError, conflict, forbidden, notFound, unauthorized } from '../errors.js';
import { hashSecret, newBearerSecret, newId } from '../secrets.js';
import type { StaffActor } from '../actor.js';
import type { AuditLog } from '../audit-log.js';
import { decoyHash, hashPassword, MIN_PASSWORD_LENGTH, verifyPassword } from './passwords.js';
import { checkTotp, newTotpSecret, totpUri } from './totp.js';

export const SESSION_IDLE_MS = 15 * 60_000;
export const SESSION_MAX_MS = 12 * 3600_000;
const MAX_FAILED_LOGINS = 5;
const LOCKOUT_MS = 15 * 60_000;

export interface StaffView {
  id: string;
  clinicId: string;
  email: string;
  displayName: string;
  role: StaffRole;
  seesAllSchedules: boolean;
  totpEnabled: boolean;
  active: boolean;
}

export interface NewStaff {
  email: string;
  displayName: string;
  role: StaffRole;
  password: string;
  seesAllSchedules?: boolean;
}

export type SessionStage = 'totp' | 'enroll' | 'active';

export interface LoginResult {
  sessionSecret: string;
  stage: SessionStage;
}

export function staffView(r: StaffTable): StaffView {
  return {
    id: r.id,
    clinicId: r.clinic_id,
    email: r.email,
    displayName: r.display_name,
    role: r.role,
    seesAllSchedules: r.sees_all_schedules === 1,
    totpEnabled: r.totp_enabled === 1,
    active: r.active === 1,
  };
}

export class StaffService {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    private readonly clock: Clock,
    private readonly audit: AuditLog,
  ) {}

  async create(clinicId: string, input: NewStaff): Promise<StaffView> {
    const email = normalizeEmail(input.email);
    if (input.password.length < MIN_PASSWORD_LENGTH) {
      throw badRequest('weak_password', `Passwords need at least ${MIN_PASSWORD_LENGTH} characters`);
    }
    const existing = await this.db.selectFrom('staff').select('id').where('email', '=', email).executeTakeFirst();
    if (existing) throw conflict('email_taken', 'An account with this email already exists');
    const now = iso(this.clock.now());
    const row: StaffTable = {
      id: newId('st'),
      clinic_id: clinicId,
      email,
      display_name: input.displayName.trim(),
      role: input.role,
      sees_all_schedules: input.seesAllSchedules || input.role !== 'provider' ? 1 : 0,
      password_hash: await hashPassword(input.password),
      totp_secret_enc: null,
      totp_enabled: 0,
      totp_last_step: null,
      active: 1,
      failed_logins: 0,
      locked_until: null,
      created_at: now,
      updated_at: now,
    };
    await this.db.insertInto('staff').values(row).execute();
    return staffView(row);
  }

  async createByAdmin(admin: StaffActor, input: NewStaff): Promise<StaffView> {
    requireAdmin(admin);
    const created = await this.create(admin.clinicId, input);
    await this.audit.record(admin, { action: 'staff.create', subjectKind: 'staff', subjectId: created.id, detail: { role: created.role } });
    return created;
  }

  async list(actor: StaffActor): Promise<StaffView[]> {
    const rows = await this.db.selectFrom('staff').selectAll().where('clinic_id', '=', actor.clinicId).orderBy('display_name').execute();
    return rows.map(staffView);
  }

  async get(id: string): Promise<StaffView | undefined> {
    const row = await this.db.selectFrom('staff').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? staffView(row) : undefined;
  }

  async update(admin: StaffActor, id: string, patch: { displayName?: string; role?: StaffRole; seesAllSchedules?: boolean; active?: boolean }): Promise<StaffView> {
    requireAdmin(admin);
    const row = await this.db.selectFrom('staff').selectAll().where('id', '=', id).where('clinic_id', '=', admin.clinicId).executeTakeFirst();
    if (!row) throw notFound();
    if (id === admin.staffId && (patch.active === false || (patch.role && patch.role !== 'admin'))) {
      throw badRequest('self_lockout', 'You cannot deactivate yourself or remove your own admin role');
    }
    await this.db
      .updateTable('staff')
      .set({
        ...(patch.displayName !== undefined ? { display_name: patch.displayName.trim() } : {}),
        ...(patch.role !== undefined ? { role: patch.role } : {}),
        // Non-providers are stored with the flag set; one made a provider starts with their own schedule only.
        ...(patch.seesAllSchedules !== undefined
          ? { sees_all_schedules: patch.seesAllSchedules ? 1 : 0 }
          : patch.role === 'provider' && row.role !== 'provider'
            ? { sees_all_schedules: 0 }
            : {}),
        ...(patch.active !== undefined ? { active: patch.active ? 1 : 0 } : {}),
        updated_at: iso(this.clock.now()),
      })
      .where('id', '=', id)
      .execute();
    if (patch.active === false) await this.endAllSessions(id);
    await this.audit.record(admin, { action: 'staff.update', subjectKind: 'staff', subjectId: id, detail: { fields: Object.keys(patch) } });
    return (await this.get(id))!;
  }

  /** Step 1: email and password. Returns a session in stage 'totp', 'enroll' (admin without TOTP) or 'active'. */
  async login(emailInput: string, password: string, ip: string | null): Promise<LoginResult> {
    const email = normalizeEmail(emailInput);
    const row = await this.db.selectFrom('staff').selectAll().where('email', '=', email).executeTakeFirst();
    const now = this.clock.now();
    if (!row || row.active !== 1) {
      await verifyPassword(await decoyHash(), password);
      throw unauthorized('bad_credentials', 'Email or password is not right');
    }
    if (row.locked_until && Date.parse(row.locked_until) > now) {
      throw new ClinicError(429, 'locked', 'Too many attempts. Try again in 15 minutes or ask an admin.');
    }
    if (!(await verifyPassword(row.password_hash, password))) {
      const failures = row.failed_logins + 1;
      await this.db
        .updateTable('staff')
        .set({ failed_logins: failures >= MAX_FAILED_LOGINS ? 0 : failures, locked_until: failures >= MAX_FAILED_LOGINS ? iso(now + LOCKOUT_MS) : null })
        .where('id', '=', row.id)
        .execute();
      await this.audit.record(staffActor(row, ip), { action: 'auth.login_failed' });
      throw unauthorized('bad_credentials', 'Email or password is not right');
    }
    await this.db.updateTable('staff').set({ failed_logins: 0, locked_until: null }).where('id', '=', row.id).execute();
    const stage: SessionStage = row.totp_enabled ? 'totp' : row.role === 'admin' ? 'enroll' : 'active';
    const sessionSecret = await this.newSession(row.id, stage);
    if (stage === 'active') await this.audit.record(staffActor(row, ip), { action: 'auth.login' });
    return { sessionSecret, stage };
  }

  /** Step 2 for accounts with TOTP: the code moves the session to 'active'. */
  async verifyTotp(sessionSecret: string, code: string, ip: string | null): Promise<void> {
    const { session, staff } = await this.sessionRow(sessionSecret);
    if (session.stage !== 'totp' || !staff.totp_secret_enc) throw badRequest('wrong_stage', 'No code is expected now');
    const step = checkTotp(this.box.open(staff.totp_secret_enc), code.trim(), this.clock.now());
    // A code works once: a step at or before the last one used is refused (replay).
    if (step === null || (staff.totp_last_step !== null && step <= staff.totp_last_step)) {
      await this.audit.record(staffActor(staff, ip), { action: 'auth.totp_failed' });
      throw unauthorized('bad_code', 'That code is not right. Use the newest code from your authenticator app.');
    }
    await this.db.updateTable('staff').set({ totp_last_step: step }).where('id', '=', staff.id).execute();
    await this.db.updateTable('staff_sessions').set({ stage: 'active', last_seen_at: iso(this.clock.now()) }).where('id_hash', '=', hashSecret(sessionSecret)).execute();
    await this.audit.record(staffActor(staff, ip), { action: 'auth.login' });
  }

  /** Starts TOTP enrollment: a new secret kept until confirmed with a code. */
  async beginTotpEnrollment(sessionSecret: string): Promise<{ secret: string; uri: string }> {
    const { staff } = await this.sessionRow(sessionSecret);
    if (staff.totp_enabled) throw conflict('totp_enabled', 'Two-step sign-in is already set up');
    const secret = newTotpSecret();
    await this.db.updateTable('staff').set({ totp_secret_enc: this.box.seal(secret) }).where('id', '=', staff.id).execute();
    return { secret, uri: totpUri(secret, staff.email) };
  }

  async confirmTotpEnrollment(sessionSecret: string, code: string, ip: string | null): Promise<void> {
    const { staff } = await this.sessionRow(sessionSecret);
    if (staff.totp_enabled || !staff.totp_secret_enc) throw badRequest('wrong_stage', 'Start two-step setup first');
    const step = checkTotp(this.box.open(staff.totp_secret_enc), code.trim(), this.clock.now());
    if (step === null) {
      throw unauthorized('bad_code', 'That code is not right. Check the time on your phone and try the newest code.');
    }
    await this.db.updateTable('staff').set({ totp_enabled: 1, totp_last_step: step, updated_at: iso(this.clock.now()) }).where('id', '=', staff.id).execute();
    await this.db.updateTable('staff_sessions').set({ stage: 'active' }).where('id_hash', '=', hashSecret(sessionSecret)).execute();
    await this.audit.record(staffActor(staff, ip), { action: 'auth.totp_enrolled' });
  }

  /**
   * Resolves a session cookie to its staff member; refreshes the idle timer when `touch`.
   * Sessions end after SESSION_IDLE_MS without a request, after SESSION_MAX_MS in all, on logout.
   */
  async authenticate(sessionSecret: string | undefined, ip: string | null, opts: { touch: boolean; stage?: SessionStage } = { touch: true }): Promise<StaffActor> {
    if (!sessionSecret) throw unauthorized();
    const { session, staff } = await this.sessionRow(sessionSecret);
    if (session.stage !== (opts.stage ?? 'active')) throw unauthorized(session.stage === 'totp' ? 'totp_required' : session.stage === 'enroll' ? 'enroll_required' : 'login_required');
    if (opts.touch) {
      await this.db.updateTable('staff_sessions').set({ last_seen_at: iso(this.clock.now()) }).where('id_hash', '=', session.id_hash).execute();
    }
    return staffActor(staff, ip);
  }

  async logout(sessionSecret: string | undefined, ip: string | null): Promise<void> {
    if (!sessionSecret) return;
    const row = await this.db.selectFrom('staff_sessions').innerJoin('staff', 'staff.id', 'staff_sessions.staff_id').selectAll('staff').where('staff_sessions.id_hash', '=', hashSecret(sessionSecret)).executeTakeFirst();
    await this.db.updateTable('staff_sessions').set({ ended_at: iso(this.clock.now()) }).where('id_hash', '=', hashSecret(sessionSecret)).execute();
    if (row) await this.audit.record(staffActor(row, ip), { action: 'auth.logout' });
  }

  private async endAllSessions(staffId: string): Promise<void> {
    await this.db.updateTable('staff_sessions').set({ ended_at: iso(this.clock.now()) }).where('staff_id', '=', staffId).where('ended_at', 'is', null).execute();
  }

  private async newSession(staffId: string, stage: SessionStage): Promise<string> {
    const secret = newBearerSecret();
    const now = this.clock.now();
    await this.db
      .insertInto('staff_sessions')
      .values({ id_hash: hashSecret(secret), staff_id: staffId, stage, created_at: iso(now), last_seen_at: iso(now), expires_at: iso(now + SESSION_MAX_MS), ended_at: null })
      .execute();
    return secret;
  }

  private async sessionRow(sessionSecret: string) {
    const session = await this.db.selectFrom('staff_sessions').selectAll().where('id_hash', '=', hashSecret(sessionSecret)).executeTakeFirst();
    const now = this.clock.now();
    // Half-finished logins (code not yet typed) get 5 minutes, not the full idle window.
    const idleMs = session?.stage === 'active' ? SESSION_IDLE_MS : 5 * 60_000;
    if (!session || session.ended_at || Date.parse(session.expires_at) <= now || Date.parse(session.last_seen_at) + idleMs <= now) {
      throw unauthorized('session_expired', 'Your session ended. Please sign in again.');
    }
    const staff = await this.db.selectFrom('staff').selectAll().where('id', '=', session.staff_id).executeTakeFirst();
    if (!staff || staff.active !== 1) throw unauthorized('session_expired', 'Your session ended. Please sign in again.');
    return { session, staff };
  }
}

export function staffActor(row: StaffTable, ip: string | null): StaffActor {
  return {
    kind: 'staff',
    staffId: row.id,
    clinicId: row.clinic_id,
    role: row.role,
    seesAllSchedules: row.sees_all_schedules === 1,
    displayName: row.display_name,
    ip,
  };
}

export function requireAdmin(actor: StaffActor): void {
  if (actor.role !== 'admin') throw forbidden('Only an admin can do this');
}

function normalizeEmail(email: string): string {
  const e = email.trim().toLowerCase();
  if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(e)) throw badRequest('bad_email', 'Enter a valid email address');
  return e;
}

export { newBearerSecret };
