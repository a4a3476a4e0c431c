<?php

declare(strict_types=1);

namespace Reestr\Runtime;

/**
 * One POST to the collector over PHP's own http:// stream wrapper (no
 * extension needed).
 */
final class HttpTransport
{
    private string $url;
    private string $headers = "Content-Type: application/json\r\nConnection: close\r\n";

    public function __construct(
        string $collectorUrl,
        private float $timeout,
        #[\SensitiveParameter] ?string $key = null,
    ) {
        $this->url = rtrim($collectorUrl, '/') . '/v1/events';
        if ($key !== null) {
            $this->headers .= "Authorization: Bearer $key\r\n";
        }
    }

    /**
     * @return array<string, mixed>
     */
    public function __debugInfo(): array
    {
        return ['url' => $this->url, 'timeout' => $this->timeout];
    }

    /**
     * @return array{int, string, string} status, Retry-After (or ""), body
     * @throws \RuntimeException when no answer came (network error, timeout)
     */
    public function post(string $body): array
    {
        $context = stream_context_create(['http' => [
            'method' => 'POST',
            'header' => $this->headers,
            'content' => $body,
            'timeout' => $this->timeout,
            'ignore_errors' => true, // read the body of a 4xx or 5xx too
        ]]);
        $errors = [];
        set_error_handler(function (int $no, string $message) use (&$errors): bool {
            $errors[] = $message;
            return true;
        });
        $start = microtime(true);
        try {
            $response = file_get_contents($this->url, false, $context);
        } finally {
            restore_error_handler();
        }
        $headers = $http_response_header ?? [];
        if ($response === false || $headers === [] || !preg_match('~^HTTP/\S+ (\d{3})~', $headers[0], $m)) {
            if (microtime(true) - $start >= $this->timeout) {
                // the wrapper only says "HTTP request failed!"
                throw new \RuntimeException("timeout: no answer within {$this->timeout} s");
            }
            // every warning, the first being the cause (e.g. OpenSSL's
            // "certificate verify failed" before "Failed to open stream")
            $why = $errors === [] ? 'no answer' : implode('; ', array_map(
                fn (string $e): string => preg_replace(['/^file_get_contents\([^)]*\): /', '/\s*\n\s*/'], ['', ' '], $e),
                $errors,
            ));
            throw new \RuntimeException("network error: $why");
        }
        $retryAfter = '';
        foreach ($headers as $h) {
            if (stripos($h, 'Retry-After:') === 0) {
                $retryAfter = trim(substr($h, 12));
            }
        }
        return [(int) $m[1], $retryAfter, $response];
    }
}
