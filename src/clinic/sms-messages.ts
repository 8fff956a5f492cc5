// The words of every SMS the clinic sends. By rule they hold the clinic's name, the visit time
// and the patient link only: no patient name, provider name, reason or anything clinical.
import { formatVisitTime, type Language } from './clinic-settings.js';

export type SmsKind = 'invite' | 'reminder' | 'rescheduled' | 'cancelled' | 'running-late' | 'new-link' | 'guest-invite';

export interface SmsFacts {
  clinicName: string;
  startsAt: string;
  timeZone: string;
  language: Language;
  link?: string;
  lateMinutes?: number;
}

export function smsBody(kind: SmsKind, f: SmsFacts): string {
  // Spanish times end in "p.m.": never follow them with a second period.
  const time = formatVisitTime(f.startsAt, f.timeZone, f.language).replace(/\.$/, '');
  const es = f.language === 'es';
  switch (kind) {
    case 'invite':
      return es
        ? `${f.clinicName}: su visita por video es el ${time}. Abra este enlace para prepararse: ${f.link} Responda STOP para no recibir mensajes.`
        : `${f.clinicName}: your video visit is on ${time}. Open this link to get ready: ${f.link} Reply STOP to opt out.`;
    case 'reminder':
      return es
        ? `${f.clinicName}: recordatorio, su visita por video es el ${time}. Entre aquí: ${f.link}`
        : `${f.clinicName}: reminder, your video visit is on ${time}. Join here: ${f.link}`;
    case 'rescheduled':
      return es
        ? `${f.clinicName}: su visita por video cambió al ${time}. Entre aquí: ${f.link}`
        : `${f.clinicName}: your video visit moved to ${time}. Join here: ${f.link}`;
    case 'new-link':
      return es
        ? `${f.clinicName}: este es su nuevo enlace para la visita por video del ${time}: ${f.link}`
        : `${f.clinicName}: here is your new link for the video visit on ${time}: ${f.link}`;
    case 'cancelled':
      return es
        ? `${f.clinicName}: su visita por video del ${time} fue cancelada. Llame a la clínica para una nueva cita.`
        : `${f.clinicName}: your video visit on ${time} was cancelled. Please call the clinic to book again.`;
    case 'guest-invite':
      // To a guest (interpreter, family member): not even the visit time, only the clinic and the link.
      return es
        ? `${f.clinicName}: está invitado a unirse a una visita por video. Entre aquí: ${f.link}`
        : `${f.clinicName}: you are invited to join a video visit. Join here: ${f.link}`;
    case 'running-late':
      return es
        ? `${f.clinicName}: su proveedor va con unos ${f.lateMinutes} minutos de retraso. Por favor espere en la página de la visita.`
        : `${f.clinicName}: your provider is running about ${f.lateMinutes} minutes late. Please stay on the visit page.`;
  }
}
