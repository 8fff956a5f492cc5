// Versioned migrations, applied in name order on start. Never edit one that has shipped:
// add the next number instead.
import type { Migration } from 'kysely';
import * as videoService from './0001-video-service.js';
import * as clinic from './0002-clinic.js';
import * as notifications from './0003-notifications.js';
import * as guestInvitations from './0004-guest-invitations.js';
import * as phoneCalls from './0005-phone-calls.js';

export const migrations: Record<string, Migration> = {
  '0001-video-service': videoService,
  '0002-clinic': clinic,
  '0003-notifications': notifications,
  '0004-guest-invitations': guestInvitations,
  '0005-phone-calls': phoneCalls,
};
