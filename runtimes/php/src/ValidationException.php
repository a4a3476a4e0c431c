<?php

declare(strict_types=1);

namespace Reestr\Runtime;

/**
 * A field is missing or breaks a constraint of the registry. The message
 * names the event, its version and the field, as the collector would:
 * "clickstream_event v0: fields.user.email: 300 characters, more than max_length 254".
 */
final class ValidationException extends \InvalidArgumentException
{
    public function __construct(
        public readonly string $event,
        public readonly int $version,
        public readonly string $field,
        public readonly string $detail,
    ) {
        parent::__construct("$event v$version: $field: $detail");
    }

    /**
     * The JSON kind of a value of the wrong type, in the collector's words
     * ("an integer", "a string", "null"), for the generated checks' messages.
     */
    public static function kind(mixed $value): string
    {
        return match (true) {
            $value === null => 'null',
            is_bool($value) => 'a bool',
            is_int($value) => 'an integer',
            is_float($value) => 'a number',
            is_string($value) => 'a string',
            is_array($value) => array_is_list($value) ? 'an array' : 'an object',
            default => get_debug_type($value),
        };
    }
}
