/* Time-ordered UUIDs (RFC 9562, version 7), so the store's de-duplication
 * index grows at its right edge. */
let lastMs = 0;
let counter = 0; // the 12-bit rand_a field, counting within one millisecond
const pool = new Uint8Array(4096);
let poolAt = pool.length;
function hex(b) {
    return (b < 16 ? "0" : "") + b.toString(16);
}
/** A new UUIDv7, lowercase; strictly increasing within this page or process. */
export function uuid7() {
    if (poolAt + 10 > pool.length) {
        globalThis.crypto.getRandomValues(pool);
        poolAt = 0;
    }
    const at = poolAt;
    poolAt += 10;
    const ms = Date.now();
    if (ms > lastMs) {
        lastMs = ms;
        // start low in the millisecond, leaving room to count up
        counter = ((pool[at + 8] << 8) | pool[at + 9]) & 0x3ff;
    }
    else {
        counter++;
        if (counter > 0xfff) {
            lastMs++; // 4096 in one millisecond: borrow the next
            counter = 0;
        }
    }
    let s = "";
    let t = lastMs;
    const time = [];
    for (let i = 0; i < 6; i++) {
        time.unshift(t % 256);
        t = Math.floor(t / 256);
    }
    const b = [
        ...time,
        0x70 | (counter >> 8),
        counter & 0xff,
        0x80 | (pool[at] & 0x3f),
        ...pool.subarray(at + 1, at + 8),
    ];
    for (let i = 0; i < 16; i++) {
        if (i === 4 || i === 6 || i === 8 || i === 10)
            s += "-";
        s += hex(b[i]);
    }
    return s;
}
