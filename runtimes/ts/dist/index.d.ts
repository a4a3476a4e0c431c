export { Timestamp, codePoints, encodeBool, encodeFloat, encodeInt, encodeString, encodeTime, g17, isInt, isInt64, kind, timeInRange, utf8Length, wellFormed, type TimeValue, } from "./encode.js";
export { ValidationError } from "./errors.js";
export { Event, encodeEvent } from "./event.js";
export { LOSS_LOG_INTERVAL_MS, Sender, type Logger, type Outcome, type Result, type SenderOptions, type Stats, } from "./sender.js";
export { uuid7 } from "./uuid.js";
