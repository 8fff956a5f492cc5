// Errors of the clinic API: an HTTP status, a stable machine code the web UI switches on, and
// a message safe to show (never patient data).
export class ClinicError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ClinicError';
  }
}

export const notFound = (what = 'Not found'): ClinicError => new ClinicError(404, 'not_found', what);
export const forbidden = (what = 'You do not have access to this'): ClinicError => new ClinicError(403, 'forbidden', what);
export const badRequest = (code: string, message: string): ClinicError => new ClinicError(400, code, message);
export const conflict = (code: string, message: string): ClinicError => new ClinicError(409, code, message);
export const unauthorized = (code = 'login_required', message = 'Please sign in'): ClinicError => new ClinicError(401, code, message);
