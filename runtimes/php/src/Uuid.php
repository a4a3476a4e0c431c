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
     * A new UUIDv7, lowercase; increasing within this process.
     */
    public static function v7(): string
    {
        $ms = (int) floor(microtime(true) * 1000);
        if ($ms > self::$lastMs) {
            self::$lastMs = $ms;
            // start low in the millisecond, leaving room to count up
            self::$counter = random_int(0, 0x3ff);
        } else {
            self::$counter++;
            if (self::$counter > 0xfff) {
                // 4096 in one millisecond: borrow the next one
                self::$lastMs++;
                self::$counter = 0;
            }
        }
        $rand = bin2hex(random_bytes(8));
        $hex = sprintf('%012x', self::$lastMs) . '7' . sprintf('%03x', self::$counter)
            . dechex(0x8 | (hexdec($rand[0]) & 0x3)) . substr($rand, 1, 15);
        return substr($hex, 0, 8) . '-' . substr($hex, 8, 4) . '-' . substr($hex, 12, 4)
            . '-' . substr($hex, 16, 4) . '-' . substr($hex, 20, 12);
    }
}
