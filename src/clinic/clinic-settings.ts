// A clinic and its settings: the intake questions it asks, reminder timing, waiting-room content.
import type { Db } from '../store/database.js';
import { iso, type Clock } from '../util/clock.js';
import { notFound } from './errors.js';
import { newId } from './secrets.js';

export type Language = 'en' | 'es';
export type Localized = Record<Language, string>;

export interface IntakeQuestion {
  id: string;
  kind: 'text' | 'longtext' | 'yesno';
  label: Localized;
  required: boolean;
}

export interface ClinicSettings {
  /** Minutes before the start at which a reminder SMS goes out. */
  reminderOffsetsMinutes: number[];
  intakeQuestions: IntakeQuestion[];
  /** Self-hosted video (a path or URL), or a YouTube video id shown in privacy-enhanced mode. */
  waitingRoomVideo: { kind: 'file'; url: string } | { kind: 'youtube'; videoId: string } | null;
  /** Guests invited to a visit wait for the provider to let them in. */
  guestsNeedAdmission: boolean;
  copayWording: { version: string; text: Localized };
  consentWording: { version: string; text: Localized };
}

export interface Clinic {
  id: string;
  name: string;
  timeZone: string;
  settings: ClinicSettings;
}

export const DEFAULT_SETTINGS: ClinicSettings = {
  reminderOffsetsMinutes: [24 * 60, 15],
  intakeQuestions: [
    { id: 'reason', kind: 'longtext', required: true, label: { en: 'What would you like to talk about today?', es: '¿De qué le gustaría hablar hoy?' } },
    { id: 'symptoms', kind: 'longtext', required: false, label: { en: 'Symptoms, and since when', es: 'Síntomas y desde cuándo' } },
    { id: 'medications', kind: 'longtext', required: false, label: { en: 'Medicines you take now', es: 'Medicamentos que toma ahora' } },
    { id: 'allergies', kind: 'text', required: false, label: { en: 'Allergies', es: 'Alergias' } },
    { id: 'notes', kind: 'longtext', required: false, label: { en: 'Anything else the clinic should know', es: 'Algo más que la clínica deba saber' } },
  ],
  waitingRoomVideo: null,
  guestsNeedAdmission: true,
  copayWording: {
    version: 'copay-v1',
    text: {
      en: 'I understand that a copay of {amount} is due for this visit and will be billed by the clinic.',
      es: 'Entiendo que se debe un copago de {amount} por esta visita y que la clínica lo facturará.',
    },
  },
  consentWording: {
    version: 'consent-v1',
    text: {
      en: 'I agree to have this visit by video. I understand the video is not recorded, that I can stop at any time, and that the provider may ask me to come in person if needed.',
      es: 'Acepto tener esta visita por video. Entiendo que el video no se graba, que puedo terminar en cualquier momento y que el proveedor puede pedirme venir en persona si es necesario.',
    },
  },
};

export class ClinicSettingsService {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  async create(name: string, timeZone: string, settings: Partial<ClinicSettings> = {}): Promise<Clinic> {
    const now = iso(this.clock.now());
    const clinic: Clinic = { id: newId('cl'), name, timeZone, settings: { ...DEFAULT_SETTINGS, ...settings } };
    await this.db
      .insertInto('clinics')
      .values({ id: clinic.id, name, time_zone: timeZone, settings: JSON.stringify(clinic.settings), created_at: now, updated_at: now })
      .execute();
    return clinic;
  }

  async get(id: string): Promise<Clinic> {
    const row = await this.db.selectFrom('clinics').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound('Clinic not found');
    return { id: row.id, name: row.name, timeZone: row.time_zone, settings: { ...DEFAULT_SETTINGS, ...(JSON.parse(row.settings) as Partial<ClinicSettings>) } };
  }

  async count(): Promise<number> {
    const row = await this.db.selectFrom('clinics').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async update(id: string, patch: Partial<ClinicSettings>): Promise<Clinic> {
    const clinic = await this.get(id);
    const settings = { ...clinic.settings, ...patch };
    await this.db.updateTable('clinics').set({ settings: JSON.stringify(settings), updated_at: iso(this.clock.now()) }).where('id', '=', id).execute();
    return { ...clinic, settings };
  }
}

/** "Fri, Nov 27, 3:00 PM" in the clinic's time zone and the patient's language. */
export function formatVisitTime(startsAt: string, timeZone: string, language: Language): string {
  return new Intl.DateTimeFormat(language === 'es' ? 'es-US' : 'en-US', {
    timeZone,
    weekday: 'short',
    month: 'short',
    day: 'numeric',
    hour: 'numeric',
    minute: '2-digit',
  }).format(new Date(startsAt));
}

export function formatMoney(cents: number, language: Language): string {
  return new Intl.NumberFormat(language === 'es' ? 'es-US' : 'en-US', { style: 'currency', currency: 'USD' }).format(cents / 100);
}
