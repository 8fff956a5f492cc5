// Who is asking. Every clinic operation takes an Actor and checks it; routes only build one.
import type { StaffRole } from '../store/schema.js';

export interface StaffActor {
  kind: 'staff';
  staffId: string;
  clinicId: string;
  role: StaffRole;
  /** A provider normally sees only their own schedule; an admin can grant the whole clinic's. */
  seesAllSchedules: boolean;
  displayName: string;
  ip: string | null;
}

export interface PatientActor {
  kind: 'patient';
  appointmentId: string;
  clinicId: string;
  ip: string | null;
}

/** A guest of one visit (interpreter, family member…), by the session opened from their invitation link. */
export interface GuestActor {
  kind: 'guest';
  invitationId: string;
  appointmentId: string;
  clinicId: string;
  ip: string | null;
}

export interface SystemActor {
  kind: 'system';
  clinicId: string | null;
  ip: null;
}

export type Actor = StaffActor | PatientActor | GuestActor | SystemActor;

/** May this staff member see (and act on) appointments of this provider? */
export function seesProvider(actor: StaffActor, providerId: string): boolean {
  return actor.role !== 'provider' || actor.seesAllSchedules || actor.staffId === providerId;
}

/** Clinical content (visit reason, intake answers, date of birth, records): providers and admins. */
export function seesClinical(actor: StaffActor): boolean {
  return actor.role === 'provider' || actor.role === 'admin';
}
