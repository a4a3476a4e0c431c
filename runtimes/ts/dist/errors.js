/** An event that breaks the registry's rules, found before it is sent. */
export class ValidationError extends Error {
    event;
    version;
    field;
    detail;
    constructor(event, version, field, detail) {
        super(`${event} v${version}: ${field}: ${detail}`);
        this.name = "ValidationError";
        this.event = event;
        this.version = version;
        this.field = field;
        this.detail = detail;
    }
}
