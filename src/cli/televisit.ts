// The `televisit` command: API keys and access tokens from the server's own store.
//   npx televisit keys create [--name NAME]
//   npx televisit keys list
//   npx televisit keys revoke SK…
//   npx televisit token --identity alice [--room visit-42] [--ttl 3600]
//   npx televisit clinic create --name "Eastside Clinic" --time-zone America/Chicago --admin-email a@b.org
import 'dotenv/config';
import { Command } from 'commander';
import { loadConfig } from '../config.js';
import { openDatabase } from '../store/database.js';
import { SecretBox } from '../util/secret-box.js';
import { systemClock } from '../util/clock.js';
import { CredentialsService } from '../video/credentials/credentials-service.js';
import { bootstrapCredentials, formatDevCredentials } from '../video/credentials/bootstrap.js';
import { mintAccessToken } from '../video/tokens/mint-token.js';
import { randomBytes } from 'node:crypto';
import { ClinicSettingsService } from '../clinic/clinic-settings.js';
import { StaffService } from '../clinic/staff/staff-service.js';
import { AuditLog } from '../clinic/audit-log.js';

async function withCredentials<T>(fn: (c: CredentialsService, defaultAccountSid: string) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    const credentials = new CredentialsService(database.db, SecretBox.load(config.secretKey, config.dataDir), systemClock, 0);
    const boot = await bootstrapCredentials(credentials, config.twilioCredentials);
    if (boot.createdDevCredentials) process.stderr.write(formatDevCredentials(boot.createdDevCredentials) + '\n');
    return await fn(credentials, boot.defaultAccountSid);
  } finally {
    await database.close();
  }
}

export function buildCli(): Command {
  const program = new Command('televisit').description('Televisit command line: API keys and access tokens');

  const keys = program.command('keys').description('Manage API keys (SK…) of an account');
  keys
    .command('create')
    .description('Create an API key; its secret is printed once')
    .option('--name <name>', 'friendly name', '')
    .option('--account <sid>', 'account SID (default: the first account)')
    .option('--json', 'print JSON')
    .action(async (opts: { name: string; account?: string; json?: boolean }) => {
      await withCredentials(async (c, defaultAccount) => {
        const key = await c.createKey(opts.account ?? defaultAccount, opts.name);
        if (opts.json) console.log(JSON.stringify({ sid: key.sid, secret: key.secret, accountSid: key.accountSid, friendlyName: key.friendlyName }));
        else console.log(`API key ${key.sid} created for ${key.accountSid}.\nSecret (shown only now): ${key.secret}`);
      });
    });
  keys
    .command('list')
    .description('List API keys (never their secrets)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await withCredentials(async (c) => {
        const list = await c.listKeys();
        if (opts.json) console.log(JSON.stringify(list));
        else for (const k of list) console.log(`${k.sid}  ${k.status.padEnd(7)}  ${k.accountSid}  ${k.dateCreated}  ${k.friendlyName}`);
      });
    });
  keys
    .command('revoke <sid>')
    .description('Revoke an API key: its tokens and Basic credentials stop working')
    .action(async (sid: string) => {
      await withCredentials(async (c) => {
        if (!(await c.revokeKey(sid))) {
          console.error(`No API key ${sid}`);
          process.exitCode = 1;
          return;
        }
        console.log(`API key ${sid} revoked.`);
      });
    });

  program
    .command('token')
    .description('Mint an access token with a video grant (the format of twilio.jwt.AccessToken)')
    .requiredOption('--identity <identity>', 'participant identity (no patient data)')
    .option('--room <room>', 'limit the token to this room name or RM SID')
    .option('--ttl <seconds>', 'lifetime in seconds (at most 86400)', '3600')
    .option('--key <sid>', 'API key SID to sign with (default: TWILIO_API_KEY, else the first active key)')
    .action(async (opts: { identity: string; room?: string; ttl: string; key?: string }) => {
      await withCredentials(async (c) => {
        const keySid = opts.key ?? process.env.TWILIO_API_KEY ?? (await c.listKeys()).find((k) => k.status === 'active')?.sid;
        const key = keySid ? await c.activeKeySecret(keySid) : undefined;
        if (!keySid || !key) {
          console.error('No active API key to sign with; create one with `televisit keys create`.');
          process.exitCode = 1;
          return;
        }
        console.log(
          await mintAccessToken({
            accountSid: key.accountSid,
            keySid,
            keySecret: key.secret,
            identity: opts.identity,
            ...(opts.room ? { room: opts.room } : {}),
            ttlSeconds: Number(opts.ttl),
          }),
        );
      });
    });

  const clinic = program.command('clinic').description('Clinics and their first admin (production first run, with DEMO_CLINIC=0)');
  clinic
    .command('create')
    .description("Create a clinic and its first admin; the admin's password is printed once (two-step sign-in is set up at first login)")
    .requiredOption('--name <name>', 'clinic name (it appears in patient texts)')
    .requiredOption('--admin-email <email>', "first admin's email")
    .option('--admin-name <name>', "first admin's display name", 'Clinic Admin')
    .option('--time-zone <iana>', 'time zone for visit times in texts', Intl.DateTimeFormat().resolvedOptions().timeZone)
    .action(async (opts: { name: string; adminEmail: string; adminName: string; timeZone: string }) => {
      const config = loadConfig();
      const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
      try {
        const box = SecretBox.load(config.secretKey, config.dataDir);
        const clinics = new ClinicSettingsService(database.db, systemClock);
        const staff = new StaffService(database.db, box, systemClock, new AuditLog(database.db, systemClock));
        try {
          new Intl.DateTimeFormat('en-US', { timeZone: opts.timeZone });
        } catch {
          throw new Error(`--time-zone must be an IANA time zone such as America/New_York, got "${opts.timeZone}"`);
        }
        const taken = await database.db.selectFrom('staff').select('id').where('email', '=', opts.adminEmail.trim().toLowerCase()).executeTakeFirst();
        if (taken) throw new Error(`An account with the email ${opts.adminEmail} already exists`);
        const created = await clinics.create(opts.name.trim(), opts.timeZone);
        const password = randomBytes(14).toString('base64url').slice(0, 18);
        await staff.create(created.id, { email: opts.adminEmail, displayName: opts.adminName, role: 'admin', password });
        console.log(`Clinic ${created.id} "${created.name}" created.\nAdmin ${opts.adminEmail.trim().toLowerCase()}, password (shown only now): ${password}\nSign in at ${config.publicUrl}/staff; two-step sign-in is set up at the first login.`);
      } finally {
        await database.close();
      }
    });

  program
    .command('start')
    .description('Start the server (same as npm start)')
    .action(async () => {
      await import('../main.js');
    });
  return program;
}

buildCli()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
