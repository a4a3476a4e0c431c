<?php

declare(strict_types=1);

namespace Reestr\Runtime\Tests;

use Reestr\Runtime\Event;
use Reestr\Runtime\Json;
use Reestr\Runtime\ValidationException;

/**
 * Mirrors clickstream_event v0 of examples/registry: its id, checks and encoding as
 * `reestr gen` writes them. Every constructor argument is optional here (unlike a
 * generated class, which requires the required fields), so the tests can send
 * incomplete events to the runtime.
 */
final class Clickstream extends Event
{
    public function __construct(
        public ?int $userId = null,
        public ?string $email = null,
        public float $lat = 0.0,
        public float $lon = 0.0,
        public ?string $userAgent = null,
    ) {
        parent::__construct();
    }

    public function getEventId(): int
    {
        return 100;
    }

    public function getEventVersion(): int
    {
        return 0;
    }

    public function getEventName(): string
    {
        return 'clickstream_event';
    }

    public function validate(): void
    {
        if ($this->userId === null) {
            throw new ValidationException('clickstream_event', 0, 'fields.user.id', 'missing required field');
        }
        if ($this->userAgent === null) {
            throw new ValidationException('clickstream_event', 0, 'fields.user_agent', 'missing required field');
        }
    }

    public function encodeFields(): string
    {
        $out = '{"user":{"id":' . Json::int((int) $this->userId);
        if ($this->email !== null) {
            $out .= ',"email":' . Json::string($this->email);
        }
        return $out . '},"geo":{"latitude":' . Json::float($this->lat) . ',"longitude":'
            . Json::float($this->lon) . '},"user_agent":' . Json::string((string) $this->userAgent) . '}';
    }
}
