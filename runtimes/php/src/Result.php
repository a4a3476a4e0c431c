<?php

declare(strict_types=1);

namespace Reestr\Runtime;

/**
 * What became of one event: outcome is "delivered", "rejected" (with the
 * collector's reason) or "dropped" (with why it never got there).
 */
final class Result
{
    public const DELIVERED = 'delivered';
    public const REJECTED = 'rejected';
    public const DROPPED = 'dropped';

    public function __construct(
        public readonly string $uuid,
        public readonly string $event,
        public readonly int $version,
        public readonly string $outcome,
        public readonly string $reason,
    ) {
    }
}
