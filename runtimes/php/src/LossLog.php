<?php

declare(strict_types=1);

namespace Reestr\Runtime;

/**
 * Tells of lost events, so that no loss is silent: a warning per kind
 * (rejected, dropped) at most every INTERVAL seconds, with the count of the
 * ones not logged since the kind's last line, and the count Sender::flush()
 * and Sender::close() return. The warning goes to the logger given (any
 * object with a PSR-3 warning(string $message, array $context) method), else
 * to error_log().
 */
final class LossLog
{
    /** The least time, in seconds, between two lines of one kind. */
    public const INTERVAL = 10.0;

    /** @var array<string, float> when each kind was last logged */
    private array $last = [];
    /** @var array<string, int> losses of each kind since its last line, not logged */
    private array $suppressed = [Result::REJECTED => 0, Result::DROPPED => 0];
    private int $untaken = 0;
    private \Closure $clock;

    /**
     * @param ?\Closure(): float $clock seconds, monotonic (hrtime by default)
     */
    public function __construct(private ?object $logger = null, ?\Closure $clock = null)
    {
        $this->clock = $clock ?? static fn (): float => hrtime(true) / 1e9;
    }

    /**
     * Records the items lost for $reason; logs the first of them unless a
     * line of this kind was written less than INTERVAL ago.
     *
     * @param non-empty-list<array{string, string, string, int}> $items data, uuid, event, version
     */
    public function lost(array $items, string $outcome, string $reason): void
    {
        $now = ($this->clock)();
        $this->untaken += count($items);
        $last = $this->last[$outcome] ?? null;
        if ($last !== null && $now - $last < self::INTERVAL) {
            $this->suppressed[$outcome] += count($items);
            return;
        }
        $this->last[$outcome] = $now;
        $suppressed = $this->suppressed[$outcome];
        // the rest of these items are told on the kind's next line
        $this->suppressed[$outcome] = count($items) - 1;
        [, $uuid, $event, $version] = $items[0];
        $message = "reestr: event $outcome: $reason ($event v$version, uuid $uuid)";
        if ($suppressed > 0) {
            $message .= "; $suppressed more since the last line, not logged";
        }
        if ($this->logger !== null) {
            $this->logger->warning($message, [
                'event' => $event, 'version' => $version, 'uuid' => $uuid,
                'outcome' => $outcome, 'reason' => $reason, 'not_logged' => $suppressed,
            ]);
        } else {
            error_log($message);
        }
    }

    /**
     * The number of events lost since the last take.
     */
    public function take(): int
    {
        $n = $this->untaken;
        $this->untaken = 0;
        return $n;
    }
}
