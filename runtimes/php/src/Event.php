<?php

declare(strict_types=1);

namespace Reestr\Runtime;

/**
 * The base of every generated event: its time (when the object was made)
 * and a client-made UUIDv7, both overridable. One object is one event:
 * sending it twice sends the same UUID, which the store keeps once.
 */
abstract class Event
{
    private string $eventUuid;
    private \DateTimeImmutable $eventTime;
    /** The time's wire text, made when the time is set: send is hotter. */
    private string $eventTimeJson;

    public function __construct()
    {
        $this->eventUuid = Uuid::v7();
        $this->eventTime = new \DateTimeImmutable('now', new \DateTimeZone('UTC'));
        $this->eventTimeJson = Json::time($this->eventTime);
    }

    public function getEventUuid(): string
    {
        return $this->eventUuid;
    }

    public function setEventUuid(string $uuid): static
    {
        $this->eventUuid = strtolower($uuid);
        return $this;
    }

    public function getEventTime(): \DateTimeImmutable
    {
        return $this->eventTime;
    }

    public function setEventTime(\DateTimeInterface $t): static
    {
        $this->eventTime = \DateTimeImmutable::createFromInterface($t);
        $this->eventTimeJson = Json::time($this->eventTime);
        return $this;
    }

    /**
     * The event time as canonical JSON (for Json::event).
     */
    public function getEventTimeJson(): string
    {
        return $this->eventTimeJson;
    }

    abstract public function getEventId(): int;

    abstract public function getEventVersion(): int;

    abstract public function getEventName(): string;

    /**
     * Throws ValidationException for the first field that is missing or
     * breaks a constraint (generated per event).
     */
    abstract public function validate(): void;

    /**
     * The fields object as canonical JSON (generated per event).
     */
    abstract public function encodeFields(): string;
}
