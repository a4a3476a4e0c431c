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
    /** Made from the wire text when first asked for (a new event has none). */
    private ?\DateTimeImmutable $eventTime = null;
    /** The time's wire text, made when the time is set: send is hotter. */
    private string $eventTimeJson;
    /**
     * The wire text of the current second, with the second it is for: the
     * events of one request mostly share their second, and making and
     * formatting a DateTimeImmutable was a third of the cost of an event.
     */
    private static int $second = -1;
    private static string $secondText = '';

    public function __construct()
    {
        $this->stamp();
    }

    /**
     * An event of this class with no field set, without its constructor's
     * required arguments: for tools that fill events generically with the
     * setters (Langpack::create). send() refuses it until its required
     * fields are set.
     */
    public static function blank(): static
    {
        $event = (new \ReflectionClass(static::class))->newInstanceWithoutConstructor();
        $event->stamp();
        return $event;
    }

    private function stamp(): void
    {
        $this->eventUuid = Uuid::v7();
        $now = gettimeofday();
        if ($now['sec'] !== self::$second) {
            self::$second = $now['sec'];
            self::$secondText = gmdate('"Y-m-d\TH:i:s.', $now['sec']);
        }
        $this->eventTimeJson = self::$secondText . sprintf('%06dZ"', $now['usec']);
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
        return $this->eventTime ??= (new \DateTimeImmutable(substr($this->eventTimeJson, 1, -1)))
            ->setTimezone(new \DateTimeZone('UTC'));
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
