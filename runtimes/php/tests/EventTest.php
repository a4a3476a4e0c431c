<?php

declare(strict_types=1);

namespace Reestr\Runtime\Tests;

use PHPUnit\Framework\TestCase;
use Reestr\Runtime\ValidationException;

final class EventTest extends TestCase
{
    /** blank(): no constructor argument, the fields unset, stamped like a new event. */
    public function testBlankMakesTheClassWithoutItsConstructorsArguments(): void
    {
        $before = microtime(true);
        $a = Required::blank();
        $b = Required::blank();
        $this->assertInstanceOf(Required::class, $a);
        $this->assertMatchesRegularExpression('/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/D', $a->getEventUuid());
        $this->assertNotSame($a->getEventUuid(), $b->getEventUuid());
        $t = (float) $a->getEventTime()->format('U.u');
        $this->assertGreaterThanOrEqual(floor($before), $t);
        $this->assertLessThanOrEqual(microtime(true) + 1, $t);
        try {
            $a->validate();
            $this->fail('a blank event passed validate()');
        } catch (ValidationException $e) {
            $this->assertSame('required v0: fields.n: missing required field', $e->getMessage());
        }
        $a->setN(3)->validate();
        $this->assertSame('{"n":3}', $a->encodeFields());
    }

    public function testTheConstructorStillRequiresTheField(): void
    {
        $this->expectException(\ArgumentCountError::class);
        new Required(); // the point: a required argument left out
    }
}
