// Like src/main.ts, test servers log a stray promise rejection instead of dying of it; the stack
// goes to stderr so a CI log shows where it came from.
process.on('unhandledRejection', (err: unknown) => {
  console.error('UNHANDLED REJECTION', err instanceof Error ? err.stack : err);
});
