<?php

declare(strict_types=1);

namespace Reestr\Runtime;

/**
 * Sends one environment's events to the collector.
 *
 * PHP has no threads, so the queue lives for the request: events are
 * posted when a batch is full, when the oldest queued event is older than
 * the batch age (checked on send), on flush() or close(), and at the end of
 * the request or script — after fastcgi_finish_request() where it exists,
 * so the user's response is not held. docs/langpacks.md ("Sending")
 * describes the behaviour, tests/conformance/ pins it.
 */
final class Sender
{
    /** @var list<array{string, string, string, int}> data, uuid, event, version */
    private array $queue = [];
    private ?float $oldest = null;
    private bool $closed = false;
    private HttpTransport $transport;
    /** @var array<string, int> */
    private array $stats = [
        'queued' => 0, 'delivered' => 0, 'rejected' => 0, 'dropped' => 0,
        'dropped_queue_full' => 0, 'retries' => 0, 'requests' => 0,
    ];

    public function __construct(private Config $config)
    {
        $this->transport = new HttpTransport($config->collectorUrl, $config->requestTimeout);
        register_shutdown_function(function (): void {
            $this->atShutdown();
        });
    }

    /**
     * Queues the event; false when it was dropped (queue full, or the sender
     * closed), which the result callback also reports.
     *
     * @throws ValidationException when the event breaks the registry's rules
     */
    public function send(Event $event): bool
    {
        $event->validate();
        $item = [
            Json::event($event, $this->config->environment, $this->config->source),
            $event->getEventUuid(), $event->getEventName(), $event->getEventVersion(),
        ];
        if ($this->closed) {
            return $this->refuse($item, 'sender closed');
        }
        if ($this->oldest !== null && microtime(true) - $this->oldest >= $this->config->batchAge) {
            $this->flush();
        }
        if (count($this->queue) >= $this->config->queueCapacity) {
            $this->stats['dropped_queue_full']++;
            return $this->refuse($item, 'queue full');
        }
        $this->queue[] = $item;
        $this->oldest ??= microtime(true);
        $this->stats['queued']++;
        if (count($this->queue) >= $this->config->batchSize) {
            $this->flush();
        }
        return true;
    }

    /**
     * Posts everything queued, in batches, and waits for the outcomes.
     */
    public function flush(): void
    {
        while ($this->queue !== []) {
            $batch = array_splice($this->queue, 0, $this->config->batchSize);
            $this->deliver($batch);
        }
        $this->oldest = null;
    }

    /**
     * Flushes, then stops: later sends are dropped ("sender closed").
     */
    public function close(): void
    {
        $this->flush();
        $this->closed = true;
    }

    /**
     * @return array<string, int> queued, delivered, rejected, dropped,
     *     dropped_queue_full, retries, requests
     */
    public function stats(): array
    {
        return $this->stats;
    }

    private function atShutdown(): void
    {
        if ($this->closed || $this->queue === []) {
            return;
        }
        if (function_exists('fastcgi_finish_request')) {
            fastcgi_finish_request();
        }
        $this->close();
    }

    /**
     * @param array{string, string, string, int} $item
     */
    private function refuse(array $item, string $reason): bool
    {
        $this->stats['dropped']++;
        $this->report([$item], Result::DROPPED, $reason);
        return false;
    }

    /**
     * @param list<array{string, string, string, int}> $batch
     */
    private function deliver(array $batch): void
    {
        $body = '{"events":[' . implode(',', array_column($batch, 0)) . ']}';
        $last = '';
        for ($attempt = 1; $attempt <= $this->config->maxAttempts; $attempt++) {
            $this->stats['requests']++;
            $retryAfter = '';
            try {
                [$status, $retryAfter, $response] = $this->transport->post($body);
                if ($status === 200) {
                    $results = self::results($response, count($batch));
                    if ($results !== null) {
                        $this->settle($batch, $results);
                        return;
                    }
                    $last = '200 with an answer that does not match the batch';
                } else {
                    $last = trim($status . ' ' . self::errorMessage($response));
                    if ($status >= 400 && $status < 500 && $status !== 408 && $status !== 429) {
                        $this->stats['dropped'] += count($batch);
                        $this->report($batch, Result::DROPPED, "collector refused the batch: $last");
                        return;
                    }
                }
            } catch (\RuntimeException $e) {
                $last = $e->getMessage();
            }
            if ($attempt === $this->config->maxAttempts) {
                break;
            }
            $delay = min($this->config->backoffMax, $this->config->backoffBase * 2 ** ($attempt - 1));
            $delay = $delay / 2 + mt_rand() / mt_getrandmax() * $delay / 2;
            if (ctype_digit($retryAfter)) {
                $delay = max($delay, min((float) $retryAfter, 60.0));
            }
            $this->stats['retries']++;
            usleep((int) ($delay * 1e6));
        }
        $this->stats['dropped'] += count($batch);
        $this->report($batch, Result::DROPPED, "gave up after {$this->config->maxAttempts} attempts: $last");
    }

    /**
     * @param list<array{string, string, string, int}> $batch
     * @param list<array<string, mixed>> $results
     */
    private function settle(array $batch, array $results): void
    {
        foreach ($batch as $i => $item) {
            $status = $results[$i]['status'] ?? null;
            if ($status === 'accepted' || $status === 'duplicate') {
                $this->stats['delivered']++;
                $this->report([$item], Result::DELIVERED, '');
            } else {
                $this->stats['rejected']++;
                $this->report([$item], Result::REJECTED, (string) ($results[$i]['error'] ?? ''));
            }
        }
    }

    /**
     * @return list<array<string, mixed>>|null
     */
    private static function results(string $response, int $n): ?array
    {
        $answer = json_decode($response, true);
        $results = is_array($answer) ? ($answer['results'] ?? null) : null;
        if (!is_array($results) || count($results) !== $n || !array_is_list($results)) {
            return null;
        }
        foreach ($results as $r) {
            if (!is_array($r)) {
                return null;
            }
        }
        return $results;
    }

    private static function errorMessage(string $response): string
    {
        $answer = json_decode($response, true);
        if (is_array($answer) && is_string($answer['error'] ?? null)) {
            return $answer['error'];
        }
        return trim(substr($response, 0, 200));
    }

    /**
     * @param list<array{string, string, string, int}> $items
     */
    private function report(array $items, string $outcome, string $reason): void
    {
        if ($this->config->onResult === null) {
            return;
        }
        foreach ($items as [$data, $uuid, $event, $version]) {
            try {
                ($this->config->onResult)(new Result($uuid, $event, $version, $outcome, $reason));
            } catch (\Throwable) {
                // a failing callback must not stop delivery
            }
        }
    }
}
