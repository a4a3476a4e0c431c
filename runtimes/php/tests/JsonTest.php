<?php

declare(strict_types=1);

namespace Reestr\Runtime\Tests;

use PHPUnit\Framework\TestCase;
use Reestr\Runtime\Json;
use Reestr\Runtime\Uuid;

final class JsonTest extends TestCase
{
    private const VECTORS = __DIR__ . '/../../../tests/vectors';

    public function testTalkVectorByteForByte(): void
    {
        $vec = json_decode(file_get_contents(self::VECTORS . '/talk_clickstream_event.json'), true);
        $e = new Clickstream(413, 'user413@example.com', 20.22, -10.11, 'fluffy_browser');
        $e->setEventUuid($vec['input']['uuid']);
        $e->setEventTime(new \DateTimeImmutable($vec['input']['time']));
        $this->assertSame($vec['wire'], Json::event($e, 'bo', 'example-service'));
    }

    /** @return list<array{float, string}> */
    public static function floats(): array
    {
        return [
            [0.0, '0'], [-0.0, '0'], [1.0, '1'], [20.22, '20.22'], [-10.11, '-10.11'], [0.1, '0.1'],
            [1e21, '1e+21'], [1e20, '100000000000000000000'], [123456789012345680000.0, '123456789012345680000'],
            [1e-7, '1e-7'], [1e-6, '0.000001'], [123e-20, '1.23e-18'], [5e-324, '5e-324'],
            [1.7976931348623157e308, '1.7976931348623157e+308'], [-1.5e300, '-1.5e+300'],
            [0.000001234, '0.000001234'], [4.35, '4.35'], [9007199254740992.0, '9007199254740992'],
        ];
    }

    /** @dataProvider floats */
    public function testFloatAsEcmascript(float $v, string $want): void
    {
        $this->assertSame($want, Json::float($v));
    }

    public function testFloatOnAHostWithAFixedPrecision(): void
    {
        $old = ini_get('serialize_precision');
        ini_set('serialize_precision', '17');
        try {
            foreach (self::floats() as [$v, $want]) {
                $this->assertSame($want, Json::float($v));
            }
        } finally {
            ini_set('serialize_precision', $old);
        }
    }

    /**
     * Every vector's wire, taken apart and written again with Json's
     * string, int and float: each value's spelling must come back byte for
     * byte.
     */
    public function testEveryValueOfTheVectorsReEncodesTheSame(): void
    {
        foreach (glob(self::VECTORS . '/*.json') as $file) {
            $wire = json_decode(file_get_contents($file), true)['wire'];
            $this->assertSame($wire, self::reencode(json_decode($wire, true)), basename($file));
        }
    }

    private static function reencode(mixed $v): string
    {
        if (is_array($v)) {
            if (array_is_list($v)) {
                return '[' . implode(',', array_map(self::reencode(...), $v)) . ']';
            }
            $members = [];
            foreach ($v as $k => $item) {
                $members[] = Json::string((string) $k) . ':' . self::reencode($item);
            }
            return '{' . implode(',', $members) . '}';
        }
        return match (true) {
            is_string($v) => Json::string($v),
            is_int($v) => Json::int($v),
            is_float($v) => Json::float($v),
            is_bool($v) => Json::bool($v),
        };
    }

    /** The input's times (offsets, nanoseconds, no fraction) become the wire's. */
    public function testTimesOfTheVectors(): void
    {
        $n = 0;
        foreach (glob(self::VECTORS . '/*.json') as $file) {
            $vec = json_decode(file_get_contents($file), true);
            $wire = json_decode($vec['wire'], true);
            $pairs = [[$vec['input']['time'], $wire['time']]];
            if (isset($vec['input']['fields']['paid_at'])) {
                $pairs[] = [$vec['input']['fields']['paid_at'], $wire['fields']['paid_at']];
            }
            foreach ($pairs as [$in, $out]) {
                $this->assertSame(json_encode($out), Json::time(new \DateTimeImmutable($in)), basename($file));
                $n++;
            }
        }
        $this->assertGreaterThan(11, $n);
    }

    public function testStringEscapesAsRfc8785(): void
    {
        $this->assertSame('"a\"b\\\\c"', Json::string('a"b\\c'));
        $this->assertSame('"\b\f\n\r\t"', Json::string("\x08\x0c\n\r\t"));
        $this->assertSame('"\u0000\u000b\u001b\u001f"', Json::string("\x00\x0b\x1b\x1f"));
        $this->assertSame("\"/é\u{2028}\u{2029}\x7f😀\"", Json::string("/é\u{2028}\u{2029}\x7f😀"));
        $this->assertSame("\"a\u{fffd}b\"", Json::string("a\xffb"));
        $this->assertSame('""', Json::string(''));
    }

    public function testIntAndBool(): void
    {
        $this->assertSame('-9223372036854775808', Json::int(PHP_INT_MIN));
        $this->assertSame('9223372036854775807', Json::int(PHP_INT_MAX));
        $this->assertSame(['true', 'false'], [Json::bool(true), Json::bool(false)]);
    }

    public function testTimeIsUtcWithSixDigits(): void
    {
        $t = new \DateTimeImmutable('2026-11-25T13:00:00.123456+01:00');
        $this->assertSame('"2026-11-25T12:00:00.123456Z"', Json::time($t));
        $t = new \DateTime('2026-07-01 02:00:00.5', new \DateTimeZone('Europe/Moscow'));
        $this->assertSame('"2026-06-30T23:00:00.500000Z"', Json::time($t));
        $this->assertSame('2026-07-01 02:00:00', $t->format('Y-m-d H:i:s'), 'the argument is left as it was');
    }

    public function testANewEventIsNowWithAFreshUuid(): void
    {
        $before = microtime(true);
        $a = new Numbered(0);
        $b = new Numbered(1);
        $this->assertSame('UTC', $a->getEventTime()->getTimezone()->getName());
        $this->assertEqualsWithDelta($before, (float) $a->getEventTime()->format('U.u'), 1.0);
        $this->assertMatchesRegularExpression('/^"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"$/', $a->getEventTimeJson());
        $this->assertNotSame($a->getEventUuid(), $b->getEventUuid());
        $a->setEventUuid('0192F0C4-8B7A-7CDE-8F00-1A2B3C4D5E6F')
            ->setEventTime(new \DateTimeImmutable('2026-11-25T10:00:00+03:00'));
        $this->assertSame('0192f0c4-8b7a-7cde-8f00-1a2b3c4d5e6f', $a->getEventUuid());
        $this->assertSame('"2026-11-25T07:00:00.000000Z"', $a->getEventTimeJson());
        $this->assertSame(
            '{"event_id":1,"version":0,"uuid":"0192f0c4-8b7a-7cde-8f00-1a2b3c4d5e6f",'
                . '"time":"2026-11-25T07:00:00.000000Z","environment":"e","source":"s","fields":{"n":0}}',
            Json::event($a, 'e', 's'),
        );
    }

    public function testANewEventsTimeAndItsWireTextAgree(): void
    {
        // a new event keeps its time as wire text; the DateTimeImmutable is
        // made on first read
        $before = new \DateTimeImmutable('now');
        $events = [];
        for ($i = 0; $i < 2000; $i++) {
            $events[] = new Numbered($i);
        }
        $after = new \DateTimeImmutable('now');
        foreach ($events as $e) {
            $this->assertGreaterThanOrEqual($before, $e->getEventTime());
            $this->assertLessThanOrEqual($after, $e->getEventTime());
            $this->assertSame('UTC', $e->getEventTime()->getTimezone()->getName());
            $this->assertSame(Json::time($e->getEventTime()), $e->getEventTimeJson());
        }
    }

    public function testAForkedChildDoesNotReuseTheParentsRandomBits(): void
    {
        // Uuid draws random bits from a pool; a child that kept the
        // parent's pool would make the parent's next UUIDs
        Uuid::v7();
        $file = tempnam(sys_get_temp_dir(), 'uuid');
        $pid = pcntl_fork();
        $this->assertNotSame(-1, $pid);
        if ($pid === 0) {
            $ids = [];
            for ($i = 0; $i < 8; $i++) {
                $ids[] = substr(Uuid::v7(), -12);
            }
            file_put_contents($file, implode(',', $ids));
            posix_kill(getmypid(), SIGKILL); // leave no PHPUnit shutdown behind
        }
        $mine = [];
        for ($i = 0; $i < 8; $i++) {
            $mine[] = substr(Uuid::v7(), -12);
        }
        pcntl_waitpid($pid, $status);
        $theirs = explode(',', (string) file_get_contents($file));
        unlink($file);
        $this->assertCount(8, $theirs);
        $this->assertSame([], array_intersect($mine, $theirs));
    }

    public function testUuid7LayoutAndOrder(): void
    {
        $ms = (int) (microtime(true) * 1000);
        $ids = [];
        for ($i = 0; $i < 5000; $i++) {
            $ids[] = Uuid::v7();
        }
        $sorted = $ids;
        sort($sorted);
        $this->assertSame($sorted, $ids);
        $this->assertCount(5000, array_unique($ids));
        foreach (array_slice($ids, 0, 50) as $u) {
            $this->assertMatchesRegularExpression(
                '/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/',
                $u,
            );
        }
        // the first 48 bits are the Unix time in milliseconds
        $this->assertEqualsWithDelta($ms, hexdec(str_replace('-', '', substr($ids[0], 0, 13))), 1000);
    }
}
