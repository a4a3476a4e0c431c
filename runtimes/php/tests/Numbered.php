<?php

declare(strict_types=1);

namespace Reestr\Runtime\Tests;

use Reestr\Runtime\Event;

/** The contract's conformance_event: id 1, version 0, one int field n. */
final class Numbered extends Event
{
    public function __construct(public readonly int $n)
    {
        parent::__construct();
    }

    public function getEventId(): int
    {
        return 1;
    }

    public function getEventVersion(): int
    {
        return 0;
    }

    public function getEventName(): string
    {
        return 'conformance_event';
    }

    public function validate(): void
    {
    }

    public function encodeFields(): string
    {
        return '{"n":' . $this->n . '}';
    }
}
