// Errors carry Twilio's numeric codes so REST clients, the twilio-video SDK and developers
// reading logs see the same codes they saw on Twilio.

export class TwilioError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'TwilioError';
  }

  get moreInfo(): string {
    return `https://www.twilio.com/docs/errors/${this.code}`;
  }

  toJSON(): { code: number; message: string; more_info: string; status: number } {
    return { code: this.code, message: this.message, more_info: this.moreInfo, status: this.status };
  }
}

export const notFound = (what: string): TwilioError =>
  new TwilioError(20404, `The requested resource ${what} was not found`, 404);

export const invalidParameter = (name: string, detail: string, code = 20001): TwilioError =>
  new TwilioError(code, `Invalid parameter ${name}: ${detail}`, 400);
