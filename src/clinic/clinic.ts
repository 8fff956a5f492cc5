// The clinic workflow assembled: its services, its reminder job, its routes and live events.
import cookie from '@fastify/cookie';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Db } from '../store/database.js';
import type { JobQueue } from '../jobs/job-queue.js';
import type { EventBus } from '../realtime/event-bus.js';
import type { SecretBox } from '../util/secret-box.js';
import type { Clock } from '../util/clock.js';
import type { CredentialsService } from '../video/credentials/credentials-service.js';
import type { RoomService } from '../video/rooms/room-service.js';
import { AppointmentService, REMINDER_QUEUE } from './appointment-service.js';
import { AuditLog } from './audit-log.js';
import { ClinicSettingsService } from './clinic-settings.js';
import { createDemoClinicIfEmpty, type DemoClinicLogins } from './demo-clinic.js';
import { GuestService } from './guest-service.js';
import { PatientLinks } from './patient-links.js';
import type { SmsSender } from './sms-sender.js';
import { redactLinks } from '../notify/redact.js';
import { StaffService } from './staff/staff-service.js';
import { VisitService } from './visit-service.js';
import { VisitVideo } from './visit-video.js';
import { installClinicErrors } from './http/http-kit.js';
import { staffApi } from './http/staff-api.js';
import { patientApi } from './http/patient-api.js';
import { eventsSocket } from './http/events-socket.js';
import { guestApi } from './http/guest-api.js';
import { phoneApi } from './http/phone-api.js';
import { PhoneCallService, type RoomAudioBridge } from './phone-calls.js';
import { HttpInterpreterService } from './interpreters/http-interpreter-service.js';
import { InterpreterRequests } from './interpreters/interpreter-requests.js';
import { interpreterApi } from './interpreters/interpreter-api.js';
import type { TelephonyService } from '../telephony/index.js';

export interface ClinicDeps {
  config: Config;
  db: Db;
  box: SecretBox;
  clock: Clock;
  bus: EventBus;
  jobs: JobQueue;
  credentials: CredentialsService;
  rooms: RoomService;
  accountSid: string;
  sms: SmsSender & { listForAppointment(appointmentId: string): Promise<Array<{ body: string }>> };
  log: Logger;
  /** Dial-out through the SIP trunk; null when SIP is not configured. */
  telephony?: TelephonyService | null;
  /** Puts an answered phone leg's audio into the visit room (default: none yet). */
  roomAudio?: RoomAudioBridge;
}

export interface Clinic {
  clinics: ClinicSettingsService;
  staff: StaffService;
  appointments: AppointmentService;
  visits: VisitService;
  guests: GuestService;
  links: PatientLinks;
  audit: AuditLog;
  video: VisitVideo;
  phones: PhoneCallService;
  interpreters: InterpreterRequests;
  /** The demo logins when this start created the demo clinic (printed once by main.ts). */
  demo: DemoClinicLogins | null;
  register(app: FastifyInstance): Promise<void>;
  /** Hangs up the phone legs held by this node. */
  close(): Promise<void>;
}

export async function createClinic(d: ClinicDeps): Promise<Clinic> {
  const audit = new AuditLog(d.db, d.clock);
  const clinics = new ClinicSettingsService(d.db, d.clock);
  const staff = new StaffService(d.db, d.box, d.clock, audit);
  const links = new PatientLinks(d.db, d.box, d.clock, () => d.config.publicUrl);
  const appointments = new AppointmentService(d.db, d.clock, clinics, links, d.sms, d.jobs, d.bus, audit);
  // Identities are derived from a key that is itself derived from the secret box key, so they
  // are stable across restarts and unlinkable to the appointment without the server's key.
  const identityKey = d.box.deriveKey('visit-identities');
  const video = new VisitVideo(d.credentials, d.rooms, d.accountSid, identityKey, d.clock, d.config.clinic.visitTokenTtlSeconds, d.config.ice.turnUrls.length > 0 && d.config.ice.turnSecret !== null);
  const visits = new VisitService(d.db, d.clock, clinics, links, appointments, video, d.bus, audit);
  const guests = new GuestService(d.db, d.box, d.clock, clinics, appointments, video, d.sms, d.bus, audit, () => d.config.publicUrl);
  const phones = new PhoneCallService({
    db: d.db,
    clock: d.clock,
    appointments,
    video,
    bus: d.bus,
    audit,
    log: d.log.child({ part: 'phone-calls' }),
    telephony: d.telephony ?? null,
    ...(d.roomAudio ? { bridge: d.roomAudio } : {}),
    accountSid: d.accountSid,
    statusCallbackUrl: d.config.sip?.statusCallbackUrl ?? null,
  });
  // One node: calls a previous run left unfinished are over (nothing holds them any more).
  if (!d.config.redis.url) await phones.recoverOrphans();
  const interpreterService = d.config.interpreterService ? new HttpInterpreterService(d.config.interpreterService, () => d.clock.now()) : null;
  const interpreters = new InterpreterRequests({ db: d.db, clock: d.clock, appointments, guests, phones, bus: d.bus, audit, log: d.log.child({ part: 'interpreters' }), service: interpreterService, publicUrl: () => d.config.publicUrl });
  d.jobs.register(REMINDER_QUEUE, { handler: appointments.reminderHandler(), maxAgeMs: 24 * 3600_000 });
  const demo = d.config.clinic.demoClinic ? await createDemoClinicIfEmpty(clinics, staff, d.config.clinic.timeZone) : null;
  const secureCookies = d.config.publicUrl.startsWith('https:');
  // Staff see what was texted, but not the patient's link: it is the patient's key (with the DOB).
  const smsWithoutLinks = async (id: string) => (await d.sms.listForAppointment(id)).map((m) => ({ ...m, body: redactLinks(m.body) }));

  return {
    clinics,
    staff,
    appointments,
    visits,
    guests,
    links,
    audit,
    video,
    phones,
    interpreters,
    demo,
    async close() {
      interpreters.close();
      await phones.close();
    },
    async register(app) {
      await app.register(cookie);
      await app.register(async (api) => {
        installClinicErrors(api);
        staffApi(api, { staff, appointments, visits, clinics, audit, secureCookies, smsForAppointment: smsWithoutLinks });
        patientApi(api, visits, d.db, secureCookies);
        guestApi(api, { staff, visits, guests, secureCookies });
        phoneApi(api, { staff, phones });
        await interpreterApi(api, { staff, interpreters });
        eventsSocket(api, d.bus, staff, visits, guests);
      }, { prefix: '/api' });
    },
  };
}
