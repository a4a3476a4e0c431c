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
 *
 * With a local agent (Config::$agentSocket or $REESTR_AGENT_SOCKET) each
 * event is written to the agent's socket at once, without waiting; the
 * agent's answers are read as they come and at flush. An event the agent
 * took is "delivered" to it: on its disk, it forwards it. When the agent
 * cannot be reached, events go over HTTP if a collector URL is set.
 */
final class Sender
{
    /** What a body holds besides its events and the commas between them. */
    private const BATCH_OVERHEAD = 13; // strlen('{"events":[') + strlen(']}')

    /**
     * The start of the reason of events dropped because the collector
     * refused the request's key (401, or 403 for the request as a whole).
     */
    public const KEY_REFUSED = 'collector refused the key ($key or $REESTR_KEY): ';

    /** @var list<array{string, string, string, int}> data, uuid, event, version */
    private array $queue = [];
    /** The queued events' bytes, each with its comma. */
    private int $queueBytes = 0;
    private LossLog $losses;
    private ?float $oldest = null;
    private bool $closed = false;
    private HttpTransport $transport;
    private ?AgentTransport $agent = null;
    /** @var list<array{string, string, string, int}> sent to the agent, not yet answered */
    private array $awaiting = [];
    /** @var array<string, int> */
    private array $stats = [
        'queued' => 0, 'delivered' => 0, 'rejected' => 0, 'dropped' => 0,
        'dropped_queue_full' => 0, 'retries' => 0, 'requests' => 0,
    ];

    public function __construct(private Config $config)
    {
        $this->transport = new HttpTransport($config->collectorUrl, $config->requestTimeout, $config->key());
        $this->losses = new LossLog($config->logger);
        $path = $config->agentSocketPath();
        if ($path !== null) {
            $this->agent = new AgentTransport($path, $config->requestTimeout);
        }
        register_shutdown_function(function (): void {
            $this->atShutdown();
        });
    }

    /**
     * Queues the event; false when it was dropped (queue full, or the sender
     * closed) or rejected (too large for a batch of its own), which the
     * result callback also reports.
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
        $size = strlen($item[0]);
        // one sum on the hot path: would the queued batch's body, with this
        // event, pass the cap? Only then: is the event too large alone?
        $full = $this->queueBytes + $size + self::BATCH_OVERHEAD > $this->config->maxBatchBytes;
        if ($full && $size + self::BATCH_OVERHEAD > $this->config->maxBatchBytes) {
            $this->stats['rejected']++;
            $this->report([$item], Result::REJECTED, sprintf(
                'event is %d bytes encoded: a batch of it alone would be %d bytes, more than max_batch_bytes %d',
                $size,
                $size + self::BATCH_OVERHEAD,
                $this->config->maxBatchBytes,
            ));
            return false;
        }
        if ($this->agent !== null) {
            if (count($this->awaiting) >= $this->config->queueCapacity) {
                $this->settleAgent(true);
            }
            try {
                $this->agent->write($item[0]);
                $this->awaiting[] = $item;
                $this->stats['queued']++;
                if (count($this->awaiting) >= 64) {
                    $this->settleAgent(false); // keeps what waits small
                }
                return true;
            } catch (\RuntimeException $e) {
                $this->agentFailed($e);
                if ($this->config->collectorUrl === '') {
                    $this->stats['dropped']++;
                    $this->report([$item], Result::DROPPED, $e->getMessage());
                    return false;
                }
            }
        }
        if ($this->oldest !== null && microtime(true) - $this->oldest >= $this->config->batchAge) {
            $this->post();
        }
        if (count($this->queue) >= $this->config->queueCapacity) {
            $this->stats['dropped_queue_full']++;
            return $this->refuse($item, 'queue full');
        }
        if ($full && $this->queue !== []) {
            $this->post(); // full by bytes: it goes before this event joins
        }
        $this->queue[] = $item;
        $this->queueBytes += $size + 1;
        $this->oldest ??= microtime(true);
        $this->stats['queued']++;
        if (count($this->queue) >= $this->config->batchSize) {
            $this->post();
        }
        return true;
    }

    /**
     * Posts everything queued, in batches, and waits for the outcomes.
     *
     * @return int how many events finished undelivered (rejected or dropped)
     *     since the previous flush() or close(): 0 when all got there. The
     *     result callback and the log say which and why.
     */
    public function flush(): int
    {
        $this->post();
        return $this->losses->take();
    }

    /**
     * Flushes, then stops: later sends are dropped ("sender closed").
     *
     * @return int what flush() returns
     */
    public function close(): int
    {
        $this->post();
        $this->agent?->close();
        $this->agent = null;
        $this->closed = true;
        return $this->losses->take();
    }

    /**
     * @return array<string, int> queued, delivered, rejected, dropped,
     *     dropped_queue_full, retries, requests
     */
    public function stats(): array
    {
        return $this->stats;
    }

    /**
     * Reads the agent's answers to what was written (all of them, with
     * $wait) and reports each event's outcome.
     */
    private function settleAgent(bool $wait): void
    {
        if ($this->agent === null || $this->awaiting === []) {
            return;
        }
        try {
            $answers = $this->agent->answers(count($this->awaiting), $wait);
        } catch (\RuntimeException $e) {
            $this->agentFailed($e);
            return;
        }
        foreach ($answers as $answer) {
            $item = array_shift($this->awaiting);
            if ($item === null) {
                break;
            }
            if ($answer === 'ok') {
                $this->stats['delivered']++;
                $this->report([$item], Result::DELIVERED, '');
            } elseif (str_starts_with($answer, 'error spool')) {
                $this->stats['dropped']++;
                $this->report([$item], Result::DROPPED, 'agent: ' . substr($answer, 6));
            } else {
                $this->stats['rejected']++;
                $this->report([$item], Result::REJECTED, 'agent: ' . substr($answer, 6));
            }
        }
    }

    /**
     * The agent is gone: what it did not answer goes over HTTP when a
     * collector URL is set (at least once: the store keeps each event
     * once), else it is dropped with the reason.
     */
    private function agentFailed(\RuntimeException $e): void
    {
        $this->agent?->close();
        $this->agent = null;
        $unanswered = $this->awaiting;
        $this->awaiting = [];
        if ($this->config->collectorUrl !== '') {
            foreach ($unanswered as $item) {
                $this->queue[] = $item;
                $this->queueBytes += strlen($item[0]) + 1;
            }
            $this->oldest ??= microtime(true);
        } elseif ($unanswered !== []) {
            $this->stats['dropped'] += count($unanswered);
            $this->report($unanswered, Result::DROPPED, $e->getMessage());
        }
    }

    /**
     * Posts everything queued, in batches of at most batchSize events and
     * maxBatchBytes bytes, and waits for the outcomes.
     */
    private function post(): void
    {
        if ($this->agent !== null) {
            $this->settleAgent(true);
        }
        while ($this->queue !== []) {
            // the body's size so far: the overhead and the commas between events
            $size = self::BATCH_OVERHEAD - 1;
            $n = 0;
            $max = min(count($this->queue), $this->config->batchSize);
            while ($n < $max) {
                $step = strlen($this->queue[$n][0]) + 1;
                if ($n > 0 && $size + $step > $this->config->maxBatchBytes) {
                    break;
                }
                $size += $step;
                $n++;
            }
            $this->queueBytes -= $size - (self::BATCH_OVERHEAD - 1);
            $this->deliver(array_splice($this->queue, 0, $n));
        }
        $this->oldest = null;
    }

    private function atShutdown(): void
    {
        if ($this->closed || ($this->queue === [] && $this->awaiting === [])) {
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
     * Posts the batch until the collector answers it, a try fails for good
     * or maxAttempts tries failed, and reports each event. A batch refused
     * whole with 400 or 413 (something in one event breaks a collector's
     * limit) is split in halves, each delivered on its own, down to the
     * single events refused: those alone are rejected.
     *
     * @param non-empty-list<array{string, string, string, int}> $batch
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
                // a 403 answering each event (every one of a source or
                // environment the key may not write) is read as a 200: each
                // is rejected with its own reason
                $results = $status === 200 || $status === 403 ? self::results($response, count($batch)) : null;
                if ($status === 200 || $results !== null) {
                    if ($results !== null) {
                        $this->settle($batch, $results);
                        return;
                    }
                    $last = '200 with an answer that does not match the batch';
                } else {
                    $last = trim($status . ' ' . self::errorMessage($response));
                    if ($status === 400 || $status === 413) {
                        if (count($batch) > 1) {
                            $half = intdiv(count($batch), 2);
                            $this->deliver(array_slice($batch, 0, $half));
                            $this->deliver(array_slice($batch, $half));
                            return;
                        }
                        $this->stats['rejected']++;
                        $this->report($batch, Result::REJECTED, "collector refused the event: $last");
                        return;
                    }
                    if ($status === 401 || $status === 403) {
                        // the key itself is refused: so would every retry be
                        $this->stats['dropped'] += count($batch);
                        $this->report($batch, Result::DROPPED, self::KEY_REFUSED . $last);
                        return;
                    }
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

    /**
     * The text without the key, nor its secret part on its own.
     */
    private static function redact(string $text, #[\SensitiveParameter] ?string $key): string
    {
        if ($key === null || $text === '') {
            return $text;
        }
        $text = str_replace($key, '[key redacted]', $text);
        $at = strrpos($key, '_');
        $secret = $at === false ? $key : substr($key, $at + 1);
        return strlen($secret) >= 16 ? str_replace($secret, '[key redacted]', $text) : $text;
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
        $reason = self::redact($reason, $this->config->key());
        if ($outcome !== Result::DELIVERED && $items !== []) {
            $this->losses->lost($items, $outcome, $reason);
        }
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
