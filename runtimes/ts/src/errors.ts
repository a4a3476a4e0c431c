/** An event that breaks the registry's rules, found before it is sent. */
export class ValidationError extends Error {
  readonly event: string;
  readonly version: number;
  readonly field: string;
  readonly detail: string;

  constructor(event: string, version: number, field: string, detail: string) {
    super(`${event} v${version}: ${field}: ${detail}`);
    this.name = "ValidationError";
    this.event = event;
    this.version = version;
    this.field = field;
    this.detail = detail;
  }
}
