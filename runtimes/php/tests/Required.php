<?php

declare(strict_types=1);

namespace Reestr\Runtime\Tests;

use Reestr\Runtime\Event;
use Reestr\Runtime\Json;
use Reestr\Runtime\ValidationException;

/** An event whose constructor takes a required field, as `reestr gen` writes them. */
final class Required extends Event
{
    private ?int $n = null;

    public function __construct(int $n)
    {
        parent::__construct();
        $this->n = $n;
    }

    public function setN(int $value): static
    {
        $this->n = $value;
        return $this;
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
        return 'required';
    }

    public function validate(): void
    {
        if ($this->n === null) {
            throw new ValidationException('required', 0, 'fields.n', 'missing required field');
        }
    }

    public function encodeFields(): string
    {
        return '{"n":' . Json::int((int) $this->n) . '}';
    }
}
