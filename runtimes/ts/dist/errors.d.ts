/** An event that breaks the registry's rules, found before it is sent. */
export declare class ValidationError extends Error {
    readonly event: string;
    readonly version: number;
    readonly field: string;
    readonly detail: string;
    constructor(event: string, version: number, field: string, detail: string);
}
