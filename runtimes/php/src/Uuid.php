<?php

declare(strict_types=1);

namespace Reestr\Runtime;

/**
 * Time-ordered UUIDs (RFC 9562, version 7), so the store's de-duplication
 * index grows at its right edge.
 */
final class Uuid
{
    private static int $lastMs = 0;
    private static int $counter = 0;
    /**
     * Random bytes come from random_bytes() 4 KiB at a time: one system
     * call per 409 UUIDs instead of two per UUID, which was most of v7's
     * cost. The pool belongs to the process that drew it: a child made by
     * pcntl_fork() draws its own, or parent and child would make the same
     * UUIDs.
     */
    private static string $pool = '';
    private static int $poolAt = 0;
    private static int $poolPid = 0;

    /**
     * A new UUIDv7, lowercase; increasing within this process.
     */
    public static function v7(): string
    {
        $pid = getmypid();
        if (self::$poolAt + 10 > strlen(self::$pool) || self::$poolPid !== $pid) {
            self::$pool = random_bytes(4096);
            self::$poolAt = 0;
            self::$poolPid = $pid;
        }
        $rand = substr(self::$pool, self::$poolAt, 10);
        self::$poolAt += 10;
        $ms = (int) (microtime(true) * 1000);
        if ($ms > self::$lastMs) {
            self::$lastMs = $ms;
            // start low in the millisecond, leaving room to count up
            self::$counter = unpack('n', $rand, 8)[1] & 0x3ff;
        } else {
            self::$counter++;
            if (self::$counter > 0xfff) {
                // 4096 in one millisecond: borrow the next one
                self::$lastMs++;
                self::$counter = 0;
            }
        }
        // 48 bits of time, version 7 and the counter, variant 10 and 62
        // random bits
        $hex = bin2hex(substr(pack('J', self::$lastMs), 2) . pack('n', 0x7000 | self::$counter)
            . chr((ord($rand[0]) & 0x3f) | 0x80) . substr($rand, 1, 7));
        return substr($hex, 0, 8) . '-' . substr($hex, 8, 4) . '-' . substr($hex, 12, 4)
            . '-' . substr($hex, 16, 4) . '-' . substr($hex, 20, 12);
    }
}
