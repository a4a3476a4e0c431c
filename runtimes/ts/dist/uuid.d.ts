/** A new UUIDv7, lowercase; strictly increasing within this page or process. */
export declare function uuid7(): string;
