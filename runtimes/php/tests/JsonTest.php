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

    public function testEveryFloatOfTheVectorsReEncodesTheSame(): void
    {
        $n = 0;
        foreach (glob(self::VECTORS . '/*.json') as $file) {
            $wire = json_decode(file_get_contents($file), true)['wire'];
            preg_match_all('/(?<=[:,\[])-?\d[\d.e+-]*(?=[,\]}])/', $wire, $m);
            foreach ($m[0] as $num) {
                if (str_contains($num, '.') || str_contains($num, 'e')) {
                    $this->assertSame($num, Json::float((float) $num), basename($file));
                    $n++;
                }
            }
        }
        $this->assertGreaterThan(5, $n);
    }

    public function testStringEscapesAsRfc8785(): void
    {
        $this->assertSame('"a\"b\\\\c"', Json::string('a"b\\c'));
        $this->assertSame('"\b\f\n\r\t"', Json::string("\x08\x0c\n\r\t"));
        $this->assertSame('"\u0000\u001f"', Json::string("\x00\x1f"));
        $this->assertSame("\"/é\u{2028}\x7f\"", Json::string("/é\u{2028}\x7f"));
        $this->assertSame("\"a\u{fffd}b\"", Json::string("a\xffb"));
    }

    public function testTimeIsUtcWithSixDigits(): void
    {
        $t = new \DateTimeImmutable('2026-11-25T13:00:00.123456+01:00');
        $this->assertSame('"2026-11-25T12:00:00.123456Z"', Json::time($t));
    }

    public function testUuid7LayoutAndOrder(): void
    {
        $ids = [];
        for ($i = 0; $i < 5000; $i++) {
            $ids[] = Uuid::v7();
        }
        $sorted = $ids;
        sort($sorted);
        $this->assertSame($sorted, $ids);
        $this->assertCount(5000, array_unique($ids));
        foreach (array_slice($ids, 0, 50) as $u) {
            $this->assertMatchesRegularExpression('/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/', $u);
        }
    }
}
