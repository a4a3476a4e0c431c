<?php

declare(strict_types=1);

namespace Reestr\Runtime;

/**
 * How a Sender delivers: docs/langpacks.md ("Sending") explains each
 * setting. Durations are in seconds. $maxBatchBytes caps a request's body
 * (1 MiB by default, well under the collector's 16 MiB); $logger, any object
 * with a PSR-3 warning() method, hears of lost events (error_log() when
 * none).
 *
 * $key is the collector's write key for $source (docs/security.md), sent as
 * "Authorization: Bearer KEY" with every request; null means $REESTR_KEY,
 * and with neither no key is sent (a collector run with --insecure-local).
 * A key the collector refuses (401, or 403 for the whole request) drops the
 * batch at once, not retried; an event of a source the key may not write is
 * rejected by itself (403 in its result). The key is kept private, out of
 * var_dump() and stack traces, and never appears in a result's reason or a
 * log line.
 */
final class Config
{
    private readonly ?string $key;

    public function __construct(
        public readonly string $collectorUrl,
        public readonly string $source,
        public readonly string $environment = '',
        public readonly int $batchSize = 500,
        public readonly float $batchAge = 1.0,
        public readonly int $queueCapacity = 10000,
        public readonly int $maxAttempts = 5,
        public readonly float $backoffBase = 0.1,
        public readonly float $backoffMax = 10.0,
        public readonly float $requestTimeout = 10.0,
        public readonly ?\Closure $onResult = null,
        public readonly ?string $agentSocket = null,
        public readonly int $maxBatchBytes = 1048576,
        public readonly ?object $logger = null,
        #[\SensitiveParameter] ?string $key = null,
    ) {
        if ($key === null || $key === '') {
            $env = getenv('REESTR_KEY');
            $key = is_string($env) && $env !== '' ? $env : null;
        }
        if ($key !== null && preg_match('/[\x00-\x20\x7f]/', $key)) {
            // not shown: the message must not carry the key
            throw new \InvalidArgumentException('the key ($key or $REESTR_KEY) holds a space or a control character');
        }
        $this->key = $key;
        if ($source === '' || $environment === '') {
            throw new \InvalidArgumentException('a sender needs a source and an environment');
        }
        if ($collectorUrl === '' && $this->agentSocketPath() === null) {
            throw new \InvalidArgumentException('a sender needs a collector URL or an agent socket');
        }
        if ($collectorUrl !== '' && !preg_match('~^https?://[^/]+~', $collectorUrl)) {
            throw new \InvalidArgumentException("collector URL must be http(s)://host...: $collectorUrl");
        }
        if ($batchSize < 1 || $queueCapacity < 1 || $maxAttempts < 1 || $maxBatchBytes < 1) {
            throw new \InvalidArgumentException(
                'batchSize, queueCapacity, maxAttempts and maxBatchBytes must be at least 1'
            );
        }
        if ($logger !== null && !method_exists($logger, 'warning')) {
            throw new \InvalidArgumentException(
                'logger must have a PSR-3 warning(string $message, array $context) method: ' . $logger::class
            );
        }
    }

    /**
     * The key to send, or null for none.
     */
    public function key(): ?string
    {
        return $this->key;
    }

    /**
     * What var_dump() and print_r() show: the key redacted.
     *
     * @return array<string, mixed>
     */
    public function __debugInfo(): array
    {
        $info = get_object_vars($this);
        $info['key'] = $this->key === null ? null : '[redacted]';
        return $info;
    }

    /**
     * The agent's socket: the one given, else $REESTR_AGENT_SOCKET; null
     * means events go straight to the collector over HTTP.
     */
    public function agentSocketPath(): ?string
    {
        if ($this->agentSocket !== null && $this->agentSocket !== '') {
            return $this->agentSocket;
        }
        $env = getenv('REESTR_AGENT_SOCKET');
        return is_string($env) && $env !== '' ? $env : null;
    }
}
