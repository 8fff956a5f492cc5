// Starts Televisit with configuration from the environment (and a .env file if present).
import 'dotenv/config';
import { ConfigError, loadConfig } from './config.js';
import { createTelevisit } from './app.js';
import { formatDevCredentials } from './video/credentials/bootstrap.js';
import { formatDemoLogins } from './clinic/demo-clinic.js';
import { tuneGarbageCollector } from './gc-tuning.js';

async function main(): Promise<void> {
  tuneGarbageCollector();
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const televisit = await createTelevisit(config);
  // A stray rejection inside a third-party media stack must not end every visit in the process.
  process.on('unhandledRejection', (err) => televisit.log.error({ err }, 'unhandled promise rejection'));
  if (televisit.bootstrap.createdDevCredentials) {
    // Printed once to the terminal, deliberately not through the logger.
    process.stdout.write(formatDevCredentials(televisit.bootstrap.createdDevCredentials) + '\n');
  }
  if (televisit.clinic.demo) {
    process.stdout.write(formatDemoLogins(televisit.clinic.demo, config.publicUrl) + '\n');
  }
  await televisit.listen();
  televisit.log.info({ url: config.publicUrl, database: televisit.database.dialect }, 'Televisit is listening');
  const stop = async (signal: string) => {
    televisit.log.info({ signal }, 'shutting down');
    await televisit.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`Televisit failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
