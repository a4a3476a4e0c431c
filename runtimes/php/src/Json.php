<?php

declare(strict_types=1);

namespace Reestr\Runtime;

/**
 * The canonical encoding of docs/wire-format.md: RFC 8785 strings and
 * numbers, UTC microsecond times, no whitespace.
 */
final class Json
{
    private const STRING_FLAGS = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE
        | JSON_UNESCAPED_LINE_TERMINATORS | JSON_INVALID_UTF8_SUBSTITUTE | JSON_THROW_ON_ERROR;

    /**
     * A JSON string: '"', '\' and control characters escaped (short forms,
     * else \u00xx in lowercase), everything else as is; invalid UTF-8
     * becomes U+FFFD.
     */
    public static function string(string $s): string
    {
        // json_encode with these flags writes exactly RFC 8785's escapes
        return json_encode($s, self::STRING_FLAGS);
    }

    public static function int(int $v): string
    {
        return (string) $v;
    }

    public static function bool(bool $v): string
    {
        return $v ? 'true' : 'false';
    }

    /**
     * A number as ECMAScript writes it: the shortest digits that read back
     * as the same double, exponent form below 1e-6 and from 1e21, -0 as 0.
     */
    public static function float(float $v): string
    {
        if (!is_finite($v)) {
            throw new \InvalidArgumentException("$v is not a finite number");
        }
        if ($v == 0.0) {
            return '0';
        }
        if (ini_get('serialize_precision') === '-1') {
            // var_export gives the shortest round-trip digits; without an
            // exponent (1e-4 <= |v| < 1e17) its form is ECMAScript's but
            // for the ".0" of whole numbers. Most floats stop here.
            $r = var_export($v, true);
            if (!str_contains($r, 'E')) {
                return str_ends_with($r, '.0') ? substr($r, 0, -2) : $r;
            }
            $r = ltrim($r, '-');
        } else {
            // a host with a fixed precision set: find the fewest digits that
            // read back (the correctly rounded ones are the nearest, as
            // ECMAScript wants)
            for ($p = 0; $p < 17; $p++) {
                $r = sprintf("%.{$p}e", abs($v));
                if ((float) $r === abs($v)) {
                    break;
                }
            }
        }
        if (!preg_match('/^(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/', $r, $m)) {
            throw new \LogicException("unexpected float format $r");
        }
        $digits = $m[1] . ($m[2] ?? '');
        $n = strlen($m[1]) + (int) ($m[3] ?? 0); // the value is 0.digits * 10^n
        $trimmed = ltrim($digits, '0');
        $n -= strlen($digits) - strlen($trimmed);
        $digits = rtrim($trimmed, '0');
        $k = strlen($digits);
        if ($k <= $n && $n <= 21) {
            $s = $digits . str_repeat('0', $n - $k);
        } elseif (0 < $n && $n <= 21) {
            $s = substr($digits, 0, $n) . '.' . substr($digits, $n);
        } elseif (-6 < $n && $n <= 0) {
            $s = '0.' . str_repeat('0', -$n) . $digits;
        } else {
            $e = $n - 1;
            $s = $digits[0] . ($k > 1 ? '.' . substr($digits, 1) : '') . ($e > 0 ? 'e+' : 'e-') . abs($e);
        }
        return $v < 0 ? '-' . $s : $s;
    }

    /**
     * A time as a JSON string, in UTC with six fraction digits.
     */
    public static function time(\DateTimeInterface $t): string
    {
        if ($t->getOffset() !== 0) {
            $t = \DateTimeImmutable::createFromInterface($t)->setTimezone(new \DateTimeZone('UTC'));
        }
        return $t->format('"Y-m-d\TH:i:s.u\Z"');
    }

    /**
     * The event on the wire: the envelope's keys in their fixed order, then
     * the fields.
     */
    public static function event(Event $e, string $environment, string $source): string
    {
        return '{"event_id":' . $e->getEventId()
            . ',"version":' . $e->getEventVersion()
            . ',"uuid":' . self::string($e->getEventUuid())
            . ',"time":' . $e->getEventTimeJson()
            . ',"environment":' . self::string($environment)
            . ',"source":' . self::string($source)
            . ',"fields":' . $e->encodeFields() . '}';
    }
}
